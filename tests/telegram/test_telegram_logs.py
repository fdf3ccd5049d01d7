"""The logs of a whole conversation: one line per event, ids only.

A person with a distinctive name fills and submits a candidature through the
real python-telegram-bot client, with the bot's logs captured at DEBUG as
JSON lines. Every line is JSON; the events that matter are there with the
conversation and candidature ids; no answer, no name, no token appears.
"""
from __future__ import annotations

import io
import json
import logging

from tnlbot.ops.logs import setup
from tnlbot.ops.monitor import Monitor

from .test_telegram_chat import walk

NAME, SURNAME = "Gwendolyne", "Kerbrat-Lozac'hmeur"
ANSWERS = ["Commune de Plouzévédé-Test", "732829320", "2A", "gwendolyne.kerbrat@plouzevede.example",
           "17 %", "Inkscape, Zourit"]
STEPS = [("says", ANSWERS[0]), ("presses", "Commune"), ("says", ANSWERS[1]), ("says", ANSWERS[2]),
         ("says", ANSWERS[3]), ("presses", "Une réflexion est en cours"), ("presses", "ODT (texte)"),
         ("presses", "✅ Valider"), ("presses", "Oui"),
         ("presses", "Donner une seconde vie au matériel réformé"), ("presses", "✅ Valider"),
         ("presses", "Non"), ("presses", "Oui, sur data.gouv.fr"), ("presses", "Non"),
         ("says", ANSWERS[4]), ("says", ANSWERS[5]), ("presses", "Les agents"),
         ("presses", "✅ Valider"), ("says", "/deposer"), ("presses", "Oui")]


async def test_a_whole_conversation_logs_ids_and_never_content(bot_session, fake):
    stream = io.StringIO()
    handler = setup("DEBUG", secrets=[fake.token], stream=stream)
    try:
        session = await bot_session("tnl-2025-badge")
        Monitor(session.app)
        person = session.person(4242, NAME)
        person.user["last_name"] = SURNAME
        person.user["username"] = "gkerbrat"
        await person.says("/start")
        bot = await walk(person, STEPS)
        assert "Votre candidature est déposée" in bot
        logging.getLogger("tnlbot.test").warning("token check %s", f"https://x/bot{fake.token}/getMe")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    inbound = [line for line in lines if line["event"] == "inbound"]
    assert len(inbound) == len(STEPS) + 1 and {line["kind"] for line in inbound} >= {"command", "text", "choice"}
    assert len({line["conversation"] for line in inbound}) == 1 and all(line["candidature"] for line in inbound)
    assert sum(line["answers"] for line in inbound) >= len(ANSWERS)
    sends = [line for line in lines if line["event"] == "send"]
    assert sends and all(line["result"] == "sent" and line["outbox"] for line in sends)
    text = stream.getvalue()
    assert "token check https://x/bot***/getMe" in text
    for secret in [NAME, SURNAME, "gkerbrat", fake.token, fake.token.split(":")[1], *ANSWERS]:
        assert secret not in text and json.dumps(secret)[1:-1] not in text, secret
