"""candidatures.next_action_at: when the scheduler reads the candidature again, indexed

Revision ID: 0011_candidatures_due
Revises: 0010_conversations_candidature

Existing rows keep NULL, which the scheduler reads as "compute it": its first
sweep after the upgrade reads every draft once and stores their instants.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_candidatures_due'
down_revision = '0010_conversations_candidature'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('candidatures', sa.Column('next_action_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_candidatures_due', 'candidatures', ['campaign_id', 'status', 'next_action_at'])


def downgrade() -> None:
    op.drop_index('ix_candidatures_due', table_name='candidatures')
    with op.batch_alter_table('candidatures') as batch:
        batch.drop_column('next_action_at')
