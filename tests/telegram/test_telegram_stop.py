"""SIGTERM to `tnlbot run --transport telegram`: the batch in hand, then a clean exit.

The bot runs as a real process against the local Bot API, with its operator
endpoint on. A batch of updates is handed out and, while it is being handled
(a button press's answer is held up by the server), the bot gets SIGTERM: it
commits the whole batch, stops fetching, sends the replies it owes and exits
0. Started again, it gets the unconfirmed batch once more and drops it:
nothing is answered or sent twice. A second signal during a long send makes
it exit at once, with the answer already committed.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

import httpx

from .test_telegram_kill import siren

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class BotProcess:
    def __init__(self, fake, db: Path, log: Path):
        self.port = free_port()
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("TNLBOT_")},
                    "PYTHONPATH": str(ROOT), "TNLBOT_DATABASE_URL": f"sqlite:///{db}",
                    "TNLBOT_TELEGRAM_TOKEN": fake.token, "TNLBOT_TELEGRAM_BASE_URL": fake.base_url,
                    "TNLBOT_HEALTH_LISTEN": f"127.0.0.1:{self.port}"}
        self.db, self.log = db, log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tnlbot", "run", "--transport", "telegram",
                cwd=str(ROOT), env=self.env, stdout=out, stderr=out)

    async def healthy(self) -> httpx.Response:
        """Wait for /healthz to say 200 (the bot is up and has reached Telegram)."""
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as http:
            for _ in range(600):
                try:
                    answer = await http.get("/healthz")
                    if answer.status_code == 200:
                        return await http.get("/metrics")
                except httpx.TransportError:
                    pass
                assert self.proc is not None and self.proc.returncode is None, self.tail()
                await asyncio.sleep(0.05)
        raise AssertionError("the bot never said it was healthy\n" + self.tail())

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    async def exit_code(self) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), 60)

    def seen(self) -> set[int]:
        with closing(sqlite3.connect(self.db, timeout=5)) as conn:
            return {int(e.split(":")[0]) for (e,) in conn.execute("SELECT external_id FROM inbound_seen")}

    def rows(self, sql: str) -> list[tuple]:
        with closing(sqlite3.connect(self.db, timeout=5)) as conn:
            return conn.execute(sql).fetchall()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def person(n: int) -> dict:
    return {"id": 800 + n, "is_bot": False, "first_name": f"Agent {n}", "language_code": "fr"}


async def until(condition, bot: BotProcess, timeout: float = 60.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out\n" + bot.tail())


def says(fake, n: int, text: str) -> int:
    return fake.push({"message": fake.user_message(800 + n, person(n), text)})


async def test_sigterm_finishes_the_batch_in_hand_and_nothing_is_sent_twice(fake, tmp_path):
    bot = BotProcess(fake, tmp_path / "bot.db", tmp_path / "bot.log")
    await bot.start()
    metrics = await bot.healthy()
    assert "tnlbot_scheduler_ticks_total 1.0" in metrics.text
    first = [says(fake, 0, "/start"), says(fake, 0, "Mairie de Testbourg-0")]

    def choices() -> list[tuple[dict, str]]:
        return [(m, b["callback_data"]) for (chat, _), m in fake.messages.items() if chat == 800
                for row in (m.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
                if "Commune" in b["text"]]
    await until(lambda: set(first) <= bot.seen() and choices(), bot)
    await until(lambda: not bot.rows("SELECT id FROM outbox WHERE status = 'pending'"), bot)
    question, commune = choices()[-1]

    fake.stall_next("answerCallbackQuery", 1.5)                   # the batch stays in hand
    loop = asyncio.get_running_loop()
    at_signal: set[int] = set()

    def stop() -> None:
        at_signal.update(bot.seen())
        bot.signal()
    fake.after_batch = lambda updates: (setattr(fake, "after_batch", None),
                                        loop.call_later(0.3, stop))
    batch = [fake.press(person(0), question, commune), says(fake, 0, siren(0)),
             says(fake, 1, "/start"), says(fake, 2, "/start"), says(fake, 2, "Mairie de Testbourg-2")]
    assert await bot.exit_code() == 0, bot.tail()
    # group commit: the batch is committed as one, then the press is answered (held up by
    # the server): the signal came while the batch was in hand, committed, not confirmed
    assert set(batch) <= at_signal and not set(batch) & set(fake.confirmed), "the signal came mid-batch"
    assert set(batch) <= bot.seen(), "the whole batch was committed before the exit"
    assert not set(batch) & set(fake.confirmed), "its offset never reached Telegram"
    assert bot.rows("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')") == [(0,)], \
        "the replies were sent before the exit"
    assert '"event": "drained"' in bot.tail() and '"event": "stopping"' in bot.tail()
    sent_before = len([c for c in fake.calls if c.method == "sendMessage"])

    await bot.start()                                             # the batch comes again
    await bot.healthy()
    await until(lambda: set(batch) <= set(fake.confirmed), bot)
    later = [says(fake, 1, "Mairie de Testbourg-1"), says(fake, 1, "commune")]
    await until(lambda: set(later) <= bot.seen(), bot)
    await until(lambda: not bot.rows("SELECT id FROM outbox WHERE status = 'pending'"), bot)
    bot.signal()
    assert await bot.exit_code() == 0, bot.tail()

    assert len([c for c in fake.calls if c.method == "sendMessage"]) > sent_before
    sent = Counter((c.params["chat_id"], c.params["text"]) for c in fake.calls
                   if c.method == "sendMessage" and c.outcome == "ok")
    assert set(sent.values()) == {1}, f"sent twice: {[m for m, n in sent.items() if n > 1]}\n{bot.tail()}"
    history = Counter(bot.rows("SELECT candidature_id, key FROM answer_history"))
    assert set(history.values()) == {1}, "each answer stored once"
    assert Counter(k for (k,) in bot.rows("SELECT key FROM answers")) == {
        "nom_collectivite": 3, "type_collectivite": 2, "siren": 1}


async def test_a_second_signal_exits_at_once_with_the_answer_kept(fake, tmp_path):
    bot = BotProcess(fake, tmp_path / "bot.db", tmp_path / "bot.log")
    await bot.start()
    await bot.healthy()
    greeting = says(fake, 5, "/start")
    await until(lambda: greeting in bot.seen() and not bot.rows(
        "SELECT id FROM outbox WHERE status = 'pending'"), bot)
    fake.stall_next("sendMessage", 60)                            # the next reply hangs
    answer = says(fake, 5, "Mairie de Testbourg-5")
    await until(lambda: any(c.outcome == "stalled" for c in fake.calls), bot)
    bot.signal()                                                  # stopping: waits for the send
    await until(lambda: '"event": "stopping"' in bot.tail(), bot)
    bot.signal()                                                  # the operator insists
    assert await bot.exit_code() == 128 + signal.SIGTERM, bot.tail()
    assert '"event": "stop-now"' in bot.tail()
    assert answer in bot.seen()
    assert bot.rows("SELECT key, value FROM answers") == [("nom_collectivite", '"Mairie de Testbourg-5"')]
