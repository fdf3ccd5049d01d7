"""jury: members, assessments, and submissions made immutable

Revision ID: 0003_jury
Revises: 0001
Create Date: 2026-11-29 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_jury'
down_revision = '0001'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER submissions_no_update BEFORE UPDATE ON submissions "
    "BEGIN SELECT RAISE(ABORT, 'submissions are immutable'); END",
    "CREATE TRIGGER submissions_no_delete BEFORE DELETE ON submissions "
    "BEGIN SELECT RAISE(ABORT, 'submissions are immutable'); END",
)
_PG_TRIGGERS = (
    "CREATE FUNCTION tnlbot_submissions_immutable() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'submissions are immutable'; END $$",
    "CREATE TRIGGER submissions_immutable BEFORE UPDATE OR DELETE ON submissions "
    "FOR EACH ROW EXECUTE FUNCTION tnlbot_submissions_immutable()",
)


def upgrade() -> None:
    op.create_table('jury_members',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('campaign_id', Id, nullable=False),
    sa.Column('transport', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_jury_members_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jury_members')),
    sa.UniqueConstraint('campaign_id', 'transport', 'kind', 'external_id', name='uq_jury_members_address')
    )
    op.create_index('ix_jury_members_lookup', 'jury_members', ['transport', 'external_id'], unique=False)
    op.create_table('assessments',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('candidature_id', Id, nullable=False),
    sa.Column('volet', sa.String(length=64), nullable=False),
    sa.Column('assessor', sa.String(length=300), nullable=False),
    sa.Column('assessor_name', sa.String(length=200), nullable=False),
    sa.Column('grade', sa.String(length=32), nullable=False),
    sa.Column('mention', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['candidature_id'], ['candidatures.id'], name=op.f('fk_assessments_candidature_id_candidatures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments')),
    sa.UniqueConstraint('candidature_id', 'volet', 'assessor', name='uq_assessments_candidature_volet_assessor')
    )
    for statement in (_SQLITE_TRIGGERS if op.get_bind().dialect.name == 'sqlite' else _PG_TRIGGERS):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS submissions_no_update")
        op.execute("DROP TRIGGER IF EXISTS submissions_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS submissions_immutable ON submissions")
        op.execute("DROP FUNCTION IF EXISTS tnlbot_submissions_immutable()")
    op.drop_table('assessments')
    op.drop_index('ix_jury_members_lookup', table_name='jury_members')
    op.drop_table('jury_members')
