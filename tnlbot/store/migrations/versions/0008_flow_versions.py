"""flow versions: the versions a bot started with, drafts migrated across them, answers set aside

Revision ID: 0008_flow_versions
Revises: 0007_leases
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_flow_versions'
down_revision = '0007_leases'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'flow_versions',
        sa.Column('flow_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('definition', sa.Text(), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('flow_id', 'version', name=op.f('pk_flow_versions')))
    op.create_table(
        'draft_migrations',
        sa.Column('candidature_id', Id, nullable=False),
        sa.Column('to_version', sa.Integer(), nullable=False),
        sa.Column('flow_id', sa.String(length=64), nullable=False),
        sa.Column('from_version', sa.Integer(), nullable=False),
        sa.Column('migrated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('report', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['candidature_id'], ['candidatures.id'],
                                name=op.f('fk_draft_migrations_candidature_id_candidatures')),
        sa.PrimaryKeyConstraint('candidature_id', 'to_version', name=op.f('pk_draft_migrations')))
    op.create_table(
        'answers_aside',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('candidature_id', Id, nullable=False),
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('flow_id', sa.String(length=64), nullable=False),
        sa.Column('from_version', sa.Integer(), nullable=False),
        sa.Column('to_version', sa.Integer(), nullable=False),
        sa.Column('shown', sa.Text(), nullable=False),
        sa.Column('set_aside_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['candidature_id'], ['candidatures.id'],
                                name=op.f('fk_answers_aside_candidature_id_candidatures')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_answers_aside')))
    op.create_index('ix_answers_aside_candidature', 'answers_aside', ['candidature_id'])


def downgrade() -> None:
    op.drop_index('ix_answers_aside_candidature', table_name='answers_aside')
    op.drop_table('answers_aside')
    op.drop_table('draft_migrations')
    op.drop_table('flow_versions')
