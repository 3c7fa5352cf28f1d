"""Storage tokens against members' standing (StandingCheck), and a user server's renewal plan."""

from __future__ import annotations

import time

import pytest

from appliance.identity.access import Standing
from appliance.storage.errors import Unauthorized
from appliance.storage.renewal import StorageToken, expiry_of
from appliance.storage.tokens import StandingCheck, StorageClaims, StorageTokens


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def checker(standings: dict[str, Standing | None], clock: Clock) -> tuple[StandingCheck, list[str]]:
    asked: list[str] = []

    async def lookup(username: str) -> Standing | None:
        asked.append(username)
        return standings.get(username)

    return StandingCheck(lookup, cache_s=1.0, clock=clock), asked


async def test_a_token_issued_before_the_members_access_ended_is_refused_and_a_later_one_passes() -> None:
    check, _ = checker({"ada": Standing(disabled=False, access_ended_at=1000.5)}, Clock())
    with pytest.raises(Unauthorized, match="issued before ada's access ended"):
        await check.check(StorageClaims("ada", 1000.4))
    await check.check(StorageClaims("ada", 1000.6))


async def test_a_disabled_members_token_is_refused_whenever_it_was_issued() -> None:
    check, _ = checker({"bob": Standing(disabled=True, access_ended_at=None)}, Clock())
    with pytest.raises(Unauthorized, match="'bob' is disabled"):
        await check.check(StorageClaims("bob", time.time()))


async def test_a_name_without_an_account_and_a_member_never_signed_out_pass() -> None:
    check, _ = checker({"cyd": Standing(disabled=False, access_ended_at=None)}, Clock())
    await check.check(StorageClaims("cyd", 1.0))
    await check.check(StorageClaims("tool-made", 1.0))


async def test_standing_is_asked_at_most_once_a_second_per_member() -> None:
    clock = Clock()
    standings: dict[str, Standing | None] = {"ada": Standing(disabled=False, access_ended_at=None)}
    check, asked = checker(standings, clock)
    for _ in range(5):
        await check.check(StorageClaims("ada", 50.0))
    assert asked == ["ada"]
    standings["ada"] = Standing(disabled=True, access_ended_at=None)
    clock.now += 1.01
    with pytest.raises(Unauthorized):
        await check.check(StorageClaims("ada", 50.0))
    assert asked == ["ada", "ada"]


def test_tokens_carry_their_issue_time_to_the_millisecond() -> None:
    tokens = StorageTokens("k" * 32, lifetime_s=600)
    before = time.time()
    claims = tokens.decode(tokens.mint("ada"))
    assert claims.username == "ada" and before - 0.001 <= claims.issued_at <= time.time()
    issued, expires = expiry_of(tokens.mint("ada"))
    assert abs(issued - time.time()) < 1 and abs(expires - issued - 600) <= 1


def test_a_token_is_due_for_renewal_once_half_its_life_is_gone() -> None:
    clock = Clock()
    value = StorageTokens("k" * 32, lifetime_s=600).mint("ada")
    issued, _ = expiry_of(value)
    token = StorageToken(value, "http://hub/api/appliance/storage-token", "t", clock=clock)
    clock.now = issued + 299
    assert not token.due()
    clock.now = issued + 301
    assert token.due()
    assert StorageToken("not a token", clock=clock).due()  # unreadable: renewed at once
