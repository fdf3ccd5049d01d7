"""leases: one holder at a time for a named role (the Telegram poller), taken over on expiry

Revision ID: 0007_leases
Revises: 0006_trust
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_leases'
down_revision = '0006_trust'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )


def downgrade() -> None:
    op.drop_table('leases')
