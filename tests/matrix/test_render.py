"""The pure Matrix mapping, on events recorded from Synapse: no server needed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nio import RoomSendError

from tnlbot.core.events import Inbound, InboundKind, Option, Outgoing, OutKind
from tnlbot.runtime.transport import SendStatus
from tnlbot.transports.matrix import _failure
from tnlbot.transports.matrix_render import (Addressee, Allow, Look, SentPrompt, Skip, bang,
                                             clean_name, command_names, file_content, for_matrix,
                                             hint_key, inbound_from_event, match_options, render,
                                             render_settled, render_update, strip_reply_fallback)

RECORDED = json.loads((Path(__file__).with_name("recorded_events.json")).read_text())
ROOM, BOT, PROMPT = RECORDED["room_id"], RECORDED["bot"], RECORDED["prompt"]
AGENT = RECORDED["text"]["sender"]
YES_NO = (Option("yes", "Oui"), Option("no", "Non"))
KINDS = (Option("commune", "Commune"), Option("epci", "EPCI"), Option("region", "Région"))


class Lookups:
    def __init__(self, prompts: dict[str, SentPrompt] | None = None, toggles=None, latest: str = PROMPT):
        self.prompts = prompts or {}
        self.toggles = toggles or {}
        self.latest = latest

    def current(self, room_id: str, user_id: str) -> str:
        return self.latest

    def prompt(self, room_id: str, event_id: str) -> SentPrompt | None:
        return self.prompts.get(event_id)

    def toggle(self, event_id: str) -> Inbound | None:
        return self.toggles.get(event_id)


def asked(options=YES_NO, multi=False, user=AGENT, ref="deja_labellise") -> Lookups:
    item = Outgoing(OutKind.PROMPT, "Question ?", ref=ref, options=options, multi=multi)
    return Lookups({PROMPT: SentPrompt(PROMPT, user, item)})


def read(name: str, lookups: Lookups | None = None):
    return inbound_from_event(ROOM, RECORDED[name], BOT, lookups or Lookups(), "Agent")


# ------------------------------------------------------------------ native -> Inbound

def test_typed_text_is_a_text_with_the_event_id_as_its_delivery_id():
    inbound = read("text")
    assert (inbound.kind, inbound.text) == (InboundKind.TEXT, "Mairie de Saint-Libre")
    assert (inbound.transport, inbound.chat_id, inbound.user_id) == ("matrix", ROOM, AGENT)
    assert inbound.external_id == RECORDED["text"]["event_id"]


def test_commands_start_with_a_slash_or_an_exclamation_mark():
    assert (read("command").command, read("command").text) == ("modifier", "3")
    assert (read("bang_command").kind, read("bang_command").command) == (InboundKind.COMMAND, "aide")


def test_a_reply_to_a_question_answers_that_question():
    inbound = read("reply", asked(KINDS, ref="type_collectivite"))
    assert (inbound.kind, inbound.ref, inbound.values) == (InboundKind.CHOICE, "type_collectivite", ("epci",))


def test_a_reply_quoting_the_question_is_read_without_the_quote():
    inbound = read("reply_with_fallback", asked())
    assert (inbound.kind, inbound.values) == (InboundKind.CHOICE, ("no",))
    assert read("reply_with_fallback").text == "Non"   # question unknown: plain text, quote dropped


def test_a_reply_to_someone_elses_question_is_plain_text():
    inbound = read("reply", asked(KINDS, user="@other:localhost"))
    assert (inbound.kind, inbound.text) == (InboundKind.TEXT, "2")


def test_a_reaction_answers_the_question_it_is_under():
    inbound = read("reaction", asked())          # "✅️" with its variation selector
    assert (inbound.kind, inbound.ref, inbound.values) == (InboundKind.CHOICE, "deja_labellise", ("yes",))
    assert read("reaction", asked(KINDS)) is Skip.OTHER
    assert read("reaction", asked(user="@other:localhost")) is Skip.FOREIGN
    older = asked()
    older.latest = "$a-later-question"
    assert read("reaction", older) is Skip.STALE          # a tap under an old question
    assert read("reaction") is Skip.OTHER


def keycap(key: str, lookups: Lookups):
    event = json.loads(json.dumps(RECORDED["reaction"]))
    event["content"]["m.relates_to"]["key"] = key
    return inbound_from_event(ROOM, event, BOT, lookups)


def test_number_reactions_choose_and_on_a_multiple_choice_they_tick():
    assert keycap("2️⃣", asked(KINDS)).values == ("epci",)
    assert keycap("4️⃣", asked(KINDS)) is Skip.OTHER
    ticked = keycap("3️⃣", asked(KINDS, multi=True))
    assert (ticked.kind, ticked.values) == (InboundKind.TOGGLE, ("region",))
    confirmed = keycap("✅", asked(KINDS, multi=True))
    assert (confirmed.kind, confirmed.values) == (InboundKind.CHOICE, ())


def test_removing_a_tick_reaction_unticks():
    removed = RECORDED["removed_reaction"]["event_id"]
    tick = Inbound("matrix", removed, ROOM, AGENT, InboundKind.TOGGLE, ref="annees_label",
                   values=("2021",))
    undo = read("redaction", Lookups(toggles={removed: tick}))
    assert (undo.kind, undo.ref, undo.values) == (InboundKind.TOGGLE, "annees_label", ("2021",))
    assert read("redaction") is Skip.OTHER


def test_ignored_events():
    assert read("edit") is Skip.EDIT
    assert read("notice") is Skip.NOTICE
    assert read("bot_join") is Skip.OWN
    assert inbound_from_event(ROOM, RECORDED["bot_join"], "@someone:else", Lookups()) is Skip.OTHER
    assert read("removed_reaction", asked()) is Skip.OTHER      # a reaction since redacted
    assert inbound_from_event(ROOM, RECORDED["text"], AGENT, Lookups()) is Skip.OWN
    encrypted = {**RECORDED["text"], "type": "m.room.encrypted", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
    assert inbound_from_event(ROOM, encrypted, BOT, Lookups()) is Skip.ENCRYPTED


def test_an_emote_is_text_a_location_is_not_understood():
    assert read("emote").text == "réfléchit"
    assert read("location").kind is InboundKind.UNRECOGNISED


def test_a_file_keeps_its_name_type_size_and_address():
    inbound = read("file")
    assert inbound.kind is InboundKind.FILE
    assert (inbound.file.name, inbound.file.mime, inbound.file.size) == ("deliberation.pdf", "application/pdf", 13)
    assert inbound.file.ref.startswith("mxc://localhost/")


def test_a_file_name_cannot_climb_folders_or_hide_characters():
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("rap\u202eport.pdf\x00") == "rapport.pdf"
    assert clean_name("") == "fichier"


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=8)


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(["m.room.message", "m.reaction", "m.room.redaction", "m.sticker"]),
       content=json_values, key=st.sampled_from(["body", "msgtype", "m.relates_to", "info", "url"]))
def test_no_event_makes_it_raise(kind, content, key):
    event = {"type": kind, "sender": AGENT, "event_id": "$x", "content": content,
             "redacts": content}
    if isinstance(content, dict):
        event["content"] = {**content, key: content}
    result = inbound_from_event(ROOM, event, BOT, asked(KINDS, multi=True))
    assert isinstance(result, (Inbound, Skip))


# ------------------------------------------------------------------ Outgoing -> native

def question(**changes) -> Outgoing:
    base = dict(kind=OutKind.PROMPT, text="De quel type de structure s'agit-il ?",
                header="Identification · volet 1/6 · question 2/16", ref="type_collectivite",
                options=KINDS, actions=(Option("/retour", "◀ Retour"),))
    return Outgoing(**{**base, **changes})


def test_a_question_is_a_text_with_a_numbered_list_and_no_mention_in_a_direct_room():
    content = render(question(), Look(loud=True, to=Addressee(AGENT), hint="Répondez par le numéro."))
    assert content["msgtype"] == "m.text" and content["m.mentions"] == {}
    assert content["body"].split("\n") == [
        "Identification · volet 1/6 · question 2/16", "De quel type de structure s'agit-il ?",
        "1. Commune", "2. EPCI", "3. Région", "Répondez par le numéro.", "◀ Retour /retour"]
    assert "<ol><li>Commune</li><li>EPCI</li><li>Région</li></ol>" in content["formatted_body"]
    assert content["format"] == "org.matrix.custom.html"
    assert render(Outgoing(OutKind.NOTICE, "Réponse enregistrée."))["msgtype"] == "m.notice"


def test_in_a_group_room_a_question_mentions_its_person_with_a_pill():
    content = render(question(), Look(loud=True, to=Addressee(AGENT, "Alice <DSI>")))
    assert content["m.mentions"] == {"user_ids": [AGENT]}
    assert content["body"].startswith("Alice <DSI> · Identification")
    assert f'<a href="https://matrix.to/#/{AGENT}">Alice &lt;DSI&gt;</a>' in content["formatted_body"]
    quiet = render(Outgoing(OutKind.NOTICE, "Noté."), Look(to=Addressee(AGENT, "Alice")))
    assert quiet["msgtype"] == "m.notice" and quiet["m.mentions"] == {}
    assert "matrix.to" not in quiet["formatted_body"] and quiet["body"].startswith("Alice")


def test_every_text_is_escaped_in_html():
    nasty = '<a href="https://matrix.to/#/@room">@room</a> & <img src=x onerror=alert(1)>'
    content = render(Outgoing(OutKind.NOTICE, nasty, header=nasty, options=(Option("x", nasty),)),
                     Look(to=Addressee(AGENT, nasty)))
    assert "<a " not in content["formatted_body"] and "<img" not in content["formatted_body"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in content["formatted_body"]
    assert nasty in content["body"]


def test_a_multiple_choice_shows_its_ticks():
    body = render(question(multi=True, selected=("epci",)))["body"]
    assert "1. ☐ Commune\n2. ☑ EPCI\n3. ☐ Région" in body


def test_an_answered_question_is_edited_to_show_the_answer():
    content = render_settled(question(), Outgoing(OutKind.SETTLED, "EPCI", ref="type_collectivite"), "$q")
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$q"}
    assert content["m.new_content"]["body"].endswith("✅ EPCI")
    assert "◀ Retour" not in content["m.new_content"]["body"]
    assert content["body"].startswith("* ") and content["m.mentions"] == {}
    assert content["m.new_content"]["m.mentions"] == {}
    updated = render_update(question(multi=True, selected=("region",)), "$q", Look(loud=True))
    assert "3. ☑ Région" in updated["m.new_content"]["body"]


def test_hints_follow_the_kind_of_question():
    many = tuple(Option(str(n), str(n)) for n in range(11))
    assert [hint_key(question(options=o, multi=m)) for o, m in
            ((YES_NO, False), (KINDS, False), (KINDS, True), (many, False), (many, True))] == [
        "matrix.hint_yes_no", "matrix.hint_single", "matrix.hint_multi", "matrix.hint_single",
        "matrix.hint_multi"]
    assert hint_key(Outgoing(OutKind.NOTICE, "x", options=KINDS)) == ""


def test_a_document_is_an_m_file():
    content = file_content(Outgoing(OutKind.DOCUMENT, "", filename="../recu.pdf"), "mxc://x/y", 12,
                           "application/pdf")
    assert content == {"msgtype": "m.file", "body": "recu.pdf", "filename": "recu.pdf",
                       "url": "mxc://x/y", "info": {"mimetype": "application/pdf", "size": 12},
                       "m.mentions": {}}


# ------------------------------------------------------------------ small rules

def test_replies_name_choices_by_number_or_text():
    assert match_options("2", KINDS, False) == ("epci",)
    assert match_options("région", KINDS, False) == ("region",)
    assert match_options("1, 3", KINDS, True) == ("commune", "region")
    assert match_options("1, 3", KINDS, False) == ()
    assert match_options("9", KINDS, False) == ()


def test_commands_are_shown_with_an_exclamation_mark_in_the_bots_texts():
    names = command_names(["Tapez /aide ou /modifier N.", "(/passer pour plus tard)"])
    assert names == {"aide", "modifier", "passer"}
    assert bang("Tapez /aide, (/passer) ou /modifier 3.", names) == "Tapez !aide, (!passer) ou !modifier 3."
    untouched = "https://www.ville.fr/aide, le 15/03/2022, et/ou /inconnu"
    assert bang(untouched, names) == untouched
    shown = for_matrix(question(text="Tapez /aide"), names)
    assert (shown.text, shown.actions[0].value) == ("Tapez !aide", "/retour")
    assert for_matrix(question(actions=(Option("/passer", "Passer"),)), names).actions[0].value == "!passer"


def test_the_quote_of_a_reply_is_dropped():
    assert strip_reply_fallback("> <@bot:x> Question ?\n> 1. Oui\n\nNon") == "Non"
    assert strip_reply_fallback("> une citation à moi") == "> une citation à moi"


def test_the_allow_list_takes_homeservers_and_people():
    allow = Allow.parse("mairie.fr, @marie:exemple.org")
    assert allow("@jean:mairie.fr") and allow("@marie:exemple.org")
    assert not allow("@spam:ailleurs.net") and not allow("@jean:exemple.org")
    assert Allow.parse("")("@anyone:anywhere")


@pytest.mark.parametrize("payload, status", [
    ({"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 2500}, SendStatus.RETRY),
    ({"errcode": "M_FORBIDDEN", "error": "User not in room"}, SendStatus.UNREACHABLE),
    ({"errcode": "M_TOO_LARGE", "error": "event too large"}, SendStatus.FAILED),
    ({"error": "Bad Gateway"}, SendStatus.RETRY),
])
def test_send_errors(payload, status):
    result = _failure(RoomSendError.from_dict(payload, ROOM))
    assert result.status is status
    if payload.get("retry_after_ms"):
        assert result.retry_after == 2.5
