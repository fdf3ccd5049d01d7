"""outbox: locale and display_name, what sending a row needs, written when it is queued

Rows queued before this revision keep NULL there and are looked up when sent.

Revision ID: 0012_outbox_send_data
Revises: 0011_candidatures_due
"""
import sqlalchemy as sa
from alembic import op


revision = '0012_outbox_send_data'
down_revision = '0011_candidatures_due'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('locale', sa.String(length=8), nullable=True))
    op.add_column('outbox', sa.Column('display_name', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('display_name')
        batch.drop_column('locale')
