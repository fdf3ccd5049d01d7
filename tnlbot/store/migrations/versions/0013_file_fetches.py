"""file_fetches: answers saved with a platform's handle on a file, fetched again later

Revision ID: 0013_file_fetches
Revises: 0012_outbox_send_data
"""
import sqlalchemy as sa
from alembic import op


revision = '0013_file_fetches'
down_revision = '0012_outbox_send_data'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'file_fetches',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('transport', sa.String(length=32), nullable=False),
        sa.Column('handle', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('candidature_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('chat_id', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_file_fetches')))
    op.create_index('ix_file_fetches_due', 'file_fetches', ['transport', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_file_fetches_due', table_name='file_fetches')
    op.drop_table('file_fetches')
