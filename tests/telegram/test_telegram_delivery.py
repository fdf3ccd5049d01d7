"""Telegram delivery: redelivered and reordered updates, faults when sending, webhook."""
from __future__ import annotations

import asyncio
import base64
import socket

import aiohttp
import pytest
from sqlalchemy import func, select

from tnlbot.core.events import Addressed, Outgoing, OutKind
from tnlbot.store import tables as T
from tnlbot.store.attachments import content
from tnlbot.store.fetches import DELAYS, file_fetches
from tnlbot.transports.telegram_webhook import SECRET_HEADER, WebhookConfig

from .conftest import Screen
from .test_telegram_chat import answers

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def stored_file(session, ref: str) -> bytes | None:
    with session.app.store.begin() as conn:
        return content(conn, ref)


def outbox(session) -> list[tuple[str, str]]:
    o = T.outbox
    with session.app.store.begin() as conn:
        return [(r.status, r.chat_id) for r in conn.execute(select(o.c.status, o.c.chat_id).order_by(o.c.id))]


def history_count(session, key: str) -> int:
    h = T.answer_history
    with session.app.store.begin() as conn:
        return conn.execute(select(func.count()).select_from(h).where(h.c.key == key)).scalar()


async def test_the_same_update_delivered_twice(bot_session, any_store):
    session = await bot_session(store=any_store)     # on SQLite and on PostgreSQL
    alice = session.person(301, "Alice")
    await alice.says("/start")
    bot = await alice.says("Mairie de Testbourg")
    assert "De quel type de structure" in bot
    typed = max(session.fake.pushed)
    pressed_screen = await alice.presses("Commune")
    pressed = max(session.fake.pushed)
    assert "numéro SIREN" in pressed_screen

    fake = session.fake
    mark = len(fake.events)
    fake.redeliver(typed)
    fake.redeliver(pressed)
    await session.pump()
    seen = fake.seen_by(alice.chat_id, mark)
    assert [e[0] for e in seen] == ["toast"], "only the press is answered again; no second reply"
    assert history_count(session, "nom_collectivite") == 1
    assert history_count(session, "type_collectivite") == 1
    assert fake.confirmed.count(typed) == 2 and not fake.queue


async def test_update_ids_that_jump_backwards(bot_session):
    session = await bot_session()
    alice = session.person(302, "Alice")
    fake = session.fake
    fake.push({"message": fake.user_message(alice.chat_id, alice.user, "/start")}, update_id=1000)
    fake.push({"message": fake.user_message(alice.chat_id, alice.user, "Mairie de Testbourg")},
              update_id=1001)
    await session.pump()
    assert fake.confirmed == [1000, 1001]
    # a quiet week later, Telegram starts again from a lower id
    fake.push({"message": fake.user_message(alice.chat_id, alice.user, "Commune")}, update_id=7)
    await session.pump()
    assert fake.confirmed == [1000, 1001, 7]
    assert answers(session, alice) == {"nom_collectivite": "Mairie de Testbourg",
                                       "type_collectivite": "commune"}
    offsets = [c.params.get("offset") for c in fake.calls if c.method == "getUpdates"]
    assert offsets[-1] == 8 and 1002 in offsets


async def test_429_with_retry_after(bot_session, clock):
    session = await bot_session()
    alice = session.person(303, "Alice")
    session.fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    bot = await alice.says("/start")
    assert not bot.messages, "Telegram said wait: nothing shown yet"
    assert outbox(session)[0][0] == "pending"

    clock.advance(3)
    await session.flush()
    assert not session.fake.seen_by(alice.chat_id), "still inside the 7 seconds"
    clock.advance(5)
    mark = len(session.fake.events)
    await session.flush()
    shown = [e[2]["text"] for e in session.fake.seen_by(alice.chat_id, mark)]
    assert len(shown) == 1 and "Bonjour" in shown[0] and "Quel est le nom" in shown[0]   # one message
    sends = [c.outcome for c in session.fake.calls if c.method == "sendMessage"]
    assert sends == ["error 429", "ok"]


async def test_a_send_that_times_out(bot_session):
    session = await bot_session(read_timeout=0.5)
    alice = session.person(304, "Alice")
    session.fake.stall_next("sendMessage", 2.0)       # Telegram shows it, the answer is lost
    bot = await alice.says("/start")                  # the greeting atop the first question
    assert [m["text"][:7] for m in bot.messages] == ["Identif"] and "Bonjour" in bot.text
    assert [s for s, _ in outbox(session)] == ["uncertain", "uncertain"]
    await asyncio.sleep(1.6)                          # let the stalled answer finish
    await session.flush()
    await alice.says("Mairie de Testbourg")
    welcomes = [e for e in session.fake.events if e[0] == "message" and "Bonjour" in e[2]["text"]]
    assert len(welcomes) == 1, "an uncertain message is never sent twice"


async def test_a_blocked_bot_marks_the_chat_unreachable(bot_session):
    session = await bot_session()
    alice = session.person(305, "Alice")
    session.fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await alice.says("/start")
    assert [s for s, _ in outbox(session)] == ["failed", "failed"]
    a = T.accounts
    with session.app.store.begin() as conn:
        assert conn.execute(select(a.c.reachable).where(a.c.external_id == "305")).scalar() is False
    assert [c.method for c in session.fake.calls].count("sendMessage") == 1


async def test_a_group_upgraded_to_a_supergroup_is_followed(bot_session):
    session = await bot_session()
    alice = session.person(306, "Alice", chat_id=-600)
    session.fake.migrate(-600, -100600)
    await alice.says("/start")
    moved = session.person(306, "Alice", chat_id=-100600)
    assert any("Bonjour" in m["text"] for (chat, _), m in session.fake.messages.items() if chat == -100600)
    bot = await moved.says("Mairie de Testbourg", reply_to=moved.last_keyboard())
    assert "De quel type de structure" in bot and "Bonjour" not in bot, "the same questionnaire goes on"
    assert answers(session, moved) == {"nom_collectivite": "Mairie de Testbourg"}


async def test_documents_are_checked_before_download(bot_session):
    session = await bot_session("tnl-2022")
    alice = session.person(307, "Alice")
    await alice.says("/start")
    await alice.says("/aller 2")
    for label in ("Oui", "Oui"):
        await alice.presses(label)
    await alice.says("Une stratégie votée en 2021.")
    await alice.presses("Oui")
    bot = await alice.says("15/03/2021")
    assert "Envoyez le fichier en pièce jointe (formats acceptés : pdf, odt" in bot

    bot = await alice.sends_document("deliberation.pdf", 25_000_000)
    assert "plus de 20 Mo" in bot
    bot = await alice.sends_document("deliberation.docx", 90_000, "application/msword")
    assert "Ce type de fichier n'est pas accepté" in bot
    assert [c.method for c in session.fake.calls].count("getFile") == 0, "refused: nothing downloaded"
    bot = await alice.sends_document("deliberation.pdf", len(PDF), data=PDF)
    stored = answers(session, alice)["deliberation"]
    assert stored["name"] == "deliberation.pdf" and stored["size"] == len(PDF)
    assert stored_file(session, stored["ref"]) == PDF, "the file itself, for the jury"
    assert [c.method for c in session.fake.calls].count("getFile") == 1


async def at_the_file_question(person) -> None:
    for line in ("/start", "/aller 2"):
        await person.says(line)
    for label in ("Oui", "Oui"):
        await person.presses(label)
    await person.says("Une stratégie votée en 2021.")
    await person.presses("Oui")
    assert "Envoyez le fichier en pièce jointe" in await person.says("15/03/2021")


def next_try(session):
    with session.app.store.begin() as conn:
        return conn.execute(select(func.min(file_fetches.c.due_at))).scalar()


def getfiles(session) -> int:
    return [c.method for c in session.fake.calls].count("getFile")


async def test_a_document_telegram_did_not_hand_over_at_first_is_fetched_again_later(bot_session):
    session = await bot_session("tnl-2022")
    alice = session.person(308, "Alice")
    await at_the_file_question(alice)
    session.fake.fail_next("getFile", 502, "Bad Gateway")                 # the first download fails
    await alice.sends_document("deliberation.pdf", len(PDF), data=PDF)
    assert answers(session, alice)["deliberation"]["ref"] == "up-deliberation.pdf"   # its handle, for now
    assert getfiles(session) == 1
    assert await session.telegram.refetch_due() == 0 and getfiles(session) == 1      # not due yet
    session.app.clock.advance(30)
    assert await session.telegram.refetch_due() == 1
    stored = answers(session, alice)["deliberation"]
    assert stored["ref"].startswith("sha256:") and stored["size"] == len(PDF)
    assert stored_file(session, stored["ref"]) == PDF, "the file itself, for the jury"
    session.app.clock.advance(3600)
    assert await session.telegram.refetch_due() == 0 and getfiles(session) == 2      # fetched once more only


async def test_a_document_telegram_never_hands_over_is_asked_again_politely(bot_session):
    session = await bot_session("tnl-2022")
    bruno = session.person(309, "Bruno")
    await at_the_file_question(bruno)
    await bruno.says("/langue en")
    await bruno.sends_document("deliberation.pdf", 120_000)            # getFile: invalid file_id, always
    assert answers(session, bruno)["deliberation"]["ref"] == "up-deliberation.pdf"
    mark = len(session.fake.events)
    for pause in DELAYS:                              # tried again after growing pauses, then given up
        due = next_try(session)
        assert due is not None
        session.app.clock.advance((due - session.app.clock.now()).total_seconds() - 1)
        calls = getfiles(session)
        assert await session.telegram.refetch_due() == 0 and getfiles(session) == calls   # not yet
        session.app.clock.advance(1)
        assert await session.telegram.refetch_due() == 0 and getfiles(session) == calls + 1
        if pause != DELAYS[-1]:
            assert (next_try(session) - due).total_seconds() == DELAYS[DELAYS.index(pause) + 1]
    assert next_try(session) is None
    await session.flush()
    told = Screen(session.fake.seen_by(bruno.chat_id, mark))
    assert told.text == ('I could not retrieve the file "deliberation.pdf" you sent me: the messaging '
                         "service did not hand it over, despite several tries. Your answer is therefore "
                         "incomplete. Please send it again: type /recap to find the question, then /edit "
                         "followed by its number.")
    session.app.clock.advance(86_400)
    calls = getfiles(session)
    await session.telegram.refetch_due()
    await session.flush()
    assert getfiles(session) == calls and len(Screen(session.fake.seen_by(bruno.chat_id, mark)).messages) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_with_wrong_missing_and_right_secret(bot_session):
    session = await bot_session()
    port = _free_port()
    telegram = session.telegram
    telegram.webhook = WebhookConfig("https://bot.example.org/tg", "s3cret_token-42",
                                     "127.0.0.1", port, "/tg")
    committed: list[bool] = []

    async def sink(inbound, step=None):
        handled = await session.app.dispatcher.submit(inbound, step)
        committed.append(True)
        return handled
    await telegram.start(sink)
    hooked = [c.params for c in session.fake.calls if c.method == "setWebhook"]
    assert hooked == [{"url": "https://bot.example.org/tg", "secret_token": "s3cret_token-42",
                       "drop_pending_updates": False, "allowed_updates": ["message", "callback_query"]}]

    alice = session.person(308, "Alice")
    update = {"update_id": 50, "message": session.fake.user_message(alice.chat_id, alice.user, "/start")}
    url = f"http://127.0.0.1:{port}/tg"
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: "s3cret_token-4"}):
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 403
        assert not committed, "nothing is read without the secret"
        async with http.post(url, json=update, headers={SECRET_HEADER: "s3cret_token-42"}) as response:
            assert response.status == 200
            assert committed == [True], "200 comes after the commit"
        second = {"update_id": 51, "message": session.fake.user_message(
            alice.chat_id, alice.user, "Mairie de Testbourg")}
        async with http.post(url, json=second, headers={SECRET_HEADER: "s3cret_token-42"}) as response:
            assert response.status == 200
    assert answers(session, alice) == {"nom_collectivite": "Mairie de Testbourg"}
    await telegram.stop()


async def test_receipts_and_exports_go_as_documents(bot_session, clock):
    session = await bot_session()
    alice = session.person(309, "Alice")
    await alice.says("/start")
    pdf = b"%PDF-1.4 accuse de reception"
    receipt = Outgoing(OutKind.DOCUMENT, "Votre accusé de réception <version 1>", filename="accuse.pdf",
                       mime="application/pdf", data=base64.b64encode(pdf).decode())
    with session.app.store.begin() as conn:
        session.app.store.enqueue(conn, [Addressed("telegram", "309", receipt, "309")], clock.now())
    await session.flush()
    [(_, _, sent)] = [e for e in session.fake.events if e[0] == "document"]
    assert sent["document"]["file_name"] == "accuse.pdf"
    assert sent["caption"] == "Votre accusé de réception <version 1>"
    assert session.fake.files[sent["document"]["file_id"]] == pdf
    assert await session.telegram.fetch_file(sent["document"]["file_id"], len(pdf)) == pdf
    with pytest.raises(ValueError):
        await session.telegram.fetch_file("big", 21_000_000)
    assert [c.method for c in session.fake.calls].count("getFile") == 1
