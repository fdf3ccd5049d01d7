"""trust: claims of a body, revocable invitation codes, wrong-code lockout, operator's élu confirmation

- `claims`: typing a SIREN makes a claim on the body; the candidature is linked
  to the body (`candidatures.organisation_id`) only once a claim is verified.
- `invitations.revoked_at`: a code can be revoked (or dies with its author's role).
- `code_failures`: wrong invitation codes per account, for the lockout.
- `elu_confirmations.by_person` becomes nullable: the operator confirms from
  the command line, as no person of the team.

Revision ID: 0006_trust
Revises: 0005_campaign_changes
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_trust'
down_revision = '0005_campaign_changes'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'claims',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('campaign_id', Id, nullable=False),
        sa.Column('candidature_id', Id, nullable=False),
        sa.Column('organisation_id', Id, nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('note', sa.String(length=200), nullable=False, server_default=''),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_claims_campaign_id_campaigns')),
        sa.ForeignKeyConstraint(['candidature_id'], ['candidatures.id'],
                                name=op.f('fk_claims_candidature_id_candidatures')),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'],
                                name=op.f('fk_claims_organisation_id_organisations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_claims')))
    op.create_index('ix_claims_body', 'claims', ['campaign_id', 'organisation_id'])
    op.create_index('ix_claims_candidature', 'claims', ['candidature_id'])
    op.create_table(
        'code_failures',
        sa.Column('transport', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('transport', 'user_id', name=op.f('pk_code_failures')))
    with op.batch_alter_table('invitations') as batch:
        batch.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('elu_confirmations') as batch:
        batch.alter_column('by_person', existing_type=Id, nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('elu_confirmations') as batch:
        batch.alter_column('by_person', existing_type=Id, nullable=False)
    with op.batch_alter_table('invitations') as batch:
        batch.drop_column('revoked_at')
    op.drop_table('code_failures')
    op.drop_index('ix_claims_candidature', table_name='claims')
    op.drop_index('ix_claims_body', table_name='claims')
    op.drop_table('claims')
