"""conversations: index on candidature_id (the team's other conversations)

Revision ID: 0010_conversations_candidature
Revises: 0009_attachments
"""
from alembic import op


revision = '0010_conversations_candidature'
down_revision = '0009_attachments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_conversations_candidature', 'conversations', ['candidature_id'])


def downgrade() -> None:
    op.drop_index('ix_conversations_candidature', table_name='conversations')
