"""Many accounts at once, written with SQL (as a lab that grew would have them), for People's tests and bench.

``seed_accounts`` adds ``count`` accounts named ``<prefix>000001``…: every tenth in group ``physics``, every
third never signed in (last_login_at NULL), the rest at scattered times; none can sign in (no password).
They are vacuumed at once, so what is measured is the lab after autovacuum's next run.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

SEED = text("""
    INSERT INTO identity.accounts (username, display_name, email, groups, created_at, last_login_at)
    SELECT :prefix || lpad(i::text, 6, '0'),
           (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken'])[1 + i % 8]
               || ' ' || (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen'])[1 + i % 7]
               || ' ' || i,
           :prefix || i || '@example.org',
           CASE WHEN i % 10 = 0 THEN ARRAY['physics'] ELSE '{}'::text[] END,
           now() - make_interval(mins => i),
           CASE WHEN i % 3 = 0 THEN NULL ELSE now() - make_interval(secs => (i * 7919) % 1000003) END
    FROM generate_series(1, :count) AS i
""")


def seed_accounts(engine: Engine, prefix: str, count: int) -> float:
    """Add the accounts, then vacuum and analyze them as autovacuum does within a minute of such an import;
    returns the seconds it took. Until then searches read the trigram indexes' pending lists and set the new
    rows' hint bits, and autovacuum's own run competes with them: measured right after 100,000 inserts, a
    search took p50 28 ms, 7 ms once autovacuum had run (~45 s later), 3 ms after VACUUM (docs/notes.md)."""
    started = time.monotonic()
    with engine.begin() as connection:
        connection.execute(SEED, {"prefix": prefix, "count": count})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE) identity.accounts"))
    return time.monotonic() - started


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
