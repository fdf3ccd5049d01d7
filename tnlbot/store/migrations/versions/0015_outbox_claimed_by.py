"""outbox.claimed_by: the process (host:pid) that claimed a row; leases.name widened

Revision ID: 0015_outbox_claimed_by
Revises: 0014_answers_rev

A row left `sending` is recovered once the process that claimed it is no longer
alive (its `worker:<host:pid>` lease expired, or it is gone from this host), not
by whichever process starts next. Rows claimed before this revision keep NULL
and are recovered at a start, as they were. A worker's lease is named after its
process: `leases.name` takes 160 characters (was 64).
"""
import sqlalchemy as sa
from alembic import op


revision = '0015_outbox_claimed_by'
down_revision = '0014_answers_rev'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('claimed_by', sa.String(length=128), nullable=True))
    with op.batch_alter_table('leases') as batch:
        batch.alter_column('name', existing_type=sa.String(length=64), type_=sa.String(length=160),
                           existing_nullable=False)


def downgrade() -> None:
    op.execute("DELETE FROM leases WHERE length(name) > 64")
    with op.batch_alter_table('leases') as batch:
        batch.alter_column('name', existing_type=sa.String(length=160), type_=sa.String(length=64),
                           existing_nullable=False)
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('claimed_by')
