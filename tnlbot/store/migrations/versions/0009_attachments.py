"""attachments: files kept in the database, one row per content (SHA-256)

Revision ID: 0009_attachments
Revises: 0008_flow_versions
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_attachments'
down_revision = '0008_flow_versions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'attachments',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('mime', sa.String(length=127), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_attachments')))


def downgrade() -> None:
    op.drop_table('attachments')
