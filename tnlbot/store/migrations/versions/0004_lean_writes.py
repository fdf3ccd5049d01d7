"""fewer pages written per answer; joins the campaigns and jury branches

- SQLite: `inbound_seen` and `answers` become WITHOUT ROWID tables, clustered on
  their primary key (one B-tree written per row instead of a table and its key
  index).
- The outbox's unique dedup key becomes a partial unique index: only scheduled
  sends carry a key, so the messages of an answer no longer write that index.
- `members(person_id)`: finding a person's candidature no longer walks every
  candidature of the campaign.

Revision ID: 0004_lean_writes
Revises: 0002_campaigns, 0003_jury
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_lean_writes'
down_revision = ('0002_campaigns', '0003_jury')
branch_labels = None
depends_on = None

_KEYED = sa.text("dedup_key IS NOT NULL")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        for table in ("inbound_seen", "answers"):
            with op.batch_alter_table(table, recreate="always",
                                      table_kwargs={"sqlite_with_rowid": False}):
                pass
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_dedup_key", type_="unique")
    op.create_index("uq_outbox_dedup_key", "outbox", ["dedup_key"], unique=True,
                    sqlite_where=_KEYED, postgresql_where=_KEYED)
    op.create_index("ix_members_person", "members", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_members_person", table_name="members")
    op.drop_index("uq_outbox_dedup_key", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.create_unique_constraint("uq_outbox_dedup_key", ["dedup_key"])
    if _sqlite():
        for table in ("inbound_seen", "answers"):
            with op.batch_alter_table(table, recreate="always",
                                      table_kwargs={"sqlite_with_rowid": True}):
                pass
