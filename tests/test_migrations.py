"""A store made by an earlier version keeps its rows through the newest migrations.

A database is brought to the revisions the previous release had (the
campaign and jury branches), filled with one row in each table that
revision 0004 rebuilds or re-indexes, then upgraded: the rows are still
there, and the outbox's dedup key still refuses a duplicate.
"""
from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from tnlbot.store.migrate import config

from .conftest import fresh_pg_database

ROWS = [
    "INSERT INTO people (id, display_name, locale, created_at) VALUES (1, 'Agnès', 'fr', '2024-01-01')",
    "INSERT INTO campaigns (id, slug, year, track, flow_id, opens_at, closes_at, timezone, state, config) "
    "VALUES (1, 'tnl-2024', 2024, 'label', 'tnl-2022', '2024-01-01', '2025-01-01', 'Europe/Paris', 'open', '{}')",
    "INSERT INTO candidatures (id, campaign_id, responsible_id, status, version, amended, created_at, updated_at) "
    "VALUES (1, 1, 1, 'draft', 0, false, '2024-01-01', '2024-01-01')",
    "INSERT INTO members (candidature_id, person_id, role, volets, joined_at) VALUES (1, 1, 'responsible', '[]', '2024-01-01')",
    "INSERT INTO answers (candidature_id, key, value, answered_by, answered_at) "
    "VALUES (1, 'nom_collectivite', '\"Mairie de Testbourg\"', 1, '2024-01-01')",
    "INSERT INTO inbound_seen (transport, external_id, seen_at) VALUES ('telegram', '501', '2024-01-01')",
]
KEYED = ("INSERT INTO outbox (transport, chat_id, user_id, payload, status, attempts, not_before, txn_id, "
         "sent_ref, dedup_key, error, created_at) VALUES ('telegram', '7', '7', '{}', 'pending', 0, "
         "'2024-01-01', 't', '', 'reminder:1:1:J-7', '', '2024-01-01')")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'earlier.db'}"
        return
    with fresh_pg_database("tnlbot_migrations") as url:
        yield url


def test_an_earlier_store_keeps_its_rows_through_the_upgrade(empty_url):
    engine = create_engine(empty_url)
    cfg = config(engine)
    command.upgrade(cfg, "0002_campaigns")
    command.upgrade(cfg, "0003_jury")
    with engine.begin() as conn:
        for row in ROWS + [KEYED]:
            conn.execute(text(row))

    command.upgrade(cfg, "heads")

    with engine.begin() as conn:
        assert conn.execute(text("SELECT value FROM answers")).scalar() == '"Mairie de Testbourg"'
        assert conn.execute(text("SELECT external_id FROM inbound_seen")).scalar() == "501"
        assert conn.execute(text("SELECT person_id FROM members")).scalar() == 1
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(text(KEYED))
    with engine.begin() as conn:   # messages without a key are many
        for _ in range(2):
            conn.execute(text(KEYED.replace("'reminder:1:1:J-7'", "NULL")))
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar() == 3
    engine.dispose()


def test_the_heads_read_from_the_revision_files_are_alembics():
    """A start on a current store skips Alembic by reading the heads from the files."""
    from alembic.script import ScriptDirectory

    from tnlbot.store.migrate import shipped_heads
    assert shipped_heads() == set(ScriptDirectory.from_config(config()).get_heads())
