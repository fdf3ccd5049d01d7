"""campaign_changes: the log of what operators changed in a campaign (edit, extend, reopen)

Revision ID: 0005_campaign_changes
Revises: 0004_lean_writes
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_campaign_changes'
down_revision = '0004_lean_writes'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('campaign_changes',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('campaign_id', _ID, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('command', sa.String(length=16), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('changes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'],
                            name=op.f('fk_campaign_changes_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_changes'))
    )
    op.create_index('ix_campaign_changes_campaign', 'campaign_changes', ['campaign_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_campaign_changes_campaign', table_name='campaign_changes')
    op.drop_table('campaign_changes')
