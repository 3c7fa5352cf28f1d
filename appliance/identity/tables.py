"""The identity schema. Only this component reads or writes these tables.

Secrets never stand here in clear text: sessions, codes, tokens and client secrets are stored as
SHA-256 digests of high-entropy random values, passwords as argon2id hashes.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
    func,
    text,
)

metadata = MetaData(schema="identity")

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", Uuid, nullable=False, unique=True, server_default=text("gen_random_uuid()")),
    Column("username", Text, nullable=False, unique=True),
    Column("display_name", Text, nullable=False, server_default=""),
    Column("email", Text, nullable=False, server_default=""),
    Column("groups", ARRAY(Text), nullable=False, server_default="{}"),
    Column("is_admin", Boolean, nullable=False, server_default="false"),
    Column("disabled", Boolean, nullable=False, server_default="false"),
    Column("password_hash", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_login_at", DateTime(timezone=True)),
    # the admin console's People (directory.py): a keyset index for each sort, trigrams for the search
    Index("accounts_name_keyset", "display_name", "id"),
    Index("accounts_created_keyset", "created_at", "id"),
    Index("accounts_last_login_keyset", "last_login_at", "id"),
    # one GIN index per column: the planner estimates each ILIKE well and ORs their bitmaps (one index over
    # the three columns was never chosen: a scan of 100,000 accounts instead, 100-150 ms)
    *(Index(f"accounts_search_{column}", column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})
      for column in ("username", "display_name", "email")),
)

# how many accounts each group has, kept exact by triggers on accounts (migration 0012): People's group filter
group_members = Table(
    "group_members",
    metadata,
    Column("name", Text, primary_key=True),
    Column("members", Integer, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_digest", LargeBinary, primary_key=True),
    Column("account_id", Integer, ForeignKey("identity.accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("address", Text, nullable=False, server_default=""),
    Column("user_agent", Text, nullable=False, server_default=""),
    Index("sessions_account", "account_id"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", Text, nullable=False),  # "account:<name>" or "address:<ip>"
    Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("login_failures_key_time", "key", "failed_at"),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("secret_digest", LargeBinary, nullable=False),
    Column("redirect_uris", ARRAY(Text), nullable=False),
    Column("first_party", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

codes = Table(
    "codes",
    metadata,
    Column("digest", LargeBinary, primary_key=True),
    Column("client_id", Text, ForeignKey("identity.clients.client_id", ondelete="CASCADE"), nullable=False),
    Column("account_id", Integer, ForeignKey("identity.accounts.id", ondelete="CASCADE"), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False, server_default=""),
    Column("nonce", Text),
    Column("code_challenge", Text, nullable=False),
    Column("code_challenge_method", Text, nullable=False),
    Column("auth_time", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("access_digest", LargeBinary, nullable=False, unique=True),
    Column("refresh_digest", LargeBinary, unique=True),
    Column("family", Uuid, nullable=False),  # every token descended from one authorization code
    Column("code_digest", LargeBinary),
    Column("client_id", Text, ForeignKey("identity.clients.client_id", ondelete="CASCADE"), nullable=False),
    Column("account_id", Integer, ForeignKey("identity.accounts.id", ondelete="CASCADE"), nullable=False),
    Column("scope", Text, nullable=False, server_default=""),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("access_expires_at", DateTime(timezone=True), nullable=False),
    Column("refresh_expires_at", DateTime(timezone=True)),
    Column("rotated_at", DateTime(timezone=True)),  # its refresh token was used: it must never be used again
    Column("revoked_at", DateTime(timezone=True)),
    Index("tokens_family", "family"),
    Index("tokens_code", "code_digest"),
)

# When a member's access ended (a sign-out, a password change, a disable): the hubs sign them out of
# everything they hold, and storage tokens issued before the newest ending are refused. ``id`` is the
# cursor the hubs read from, through discovery's heartbeat.
access_endings = Table(
    "access_endings",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("account_id", Integer, ForeignKey("identity.accounts.id", ondelete="CASCADE"), nullable=False),
    Column("reason", Text, nullable=False),  # sign-out, password or disabled
    Column("ended_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("access_endings_account_time", "account_id", "ended_at"),
)

# Admin tokens for scripts calling /api/admin/v1 (``Authorization: Bearer apat_…``). ``scope`` is "read"
# (GET only) or "write"; a token works only while its owner is an enabled admin (admin_tokens.py).
admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest", LargeBinary, nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("identity.accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True)),  # None: until revoked
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Index("admin_tokens_account", "account_id"),
)

# One-time sign-up links: an admin creates an account without a password and hands its owner the link,
# which sets the password once (invitations.py).
invitations = Table(
    "invitations",
    metadata,
    Column("digest", LargeBinary, primary_key=True),
    Column("account_id", Integer, ForeignKey("identity.accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Index("invitations_account", "account_id"),
)
