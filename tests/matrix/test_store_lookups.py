"""The store methods the Matrix transport relies on, on SQLite and on PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timezone

from tnlbot.core.events import Addressed, Option, Outgoing, OutKind

from ..harness import Chat

NOW = datetime(2024, 6, 12, 8, 0, tzinfo=timezone.utc)
ROOM = "!salle:exemple.org"


def sent(store, user: str, item: Outgoing, event_id: str, status: str = "sent") -> int:
    with store.begin() as conn:
        (row_id,) = store.enqueue(conn, [Addressed("matrix", ROOM, item, user)], NOW)
    assert store.claim_message(row_id, NOW)
    if status == "sent":
        store.settle_message(row_id, "sent", NOW, ref=event_id)
    return row_id


def prompt(ref: str, **changes) -> Outgoing:
    return Outgoing(OutKind.PROMPT, "Question ?", ref=ref, options=(Option("yes", "Oui"),), **changes)


def test_a_question_is_found_by_its_event_id_and_by_its_ref_for_each_person(any_store):
    sent(any_store, "@alice:x", prompt("type_collectivite"), "$alice")
    sent(any_store, "@bruno:x", prompt("type_collectivite"), "$bruno")
    sent(any_store, "@alice:x", Outgoing(OutKind.NOTICE, "type_collectivite"), "$notice")
    sent(any_store, "@alice:x", prompt("type_collectivite_autre"), "$other")
    assert any_store.sent_prompt("matrix", ROOM, "@alice:x", "type_collectivite")[0] == "$alice"
    assert any_store.sent_prompt("matrix", ROOM, "@bruno:x", "type_collectivite")[0] == "$bruno"
    assert any_store.sent_prompt("matrix", ROOM, "@carla:x", "type_collectivite") is None
    user, item = any_store.prompt_sent_as("matrix", ROOM, "$bruno")
    assert (user, item.ref) == ("@bruno:x", "type_collectivite")
    assert any_store.prompt_sent_as("matrix", ROOM, "$notice") is None
    assert any_store.prompt_sent_as("matrix", "!ailleurs:x", "$alice") is None


def test_a_question_re_rendered_in_place_keeps_its_first_event_id(any_store):
    sent(any_store, "@alice:x", prompt("annees_label", multi=True), "$first")
    sent(any_store, "@alice:x", prompt("annees_label", multi=True, selected=("yes",), update=True), "$first")
    event_id, item = any_store.sent_prompt("matrix", ROOM, "@alice:x", "annees_label")
    assert (event_id, item.selected) == ("$first", ("yes",))
    assert any_store.prompt_sent_as("matrix", ROOM, "$first")[1].selected == ("yes",)


def test_rows_a_crash_left_sending_go_back_to_pending_for_matrix_only(any_store):
    mine = sent(any_store, "@alice:x", prompt("q"), "", status="sending")
    with any_store.begin() as conn:
        (other,) = any_store.enqueue(conn, [Addressed("telegram", "42", prompt("q"))], NOW)
    any_store.claim_message(other, NOW)
    assert any_store.resume_interrupted("matrix") == 1
    due = {row.id for row in any_store.due_messages("matrix", NOW)}
    assert mine in due
    assert other not in {row.id for row in any_store.due_messages("telegram", NOW)}


def test_the_transport_speaks_the_language_of_the_conversation(any_store, make_app):
    assert any_store.conversation_locale("matrix", ROOM, "@alice:x") == "fr"
    alice = Chat(make_app(any_store), "@alice:x", chat=ROOM, transport="matrix")
    alice.say("bonjour")
    alice.say("/langue en")
    assert any_store.conversation_locale("matrix", ROOM, "@alice:x") == "en"
    assert any_store.conversation_locale("matrix", ROOM, "@bruno:x") == "fr"
