"""candidatures.answers_rev: bumped by a trigger on every write of one of its answers

Revision ID: 0014_answers_rev
Revises: 0013_file_fetches

A process keeps a copy of the answers of the candidatures it serves and checks it
against this version, read with the conversation under the candidature's lock; the
triggers bump it whoever writes an answer (the hot path, imports, purges, a person
at the database's console), so a copy is never taken for current after a change.
Existing rows start at 0.
"""
import sqlalchemy as sa
from alembic import op

from tnlbot.store.tables import ANSWERS_REV_TRIGGERS

revision = '0014_answers_rev'
down_revision = '0013_file_fetches'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('candidatures', sa.Column('answers_rev', sa.BigInteger(), nullable=False,
                                            server_default=sa.text('0')))
    for statement in ANSWERS_REV_TRIGGERS.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS answers_rev ON answers')
        op.execute('DROP FUNCTION IF EXISTS answers_rev_bump()')
    else:
        for event in ('insert', 'update', 'delete'):
            op.execute(f'DROP TRIGGER IF EXISTS answers_rev_{event}')
    with op.batch_alter_table('candidatures') as batch:
        batch.drop_column('answers_rev')
