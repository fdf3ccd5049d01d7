"""/oublier erases: no stored row links the person to a platform id or a name, the team
keeps a responsible, and the reply says what stays and why (SQLite and PostgreSQL)."""
from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import pytest
from sqlalchemy import String, Text, select

from tnlbot.core.events import FileRef, Inbound, InboundKind
from tnlbot.store import tables as T
from tnlbot.store.fetches import record

from .conftest import JURY, Agent, identify, siren
from .test_teams import code_in

_updates = itertools.count(500)

# Every column that can hold a platform id or a person's name (or their contact, as an answer).
PERSONAL = {
    ("people", "display_name"), ("accounts", "external_id"), ("accounts", "chat_id"),
    ("conversations", "chat_id"), ("conversations", "user_id"), ("conversations", "state"),
    ("inbound_seen", "external_id"), ("outbox", "chat_id"), ("outbox", "user_id"),
    ("outbox", "payload"), ("outbox", "display_name"), ("answers", "value"), ("answer_history", "old_value"),
    ("answer_history", "new_value"), ("submissions", "snapshot"), ("jury_members", "external_id"),
    ("jury_members", "display_name"), ("assessments", "assessor"), ("assessments", "assessor_name"),
    ("assessments", "comment"), ("elu_confirmations", "elu_name"), ("code_failures", "user_id"),
    ("organisations", "name"), ("campaigns", "config"), ("checkpoints", "value"),
    ("closings", "summary"), ("campaign_changes", "by"), ("campaign_changes", "changes"),
    ("claims", "note"), ("answers_aside", "value"), ("answers_aside", "shown"),
    ("draft_migrations", "report"), ("file_fetches", "chat_id"), ("file_fetches", "user_id"),
    ("file_fetches", "name"), ("file_fetches", "handle"),
}


def text_columns() -> set[tuple[str, str]]:
    return {(t.name, c.name) for t in T.metadata.sorted_tables for c in t.columns
            if isinstance(c.type, (String, Text))}


class TelegramAgent(Agent):
    """A Telegram person: numeric ids, a real name, delivery ids as the transport makes them."""

    def __init__(self, app, user: str, name: str):
        super().__init__(app, user, chat=user, transport="telegram")
        self.name = name

    def _base(self, external_id: str = "") -> dict:
        return {**super()._base(f"{next(_updates)}:{self.chat}/{next(_updates)}"), "display_name": self.name}


@pytest.fixture
def team(build, any_store, clock):
    now = clock.now()
    app = build(any_store, opens=now - timedelta(days=1), closes=now + timedelta(days=120),
                config={"jury": JURY, "elu_confirmation": True})
    alice = TelegramAgent(app, "777001", "Alice Martin")
    bob = TelegramAgent(app, "777002", "Bob Durand")
    identify(alice, siren(73282932), referent_nom="Alice Martin", referent_email="alice.martin@testbourg.fr",
             referent_telephone="04 67 11 22 33")
    bob.say(f"/rejoindre {code_in(alice.say('/inviter'))}")
    alice.say("/assigner 2 1")                  # bob is told, by name, who assigned him
    alice.say("/rejoindre ZZZZ-ZZZZ")           # a wrong code is counted against her account
    with app.store.begin() as conn:             # a file of hers the platform has not handed over yet
        record(conn, "telegram", FileRef("Alice Martin - deliberation.pdf", "application/pdf", 1000,
                                         "777001-file-handle"), 1, "deliberation", "777001", "777001", now)
    return app, alice, bob


def test_every_column_that_can_name_a_person_is_listed():
    """A new text column must be classified here (and erased by /oublier if it can name someone)."""
    unlisted = text_columns() - PERSONAL - NO_PERSON
    assert not unlisted, f"classify these columns: {sorted(unlisted)}"


NO_PERSON = {
    ("campaigns", "slug"), ("campaigns", "track"), ("campaigns", "flow_id"), ("campaigns", "timezone"),
    ("campaigns", "state"), ("organisations", "siren"), ("organisations", "kind"),
    ("organisations", "departement"), ("people", "locale"), ("accounts", "transport"),
    ("candidatures", "status"), ("members", "role"), ("members", "volets"), ("answers", "key"),
    ("answer_history", "key"), ("conversations", "transport"), ("inbound_seen", "transport"),
    ("outbox", "transport"), ("outbox", "status"), ("outbox", "txn_id"), ("outbox", "sent_ref"),
    ("outbox", "dedup_key"), ("outbox", "error"), ("outbox", "locale"), ("outbox", "claimed_by"),
    ("checkpoints", "name"), ("submissions", "flow_id"),
    ("submissions", "sha256"), ("invitations", "code"), ("invitations", "role"),
    ("elu_confirmations", "method"), ("answer_checks", "key"), ("reminder_log", "slot"),
    ("reminder_log", "reason"), ("closings", "worker"), ("jury_members", "transport"),
    ("jury_members", "kind"), ("assessments", "volet"), ("assessments", "grade"),
    ("assessments", "mention"), ("claims", "status"), ("code_failures", "transport"),
    ("campaign_changes", "command"), ("answers_aside", "flow_id"), ("answers_aside", "key"),
    ("answers_aside", "reason"), ("draft_migrations", "flow_id"), ("flow_versions", "definition"),
    ("flow_versions", "flow_id"), ("leases", "holder"), ("leases", "name"),
    # a stored file's hash and the type read from its content; the content is the body's document
    ("attachments", "sha256"), ("attachments", "mime"), ("attachments", "kind"),
    ("file_fetches", "transport"), ("file_fetches", "key"),
}


def test_forgetting_the_responsible_erases_them_and_hands_the_team_over(team):
    app, alice, bob = team
    bob.inbox()
    traces = ("777001", "Alice Martin", "alice.martin@testbourg.fr", "04 67 11 22 33")
    handled = app.dispatcher.handle(Inbound("telegram", f"{next(_updates)}:777001/{next(_updates)}", "777001",
                                            "777001", InboundKind.COMMAND, text="confirmer", command="oublier"))
    [reply] = [r for r in app.store.outbox_items(handled.outbox_ids) if r.chat_id == "777001"]
    assert "vos identifiants de messagerie, vos conversations avec le bot et les messages échangés sont effacés" \
        in reply.item.text
    assert "les réponses que vous avez données au nom de votre collectivité" in reply.item.text
    assert "La responsabilité de votre candidature d'équipe passe" in reply.item.text
    asyncio.run(app.relay.flush("telegram"))            # the reply leaves, then is forgotten
    assert [row.item.text for _, row in app.transports["telegram"].sent if row.chat_id == "777001"] \
        == [reply.item.text]
    found = []
    with app.store.begin() as conn:
        for table, column in sorted(PERSONAL):
            t = T.metadata.tables[table]
            for value in conn.execute(select(t.c[column])).scalars():
                found += [(table, column, trace) for trace in traces if value and trace in str(value)]
    assert found == []
    # the team goes on: bob is responsible, told so, and can invite
    bob.seen = 0      # delivered rows were deleted: SQLite may give their numbers again
    assert "vous êtes maintenant responsable de la candidature" in bob.inbox()
    assert "Voici un code d'invitation" in bob.say("/inviter")
    with app.store.begin() as conn:
        responsible = conn.execute(select(T.people.c.display_name).join(
            T.candidatures, T.candidatures.c.responsible_id == T.people.c.id)
            .where(T.candidatures.c.status == "draft")).scalars().all()
    assert responsible == ["Bob Durand"]


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def attach(app, agent: Agent) -> None:
    """The agent reaches the délibération question and sends the file."""
    for line in ("/aller 2", "oui", "/aller deliberation_votee", "oui", "10/12/2021"):
        asked = agent.say(line)
    assert asked.ref == "deliberation"
    file = app.keep_file(PDF, "deliberation.pdf")
    assert "reçu et enregistré" in agent.deliver(Inbound(kind=InboundKind.FILE, file=file, **agent._base()))


def test_an_erased_draft_takes_its_files_along_unless_another_answer_holds_them(build, any_store, clock):
    now = clock.now()
    app = build(any_store, opens=now - timedelta(days=1), closes=now + timedelta(days=120))
    alice, bob = Agent(app, "alice"), Agent(app, "bob")
    identify(alice, siren(73282932))
    identify(bob, siren(21340172))
    attach(app, alice)
    attach(app, bob)                     # the same délibération: one stored file, held twice
    assert files(app) == 1
    alice.say("/oublier confirmer")
    assert files(app) == 1               # bob's answer still holds it
    assert bob.answers()["deliberation"]["ref"].startswith("sha256:")
    bob.say("/oublier confirmer")
    assert files(app) == 0               # nothing holds it any more: it is gone


def files(app) -> int:
    from tnlbot.store.attachments import attachments
    with app.store.begin() as conn:
        return len(conn.execute(select(attachments.c.sha256)).all())


def test_one_file_held_for_two_events_is_stored_for_the_one_that_takes_it(build, any_store, clock):
    """Two people send the same file in one batch: the first is refused (not on the file
    question), the second's answer takes it and the file is stored with it."""
    now = clock.now()
    app = build(any_store, opens=now - timedelta(days=1), closes=now + timedelta(days=120))
    alice, bob = Agent(app, "alice"), Agent(app, "bob")
    identify(alice, siren(73282932))
    identify(bob, siren(21340172))
    for line in ("/aller 2", "oui", "/aller deliberation_votee", "oui", "10/12/2021"):
        bob.say(line)
    early, taken = app.keep_file(PDF, "deliberation.pdf"), app.keep_file(PDF, "deliberation.pdf")
    assert "reçu et enregistré" not in alice.deliver(Inbound(kind=InboundKind.FILE, file=early, **alice._base()))
    assert "reçu et enregistré" in bob.deliver(Inbound(kind=InboundKind.FILE, file=taken, **bob._base()))
    assert bob.answers()["deliberation"]["ref"] == taken.ref and files(app) == 1
