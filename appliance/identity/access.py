"""Ending a member's access, and telling the rest of the appliance that it ended.

A sign-out, a password change and a disable each end access in one transaction: sessions end, every
OAuth token of the account (access and refresh) is revoked, and a row in ``access_endings`` records
it. A notification on ENDINGS_CHANNEL (PostgreSQL's NOTIFY, sent as the transaction commits) tells the
hubs, which listen on their heartbeats' connection: they read the rows through discovery (``since``) and
sign the member out of the hub and their JupyterLab. The storage asks a member's ``standing`` and refuses
storage tokens issued before the newest ending.

A sign-out ends that browser's session only, but revokes all the member's OAuth tokens: the hubs
sign a member out as a whole (they know members, not portal sessions), so tokens kept for another
browser would outlive the hub sign-out they were issued for; that browser's portal session still
stands, and its hubs sign it in again without a question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text, update
from starlette.concurrency import run_in_threadpool

from appliance.identity.tables import access_endings, accounts, sessions, tokens

REASONS = ("sign-out", "password", "disabled")
MAX_BATCH = 500  # endings handed to a hub per call; it asks again for the rest
ENDINGS_CHANNEL = "identity_access_endings"  # notified as each ending commits


@dataclass(frozen=True)
class AccessEnding:
    id: int
    username: str
    reason: str
    ended_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "reason": self.reason,
                "ended_at": self.ended_at.isoformat()}


@dataclass(frozen=True)
class Standing:
    """A member's current state, as the storage checks a token against it."""

    disabled: bool
    access_ended_at: float | None  # the newest ending, in seconds since the epoch; None if never


def end_access(connection: Connection, account_id: int, reason: str, *, session: bytes | None = None,
               keep_session: bytes | None = None) -> None:
    """End the account's sessions (only ``session`` when given; all but ``keep_session`` otherwise),
    revoke every OAuth token of the account and record the ending, in the caller's transaction."""
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    ended = sessions.c.account_id == account_id
    if session is not None:
        ended &= sessions.c.id_digest == session
    elif keep_session is not None:
        ended &= sessions.c.id_digest != keep_session
    connection.execute(sessions.delete().where(ended))
    connection.execute(update(tokens).where(tokens.c.account_id == account_id, tokens.c.revoked_at.is_(None))
                       .values(revoked_at=func.now()))
    # Endings commit in the order of their ids (the lock is held to commit), so a reader that has seen
    # id N has seen every ending before it: the hubs' cursor never skips one.
    connection.execute(text("LOCK TABLE identity.access_endings IN SHARE ROW EXCLUSIVE MODE"))
    connection.execute(access_endings.insert().values(account_id=account_id, reason=reason))
    connection.execute(text(f'NOTIFY "{ENDINGS_CHANNEL}"'))


class AccessEndings:
    """The endings as the hubs (through discovery) and the storage read them."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def sign_out(self, session_digest: bytes) -> None:
        """End one portal session and, with it, the member's hub sign-ins and OAuth tokens."""
        with self.engine.begin() as connection:
            account_id = connection.execute(select(sessions.c.account_id)
                                            .where(sessions.c.id_digest == session_digest)).scalar()
            if account_id is not None:
                end_access(connection, account_id, "sign-out", session=session_digest)

    def sign_out_everywhere(self, account_id: int) -> None:
        """End every portal session of the account (an admin's "sign out everywhere"), as a sign-out does."""
        with self.engine.begin() as connection:
            end_access(connection, account_id, "sign-out")

    def endings_since(self, cursor: int, limit: int = MAX_BATCH) -> tuple[list[AccessEnding], int]:
        """The endings after ``cursor``, oldest first, and the cursor to ask from next time."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(access_endings.c.id, accounts.c.username, access_endings.c.reason, access_endings.c.ended_at)
                .join(accounts, accounts.c.id == access_endings.c.account_id)
                .where(access_endings.c.id > cursor).order_by(access_endings.c.id).limit(limit)).all()
        found = [AccessEnding(id=row.id, username=row.username, reason=row.reason, ended_at=row.ended_at)
                 for row in rows]
        return found, (found[-1].id if found else cursor)

    def cursor_before(self, age_s: float | None) -> int:
        """The cursor of the last ending older than ``age_s`` seconds (None: the newest ending): a hub
        registering again reads on from where it last heard."""
        query = select(func.coalesce(func.max(access_endings.c.id), 0))
        if age_s is not None:
            query = query.where(access_endings.c.ended_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, age_s))
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def standing(self, username: str) -> Standing | None:
        """Whether the member is disabled and when their access last ended; None for no such account."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(accounts.c.disabled, func.max(access_endings.c.ended_at).label("ended_at"))
                .select_from(accounts.outerjoin(access_endings, access_endings.c.account_id == accounts.c.id))
                .where(accounts.c.username == username).group_by(accounts.c.id)).first()
        if row is None:
            return None
        return Standing(disabled=row.disabled, access_ended_at=row.ended_at.timestamp() if row.ended_at else None)

    # ----- the same, for the portal's event loop -------------------------------------------------------

    async def since(self, cursor: int) -> tuple[list[dict[str, Any]], int]:
        found, next_cursor = await run_in_threadpool(self.endings_since, cursor)
        return [ending.to_json() for ending in found], next_cursor

    async def cursor_at(self, age_s: float | None) -> int:
        return await run_in_threadpool(self.cursor_before, age_s)

    async def standing_of(self, username: str) -> Standing | None:
        return await run_in_threadpool(self.standing, username)
