"""The two pure functions of the transport, on recorded Bot API payloads."""
from __future__ import annotations

import html
import json

from tnlbot.core.events import InboundKind, Option, Outgoing, OutKind
from tnlbot.transports.telegram import inbound_from_update, render
from tnlbot.transports.telegram_codec import resolve_press

from .fake_api import parse_html, utf16

SECRET = b"k" * 32
ALICE = {"id": 111, "is_bot": False, "first_name": "Alice", "last_name": "Martin", "language_code": "en-GB"}
PRIVATE = {"id": 111, "type": "private", "first_name": "Alice"}
GROUP = {"id": -5001, "type": "group", "title": "Mairie"}
BOT = {"id": 4242, "is_bot": True, "first_name": "TNL", "username": "tnl_test_bot"}
LONG_REF = "logiciels_metier[19].logiciel_metier_hebergement"


def message(text=None, chat=PRIVATE, **extra) -> dict:
    body = {"message_id": 7, "from": ALICE, "chat": chat, "date": 1700000000, **extra}
    if text is not None:
        body["text"] = text
    return {"update_id": 501, "message": body}


def press(data: str, chat=PRIVATE, sender=ALICE, message_id: int = 9) -> dict:
    return {"update_id": 502, "callback_query": {
        "id": "77", "from": sender, "chat_instance": "1", "data": data,
        "message": {"message_id": message_id, "from": BOT, "chat": chat, "date": 1700000000,
                    "text": "question"}}}


def buttons(calls: list[dict]) -> list[dict]:
    markup = calls[-1]["params"].get("reply_markup", {})
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def test_a_typed_answer_a_command_and_a_deep_link():
    typed = inbound_from_update(message("Mairie de Testbourg"), "tnl_test_bot", SECRET)
    assert (typed.kind, typed.text, typed.chat_id, typed.user_id) == (InboundKind.TEXT, "Mairie de Testbourg", "111", "111")
    assert typed.display_name == "Alice Martin" and typed.language == "en-GB"
    assert typed.external_id == "501:111/7"
    link = inbound_from_update(message("/start INVITE-42"), "tnl_test_bot", SECRET)
    assert (link.kind, link.command, link.text) == (InboundKind.COMMAND, "start", "INVITE-42")
    aimed = inbound_from_update(message("/recap@TNL_test_bot 2"), "tnl_test_bot", SECRET)
    assert (aimed.command, aimed.text) == ("recap", "2")
    assert inbound_from_update(message("/recap@other_bot"), "tnl_test_bot", SECRET) is None


def test_documents_photos_and_what_is_not_for_the_bot():
    document = {"file_id": "F1", "file_unique_id": "U1", "file_name": "délib.pdf",
                "mime_type": "application/pdf", "file_size": 120000}
    sent = inbound_from_update(message(document=document), "tnl_test_bot", SECRET)
    assert sent.kind is InboundKind.FILE and sent.file.name == "délib.pdf" and sent.file.size == 120000
    assert sent.file.ref == "F1"
    sticker = inbound_from_update(message(sticker={"file_id": "S"}), "tnl_test_bot", SECRET)
    assert sticker.kind is InboundKind.UNRECOGNISED
    assert inbound_from_update(message(new_chat_members=[ALICE], chat=GROUP), "tnl_test_bot") is None
    assert inbound_from_update(message("bonjour à tous", chat=GROUP), "tnl_test_bot") is None
    assert inbound_from_update({"update_id": 3, "edited_message": {}}, "tnl_test_bot") is None
    assert inbound_from_update({"update_id": 4, "message": {"chat": "garbage"}}) is None


def _mutations(value, path=()):
    """Every way to break one field of a recorded update: missing, wrong type."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield path + (key,), None
            for odd in (None, 0, "x", [], {}):
                yield path + (key,), odd
            yield from _mutations(inner, path + (key,))


def _with(raw, path, odd):
    raw = json.loads(json.dumps(raw))
    target = raw
    for key in path[:-1]:
        target = target[key]
    if odd is None and path[-1] in target:
        del target[path[-1]]
    else:
        target[path[-1]] = odd
    return raw


def test_inbound_from_update_never_raises():
    recorded = [message("/start CODE"), message(document={"file_id": "F", "file_size": 3}),
                press("c" + "A" * 8 + "q|yes", chat=GROUP),
                message("Réponse", chat=GROUP, reply_to_message={"message_id": 5, "from": BOT, "chat": GROUP,
                                                                  "entities": [{"type": "text_mention",
                                                                                "user": {"id": 111}}]})]
    tried = 0
    for raw in recorded:
        for path, odd in _mutations(raw):
            inbound_from_update(_with(raw, path, odd), "tnl_test_bot", SECRET)
            tried += 1
    assert tried > 300


def test_buttons_fit_in_64_bytes_and_come_back_verified():
    prompt = Outgoing(OutKind.PROMPT, "Hébergement ?", ref=LONG_REF,
                      options=(Option("prestataire_externe_mutualise", "Chez un prestataire"),
                               Option("interne", "En interne")),
                      actions=(Option("/retour", "◀ Retour"),))
    calls = render(prompt, "111", user_id="111", secret=SECRET)
    data = [b["callback_data"] for b in buttons(calls)]
    assert all(1 <= len(d.encode()) <= 64 for d in data)
    pressed = inbound_from_update(press(data[0]), "tnl_test_bot", SECRET)
    assert not pressed.ref, "too long to carry: resolved from the stored prompt"
    resolved = resolve_press(pressed, prompt, SECRET)
    assert (resolved.kind, resolved.ref, resolved.values) == (
        InboundKind.CHOICE, LONG_REF, ("prestataire_externe_mutualise",))
    back = inbound_from_update(press(data[2]), "tnl_test_bot", SECRET)
    assert (back.kind, back.command) == (InboundKind.COMMAND, "retour")

    short = render(Outgoing(OutKind.PROMPT, "?", ref="deja_labellise",
                            options=(Option("yes", "Oui"), Option("no", "Non"))), "111",
                   user_id="111", secret=SECRET)
    yes = inbound_from_update(press(buttons(short)[0]["callback_data"]), "tnl_test_bot", SECRET)
    assert (yes.kind, yes.ref, yes.values) == (InboundKind.CHOICE, "deja_labellise", ("yes",))


def test_forged_or_foreign_buttons_do_not_verify():
    calls = render(Outgoing(OutKind.PROMPT, "?", ref="deja_labellise",
                            options=(Option("yes", "Oui"),)), "-5001", user_id="201", secret=SECRET)
    data = buttons(calls)[0]["callback_data"]
    bob = {**ALICE, "id": 202}
    stolen = inbound_from_update(press(data, chat=GROUP, sender=bob), "tnl_test_bot", SECRET)
    assert stolen.kind is InboundKind.UNRECOGNISED
    owner = inbound_from_update(press(data, chat=GROUP, sender={**ALICE, "id": 201}), "tnl_test_bot", SECRET)
    assert owner.kind is InboundKind.CHOICE
    forged = data[:1] + data[1:9] + "deja_labellise|no"
    assert inbound_from_update(press(forged, chat=GROUP, sender={**ALICE, "id": 201}),
                               "tnl_test_bot", SECRET).kind is InboundKind.UNRECOGNISED


def test_a_button_signed_by_an_earlier_version_still_answers():
    """Buttons sent before an upgrade carry an HMAC-SHA256 tag: still accepted, forgeries not."""
    import base64
    import hashlib
    import hmac
    body = "deja_labellise|yes"
    old = base64.urlsafe_b64encode(hmac.new(SECRET, f"111\x1f111\x1fc\x1f{body}".encode(),
                                            hashlib.sha256).digest()[:6]).decode()
    pressed = inbound_from_update(press("c" + old + body), "tnl_test_bot", SECRET)
    assert (pressed.kind, pressed.ref, pressed.values) == (InboundKind.CHOICE, "deja_labellise", ("yes",))
    other = inbound_from_update(press("c" + old + "deja_labellise|no"), "tnl_test_bot", SECRET)
    assert other.kind is InboundKind.UNRECOGNISED


def test_html_escaped_progress_first_keyboard_last_and_split_under_4096():
    text = "<b>Mairie</b> & Co\n\n" + ("Un paragraphe de la réponse. " * 40 + "\n\n") * 6
    item = Outgoing(OutKind.PROMPT, text, header="Volet 1/5 · question 2/18", ref="q",
                    options=(Option("yes", "Oui"), Option("no", "Non")))
    calls = render(item, "111", user_id="111", secret=SECRET)
    assert len(calls) == 2
    plain = [parse_html(c["params"]["text"])[0] for c in calls]
    assert all(utf16(p) <= 4096 for p in plain)
    assert plain[0].startswith("Volet 1/5 · question 2/18\n\n<b>Mairie</b> & Co")
    assert "&lt;b&gt;Mairie&lt;/b&gt; &amp; Co" in calls[0]["params"]["text"]
    assert "reply_markup" not in calls[0]["params"] and buttons(calls)
    assert " ".join(plain).split()[5:] == text.split()


def test_what_each_question_kind_looks_like():
    multi = Outgoing(OutKind.PROMPT, "Formats ?", ref="formats", multi=True, selected=("odt",),
                     options=(Option("odt", "ODT"), Option("csv", "CSV")))
    labels = [b["text"] for b in buttons(render(multi, "1", user_id="1", secret=SECRET))]
    assert labels == ["☑ ODT", "☐ CSV", "✅ Valider (1)"]
    edit = render(Outgoing(OutKind.PROMPT, "Formats ?", ref="formats", multi=True, update=True,
                           options=multi.options), "1", user_id="1", message_id="55", secret=SECRET)
    assert [c["method"] for c in edit] == ["editMessageText"] and edit[0]["params"]["message_id"] == "55"
    settled = render(Outgoing(OutKind.SETTLED, "ODT, CSV", ref="formats"), "1", user_id="1",
                     message_id="55", secret=SECRET)
    assert settled[0]["method"] == "editMessageReplyMarkup"
    assert [b["text"] for b in buttons(settled)] == ["✅ ODT, CSV ✎"]
    assert render(Outgoing(OutKind.SETTLED, "x", ref="formats"), "1") == []
    document = render(Outgoing(OutKind.DOCUMENT, "Accusé de réception", filename="recu.pdf",
                               mime="application/pdf", data="JVBERg=="), "1")
    assert document[0]["method"] == "sendDocument" and document[0]["file"]["name"] == "recu.pdf"
    group = render(Outgoing(OutKind.NOTICE, "Bonjour"), "-5001", user_id="201", mention="Alice <3")
    assert '<a href="tg://user?id=201">Alice &lt;3</a>' in group[0]["params"]["text"]
    assert html.unescape(parse_html(group[0]["params"]["text"])[0]).startswith("Pour Alice <3")
