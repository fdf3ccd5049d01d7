"""A draft across a change of its flow during an edition, as a conversation (SQLite and PostgreSQL).

The badge flow gets a version 2 while Alice's draft waits at its fifth question:
`departement` (answered) is withdrawn, so is `email_contact` (under her
cursor); the choice `commune` she picked leaves `type_collectivite`; the name
she gave no longer fits a stricter limit; `courriel_referent` is a new
required question and `siren` moved to the other volet.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import jsonschema
import pytest
import yaml
from sqlalchemy import func, select

from tnlbot.app import App, Settings
from tnlbot.jury.freeze import record_submission
from tnlbot.jury.rules import Entry, Meta, Snapshot, canonical
from tnlbot.flowbook.drafts import migrate_drafts, record_versions
from tnlbot.flowbook.yamlout import structure_yaml, texts_yaml
from tnlbot.flows import BUNDLED, load_all
from tnlbot.jury.documents import SCHEMA_PATH, dossier
from tnlbot.store import Store
from tnlbot.store import flow_tables as F
from tnlbot.store import tables as T

from ..autofill import SIREN
from ..conftest import open_campaign
from ..harness import Chat

BADGE = "tnl-2025-badge"


def _write(folder: Path, structure: dict, texts: dict) -> None:
    (folder / f"{BADGE}.yaml").write_text(structure_yaml(structure), encoding="utf-8")
    for locale, raw in texts.items():
        (folder / f"{BADGE}.{locale}.yaml").write_text(texts_yaml(structure, raw), encoding="utf-8")


def _raw() -> tuple[dict, dict]:
    structure = yaml.safe_load((BUNDLED / f"{BADGE}.yaml").read_text(encoding="utf-8"))
    texts = {lc: yaml.safe_load((BUNDLED / f"{BADGE}.{lc}.yaml").read_text(encoding="utf-8")) for lc in ("fr", "en")}
    return structure, texts


def version_two(folder: Path) -> None:
    structure, texts = _raw()
    structure["version"] = 2
    identification, badge = structure["volets"]
    questions = {q["id"]: q for q in identification["questions"]}
    questions["nom_collectivite"]["max_length"] = 10
    questions["type_collectivite"]["choices"].remove("commune")
    identification["questions"] = [questions["nom_collectivite"], questions["type_collectivite"],
                                   {"id": "courriel_referent", "kind": "email", "required": True}]
    badge["questions"].insert(0, questions["siren"])
    for locale, raw in texts.items():
        qs = raw["questions"]
        del qs["departement"], qs["email_contact"], qs["type_collectivite"]["choices"]["commune"]
        qs["courriel_referent"] = {"text": {"fr": "Quelle est l'adresse électronique du référent ?",
                                            "en": "What is the contact person's email address?"}[locale]}
    _write(folder, structure, texts)


def _app(store: Store, folder: Path, clock, catalog) -> App:
    flows = load_all(folder, catalog.locales)
    app = App(Settings(database_url=store.url, flows_dir=str(folder)), clock=clock, store=store,
              flows=flows, catalog=catalog)
    app.ensure_campaign()
    return app


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    _write(folder, *_raw())
    return folder


def _draft(chat: Chat) -> None:
    chat.say("/start")
    for text in ("Mairie de Testbourg", "1", SIREN, "34"):
        chat.say(text)


def test_a_draft_survives_a_new_version_of_its_flow(any_store, folder, clock, catalog) -> None:
    open_campaign(any_store, BADGE)
    alice = Chat(_app(any_store, folder, clock, catalog), "alice")
    _draft(alice)
    assert alice.answers() == {"nom_collectivite": "Mairie de Testbourg", "type_collectivite": "commune",
                               "siren": SIREN, "departement": "34"}
    clock.advance(days=3)
    version_two(folder)
    restarted = _app(Store(any_store.url), folder, clock, catalog)
    alice = Chat(restarted, "alice")

    told = _pending(restarted)
    assert [m.kind.value for m in told] == ["notice", "prompt"]
    assert told[0].text.splitlines() == [
        ("ℹ️ Le questionnaire « Badge Territoire Numérique Libre 2025 » a été mis à jour le 15 juin 2024, 10:00 "
        "(version 2). Ce que cela change pour votre candidature :"),
        ("• Réponse mise de côté, car la question a été retirée : « Dans quel département se trouve votre "
        "structure ? » → 34"),
        ("• Réponse à revoir, car elle ne correspond plus à la question : « Quel est le nom de votre collectivité "
        "ou de votre structure ? » → Mairie de Testbourg. Je vous repose la question."),
        "• Réponse mise de côté, car ce choix a été retiré : « De quel type de structure s'agit-il ? » → Commune",
        "• Nouvelle question obligatoire : « Quelle est l'adresse électronique du référent ? »",
        ("• Question déplacée dans le volet « Questionnaire du Badge » : « Quel est le numéro SIREN de votre "
        "structure ? »"),
        ("Vos autres réponses sont conservées. Les réponses mises de côté restent visibles dans le "
         "récapitulatif (/recap) et, après le dépôt, par le jury.")]
    assert told[1].ref == "nom_collectivite"
    assert alice.answers() == {"siren": SIREN}

    assert "10 caractères" in alice.say("Mairie de Testbourg").text        # still too long: asked again
    assert alice.say("Testbourg").ref == "type_collectivite"
    assert alice.say("1").ref == "courriel_referent"                        # EPCI, now the first choice
    assert alice.say("dsi@testbourg.fr").ref == "strategie_libre"           # siren: answered, moved, kept
    assert alice.answers() == {"nom_collectivite": "Testbourg", "type_collectivite": "epci", "siren": SIREN,
                               "courriel_referent": "dsi@testbourg.fr"}
    recap = alice.say("/recap").messages
    assert "Commune" not in recap[0].text and "→ 34" not in recap[0].text and "Testbourg" in recap[0].text
    assert recap[-1].kind.value == "prompt" and recap[-2].text.splitlines() == [
        "Réponses mises de côté lors d'une mise à jour du questionnaire (le jury les verra aussi) :",
        "• Question retirée le 15 juin 2024 : « Dans quel département se trouve votre structure ? » → 34",
        ("• Ne convenait plus le 15 juin 2024 : « Quel est le nom de votre collectivité ou de votre structure ? » "
        "→ Mairie de Testbourg"),
        "• Choix retiré le 15 juin 2024 : « De quel type de structure s'agit-il ? » → Commune"]
    with restarted.store.begin() as conn:
        aside = conn.execute(select(F.answers_aside.c.key, F.answers_aside.c.value, F.answers_aside.c.reason,
                                    F.answers_aside.c.shown).order_by(F.answers_aside.c.key)).all()
        history = conn.execute(select(func.count()).select_from(T.answer_history)
                               .where(T.answer_history.c.changed_by.is_(None))).scalar()
        report = json.loads(conn.execute(select(F.draft_migrations.c.report)).scalar())
    assert [(k, json.loads(v), r) for k, v, r, _ in aside] == [
        ("departement", "34", "withdrawn"), ("nom_collectivite", "Mairie de Testbourg", "to_check"),
        ("type_collectivite", "commune", "choice_withdrawn")]
    assert json.loads(aside[0].shown)["en"] == "“In which département is your organisation located?” → 34"
    assert history == 3
    assert report == {"withdrawn": ["departement"], "choice_withdrawn": ["type_collectivite"],
                      "to_check": ["nom_collectivite"], "added": ["courriel_referent"], "moved": ["siren"]}

    clock.advance(hours=1)
    again = _app(Store(any_store.url), folder, clock, catalog)               # a third start changes nothing
    assert _pending(again) == []
    _the_jury_reads_the_answers_set_aside(again, catalog)


def _the_jury_reads_the_answers_set_aside(app: App, catalog) -> None:
    """A version submitted after the change keeps its flow version and the answers set aside."""
    k = T.candidatures
    with app.store.begin() as conn:
        cand, person = conn.execute(select(k.c.id, k.c.responsible_id)).one()
        record_submission(conn, cand, 1, BADGE, 2, app.store.answers(conn, cand), person,
                          app.clock.now(), locale="fr")
        stored = conn.execute(select(T.submissions.c.snapshot, T.submissions.c.sha256,
                                     T.submissions.c.flow_version)).one()
    snapshot = json.loads(stored.snapshot)
    assert stored.flow_version == snapshot["flow_version"] == 2
    assert snapshot["aside"][0] == {"key": "departement", "reason": "withdrawn", "on": "2024-06-15",
                                    "shown": "« Dans quel département se trouve votre structure ? » → 34"}
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.validate(snapshot, {"$defs": schema["$defs"], "$ref": "#/$defs/snapshot"})
    entry = Entry(cand, "submitted", stored.sha256, True, Snapshot.from_json(snapshot))
    assert canonical(entry.snapshot) == stored.snapshot.encode("utf-8")        # read back as stored
    model = dossier(app.flows[BADGE], entry, Meta("badge", 2025, "2024-06-15T09:00:00Z"), catalog)
    assert ("Questionnaire (version)", "tnl-2025-badge v2") in [(f.label, f.value) for f in model.facts]
    aside = model.sections[-1]
    assert aside.title == "Réponses mises de côté par une mise à jour du questionnaire"
    assert (aside.lines[0].label, aside.lines[0].value) == (
        "Réponse à une question retirée le 2024-06-15", "« Dans quel département se trouve votre structure ? » → 34")


def _pending(app: App) -> list:
    from tnlbot.core.events import Outgoing
    o = T.outbox
    with app.store.begin() as conn:
        rows = conn.execute(select(o.c.id, o.c.payload).where(o.c.status == "pending").order_by(o.c.id)).all()
        conn.execute(o.update().where(o.c.id.in_([r.id for r in rows])).values(status="sent"))
    return [Outgoing.from_json(json.loads(r.payload)) for r in rows]


def test_two_workers_starting_on_the_new_version_migrate_each_draft_once(any_store, folder, clock,
                                                                         catalog) -> None:
    open_campaign(any_store, BADGE)
    app = _app(any_store, folder, clock, catalog)
    for name in ("alice", "bruno", "chloe", "driss", "elise"):
        _draft(Chat(app, name))
    _draft(Chat(app, "fiona", language="en"))
    clock.advance(days=1)
    version_two(folder)
    flows = load_all(folder, catalog.locales)
    stores = [Store(any_store.url) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[int] = []

    def worker(store: Store) -> None:
        start.wait()
        results.append(len(migrate_drafts(store, flows, catalog, folder, clock.now())))

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) in ([0, 6], [1, 5], [2, 4], [3, 3]) and sum(results) == 6
    with any_store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(F.draft_migrations)).scalar() == 6
        assert conn.execute(select(func.count()).select_from(F.answers_aside)).scalar() == 18
        notices = conn.execute(select(T.outbox.c.dedup_key).where(
            T.outbox.c.dedup_key.like("flowchange:%"))).scalars().all()
    assert len(notices) == len(set(notices)) == 6
    told = [m.text for m in _pending(app) if m.kind.value == "notice"]
    assert sum(t.startswith("ℹ️ Le questionnaire") for t in told) == 5
    assert sum(t.startswith("ℹ️ The questionnaire “Territoire Numérique Libre Badge 2025” was updated on "
                            "13 June 2024, 10:00") for t in told) == 1     # each in their language


def test_a_flow_changed_without_a_new_version_is_said_in_the_log(sqlite_store, folder, clock, catalog,
                                                                  caplog) -> None:
    record_versions(sqlite_store, load_all(folder, catalog.locales), folder, clock.now())
    badge = folder / f"{BADGE}.yaml"
    badge.write_text(badge.read_text(encoding="utf-8").replace("max_length: 200", "max_length: 150"), encoding="utf-8")
    with caplog.at_level("WARNING", logger="tnlbot.flowbook.drafts"):
        record_versions(sqlite_store, load_all(folder, catalog.locales), folder, clock.now())
    assert "flow tnl-2025-badge: version 1 changed since it was first used" in caplog.text
