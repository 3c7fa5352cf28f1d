"""identity: how many accounts each group has, kept by triggers on identity.accounts (People's group filter).

Counting them from the accounts reads every account (~60 ms at 100,000); this table is kept exact by
every statement that inserts, updates, deletes or truncates accounts, whoever runs it (the portal, the
command line, an import), so People reads it without a cache that could be behind an admin's change.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None
backwards_compatible = True  # the previous release runs on the schema after it (it only adds)

# Each statement's changed rows (transition tables) as +1 per group of a new row and -1 per group of an
# old one, summed per group and applied in name order (two statements lock the counts in one order, never
# in a deadlock); a count that reaches 0 is removed. An UPDATE counts only rows whose groups changed.
COUNT = """
CREATE FUNCTION identity.count_group_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM identity.group_members;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO identity.group_members AS kept (name, members)
        SELECT name, count(*) FROM new_rows, unnest(new_rows.groups) AS name GROUP BY name ORDER BY name
        ON CONFLICT (name) DO UPDATE SET members = kept.members + excluded.members;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO identity.group_members AS kept (name, members)
        SELECT name, -count(*) FROM old_rows, unnest(old_rows.groups) AS name GROUP BY name ORDER BY name
        ON CONFLICT (name) DO UPDATE SET members = kept.members + excluded.members;
    ELSE
        INSERT INTO identity.group_members AS kept (name, members)
        SELECT name, sum(change) FROM (
            SELECT unnest(n.groups) AS name, 1 AS change FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.groups IS DISTINCT FROM o.groups
            UNION ALL
            SELECT unnest(o.groups), -1 FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.groups IS DISTINCT FROM o.groups) AS changes
        GROUP BY name HAVING sum(change) <> 0 ORDER BY name
        ON CONFLICT (name) DO UPDATE SET members = kept.members + excluded.members;
    END IF;
    DELETE FROM identity.group_members WHERE members = 0;
    RETURN NULL;
END
$$
"""
TRIGGERS = {
    "accounts_group_members_insert": "AFTER INSERT ON identity.accounts REFERENCING NEW TABLE AS new_rows",
    "accounts_group_members_update": "AFTER UPDATE ON identity.accounts REFERENCING OLD TABLE AS old_rows "
                                     "NEW TABLE AS new_rows",
    "accounts_group_members_delete": "AFTER DELETE ON identity.accounts REFERENCING OLD TABLE AS old_rows",
    "accounts_group_members_truncate": "AFTER TRUNCATE ON identity.accounts",
}


def upgrade() -> None:
    op.create_table(
        "group_members",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        schema="identity",
    )
    op.execute("LOCK TABLE identity.accounts IN SHARE MODE")  # no account changes between the count and the triggers
    op.execute("INSERT INTO identity.group_members (name, members) SELECT name, count(*) FROM identity.accounts, "
               "unnest(groups) AS name GROUP BY name")
    op.execute(COUNT)
    for name, when in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION identity.count_group_members()")


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON identity.accounts")
    op.execute("DROP FUNCTION identity.count_group_members()")
    op.drop_table("group_members", schema="identity")
