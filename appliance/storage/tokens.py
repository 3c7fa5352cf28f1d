"""Storage tokens: signed by the appliance, naming one member, short-lived, revocable.

A token is an HS256 JWT with the audience "appliance-storage". The user server holds it (the
member's own code can read it), and it reaches that member's namespace and nothing else. It lives
minutes (``storage.token_lifetime_s``): the user server renews it from its hub, which stops renewing
once the member's access ends. Its issue time (``iat_ms``, in milliseconds: ``iat`` must be a whole
number of seconds, too coarse to tell a token from an ending in the same second) is checked against
the member's current state on every call (``StandingCheck``): a token issued before the member's
access last ended, or of a disabled member, is refused at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jwt import JWTClaimsRegistry

from appliance.storage.errors import Unauthorized

AUDIENCE = "appliance-storage"
STANDING_CACHE_S = 1.0  # how stale a member's standing may be: an ending reaches the storage within this


@dataclass(frozen=True)
class StorageClaims:
    username: str
    issued_at: float  # seconds since the epoch


class StorageTokens:
    def __init__(self, secret: str, lifetime_s: int):
        self._key = OctKey.import_key(secret.encode())
        self.lifetime_s = lifetime_s
        self._claims = JWTClaimsRegistry(aud={"essential": True, "value": AUDIENCE}, sub={"essential": True},
                                         exp={"essential": True}, iat={"essential": True})

    def mint(self, username: str, lifetime_s: int | None = None) -> str:
        now = time.time()
        claims = {"sub": username, "aud": AUDIENCE, "iat": int(now), "iat_ms": int(now * 1000),
                  "exp": int(now) + (lifetime_s or self.lifetime_s)}
        return jwt.encode({"alg": "HS256"}, claims, self._key, algorithms=["HS256"])

    def decode(self, token: str) -> StorageClaims:
        """The token's member and issue time; Unauthorized if it is forged, expired or not a storage token."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=["HS256"])
            self._claims.validate(decoded.claims)
            issued_ms = decoded.claims.get("iat_ms", 1000 * decoded.claims["iat"])
            claims = StorageClaims(str(decoded.claims["sub"]), int(issued_ms) / 1000)
        except (JoseError, ValueError, TypeError) as exc:
            raise Unauthorized(f"the storage token is not valid ({type(exc).__name__}); "
                               "restart your server from the hub to get a new one.") from None
        return claims

    def verify(self, token: str) -> str:
        """The member the token names (see ``decode``)."""
        return self.decode(token).username


class MemberStanding(Protocol):
    """A member's current state (identity's Standing)."""

    @property
    def disabled(self) -> bool: ...

    @property
    def access_ended_at(self) -> float | None: ...  # seconds since the epoch; None if it never ended


StandingLookup = Callable[[str], Awaitable[MemberStanding | None]]


class StandingCheck:
    """Refuses a token of a disabled member, or one issued before the member's access last ended.

    Each member's standing is asked of identity at most once per ``cache_s`` (saves stay fast). A name
    with no account (tokens the operator minted with `appliance storage token`) has no standing to lose."""

    MAX_CACHED = 10_000

    def __init__(self, lookup: StandingLookup, cache_s: float = STANDING_CACHE_S,
                 clock: Callable[[], float] = time.monotonic):
        self.lookup = lookup
        self.cache_s = cache_s
        self.clock = clock
        self._cache: dict[str, tuple[float, MemberStanding | None]] = {}

    async def check(self, claims: StorageClaims) -> None:
        standing = await self._standing(claims.username)
        if standing is None:
            return
        if standing.disabled:
            raise Unauthorized(f"the storage token was refused: the account {claims.username!r} is disabled. "
                               "An administrator can enable it again (`appliance users enable`).")
        if standing.access_ended_at is not None and claims.issued_at < standing.access_ended_at:
            raise Unauthorized(f"the storage token was refused: it was issued before {claims.username}'s access "
                               "ended (a sign-out or password change). Sign in again; the server gets a new "
                               "token from its hub.")

    async def _standing(self, username: str) -> MemberStanding | None:
        now = self.clock()
        cached = self._cache.get(username)
        if cached is not None and cached[0] > now:
            return cached[1]
        standing = await self.lookup(username)
        if len(self._cache) >= self.MAX_CACHED:
            self._cache = {name: entry for name, entry in self._cache.items() if entry[0] > now}
        self._cache[username] = (now + self.cache_s, standing)
        return standing
