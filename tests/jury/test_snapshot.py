"""Submissions are frozen snapshots: canonical JSON, SHA-256, versions, immutability."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tnlbot.jury.freeze import record_submission
from tnlbot.jury.rules import (Snapshot, canonical, diff, digest, intact, key_order, neutralise,
                              split_key)
from tnlbot.jury import queries as Q
from tnlbot.jury.exports import entries
from tnlbot.store import tables as T

from ..conftest import START
from .builders import Plan
from .conftest import build


def stored(store, candidature_id):
    s = T.submissions
    with store.begin() as conn:
        return conn.execute(select(s).where(s.c.candidature_id == candidature_id).order_by(s.c.version)).all()


def test_a_submission_freezes_answers_texts_people_and_instants(badge, flows):
    alice = badge.ids["alice"]
    [row] = stored(badge.store, alice)
    raw = json.loads(row.snapshot)
    assert row.sha256 == hashlib.sha256(row.snapshot.encode("utf-8")).hexdigest()
    assert canonical(raw).decode("utf-8") == row.snapshot          # stored in canonical form
    assert raw["format"] == "tnlbot.submission/1" and raw["version"] == 1
    assert raw["flow"] == "tnl-2025-badge" and raw["flow_version"] == flows["tnl-2025-badge"].version
    assert raw["answers"]["nom_collectivite"] == "Ville d'Alice"
    assert raw["texts"]["questions"]["nom_collectivite"]["text"].startswith("Quel est le nom")
    assert raw["texts"]["questions"]["strategie_libre"]["choices"]["deliberee"]
    assert raw["submitted_by"] == raw["confirmed_by"] == row.submitted_by
    assert raw["contributors"] == [row.submitted_by]
    assert raw["submitted_at"] == "2024-06-12T08:00:00Z"
    assert raw["started_at"] <= raw["last_change_at"] <= raw["submitted_at"]
    assert "alice" not in row.snapshot          # people by id only: erasure never touches it


def test_a_submission_through_the_bot_keeps_repeat_items_and_other_answers(sample):
    [row] = stored(sample.store, sample.ids["syndicat"])
    raw = json.loads(row.snapshot)
    answers, questions = raw["answers"], raw["texts"]["questions"]
    assert intact(row.snapshot, row.sha256)
    assert answers["structures_mutualisation"] == 2
    assert answers["structures_mutualisation[1].structure_role"] == "autre"
    assert answers["structures_mutualisation[1].structure_role.other"] == "+Membre observateur"
    assert answers["type_collectivite.other"] == "Syndicat mixte ouvert"
    assert answers["volet:bonnes_pratiques"] is False
    assert questions["structure_role"]["other"] == "Précisez votre rôle :"
    assert questions["structures_mutualisation"]["item"] == "structure"
    assert answers["deliberation"]["name"] == "deliberation.pdf"
    assert "formats_ouverts_defaut" not in questions        # only the texts of what was answered


def test_the_texts_are_kept_as_asked_in_the_applicants_language(any_store, flows, catalog, clock):
    sample = build(any_store, flows, catalog, clock, "tnl-2025-badge", {})
    from ..harness import Chat
    from .builders import fill
    chat = Chat(sample.app, "jane", language="en")
    fill(chat, flows["tnl-2025-badge"], Plan(answers={"nom_collectivite": "Janeville"}), submit=False)
    assert chat.say("/submit").ref == "confirm"
    reply = chat.say("yes")
    assert "submitted" in reply.text.lower()
    [row] = stored(any_store, _candidature(any_store))
    raw = json.loads(row.snapshot)
    assert raw["locale"] == "en"
    assert raw["texts"]["questions"]["nom_collectivite"]["text"].startswith("What is the name")


def _candidature(store):
    with store.begin() as conn:
        return conn.execute(select(T.candidatures.c.id).order_by(T.candidatures.c.id.desc())).scalar()


def test_an_amendment_makes_a_new_version_and_keeps_the_first(badge):
    chat = badge.chats["alice"]
    chat.say("/modifier 1")
    assert "Réponse actuelle : Ville d'Alice" in chat.say("/modifier 1")
    chat.say("Ville d'Alice-sur-Libre")
    assert chat.say("/deposer").ref == "confirm"
    assert "version 2" in chat.say("oui")
    first, second = stored(badge.store, badge.ids["alice"])
    assert (first.version, second.version) == (1, 2)
    assert json.loads(first.snapshot)["answers"]["nom_collectivite"] == "Ville d'Alice"
    assert json.loads(second.snapshot)["answers"]["nom_collectivite"] == "Ville d'Alice-sur-Libre"
    assert intact(first.snapshot, first.sha256) and intact(second.snapshot, second.sha256)
    flow = badge.app.flows["tnl-2025-badge"]
    changes = diff(flow, json.loads(first.snapshot)["answers"], json.loads(second.snapshot)["answers"])
    assert [(c.key, c.before, c.after) for c in changes] == [
        ("nom_collectivite", "Ville d'Alice", "Ville d'Alice-sur-Libre")]


@pytest.mark.parametrize("statement", ["UPDATE submissions SET snapshot = '{}'",
                                       "UPDATE submissions SET sha256 = 'x'",
                                       "DELETE FROM submissions"])
def test_the_database_refuses_to_change_a_submission(badge, statement):
    before = stored(badge.store, badge.ids["bob"])
    with pytest.raises(DBAPIError, match="immutable"):
        with badge.store.begin() as conn:
            conn.execute(text(statement))
    assert stored(badge.store, badge.ids["bob"]) == before


def test_the_jury_sees_the_last_version_submitted_before_the_closing(badge, flows):
    with badge.store.begin() as conn:
        campaign = Q.campaign_by_id(conn, badge.campaign_id)
        late = campaign.closes_at + timedelta(minutes=1)
        record_submission(conn, badge.ids["bob"], 2, "tnl-2025-badge", 1,
                          {"nom_collectivite": "Trop tard"}, 1, late)
        found = {e.candidature: e for e in entries(conn, campaign, "fr")}
    bob = found[badge.ids["bob"]]
    assert bob.snapshot.version == 1 and bob.name == "Bourg de Bob" and bob.intact
    assert [v.version for v in bob.versions] == [1]


def test_a_changed_snapshot_no_longer_matches_its_hash():
    snapshot = Snapshot(1, 1, "tnl-2022", 1, {"nom_collectivite": "Testbourg", "population": 1200})
    data = canonical(snapshot)
    sha = digest(data)
    assert intact(data.decode(), sha)
    assert not intact(data.decode().replace("1200", "1201"), sha)
    assert Snapshot.from_json(json.loads(data)) == snapshot


def test_canonical_json_does_not_depend_on_the_order_of_answers():
    one = Snapshot(1, 1, "f", 1, {"b": 1, "a": [2, "é"]})
    two = Snapshot(1, 1, "f", 1, {"a": [2, "é"], "b": 1})
    assert canonical(one) == canonical(two)
    assert "é".encode() in canonical(one) and b" " not in canonical(one)


def test_answer_keys_are_split_and_ordered_like_the_flow(flows):
    assert split_key("structures_mutualisation[2].structure_role.other") == (
        "structure_role", "structures_mutualisation", 2, True)
    assert split_key("type_collectivite.other") == ("type_collectivite", "", -1, True)
    keys = ["structures_mutualisation[1].structure_nom", "volet:strategie", "nom_collectivite",
            "structures_mutualisation[0].structure_role.other", "structures_mutualisation",
            "structures_mutualisation[0].structure_role", "type_collectivite.other", "type_collectivite"]
    assert sorted(keys, key=key_order(flows["tnl-2022"])) == [
        "nom_collectivite", "type_collectivite", "type_collectivite.other", "volet:strategie",
        "structures_mutualisation", "structures_mutualisation[0].structure_role",
        "structures_mutualisation[0].structure_role.other", "structures_mutualisation[1].structure_nom"]


@pytest.mark.parametrize("cell, shown", [
    ("=1+2", "'=1+2"), ("+33123456789", "'+33123456789"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"), ("\r=1", "'\r=1"), ("-12", "-12"), ("3,5", "3,5"), ("Ville", "Ville"), ("", ""),
    ("a=1", "a=1")])
def test_formula_like_cells_are_neutralised(cell, shown):
    assert neutralise(cell) == shown


def test_submission_time_is_the_clock_of_the_event(badge):
    [row] = stored(badge.store, badge.ids["bob"])
    assert row.submitted_at == START + timedelta(minutes=10)
