"""kill -9 of `tnlbot run --transport telegram`: nothing confirmed is lost, nothing is done twice.

The bot runs as a real process against the fake Bot API. Four people answer
in waves; the bot is killed -9 while it handles a batch (fetched, partly
committed) and right after a batch was committed but before Telegram heard
of it (the next getUpdates never confirms it). Each time it is started
again. In the end every update the fake server saw confirmed is in the
database once, every answer was saved once, no question was queued twice, and
only a question on the wire at a kill may have been sent twice (it is sent
again at the restart: the person waits for it).
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

from sqlalchemy import create_engine, select

from tnlbot.store import tables as T

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = [600 + n for n in range(4)]


def siren(n: int) -> str:
    """A Luhn-valid SIREN of its own for each body (one candidature per SIREN)."""
    base = f"{73282930 + n:08d}"
    for check in "0123456789":
        digits = [int(d) for d in base + check]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
        if total % 10 == 0:
            return base + check
    raise AssertionError


def script(user: int) -> list[str]:
    return ["/start", f"Mairie de Testbourg-{user}", "commune", siren(user), "34", "1200", "25"]


def _push_scripts(fake, part: slice) -> list:
    """Every person's messages of `part` of their script, pushed in turn; their update ids."""
    pushed = []
    for user in PEOPLE:
        sender = {"id": user, "is_bot": False, "first_name": f"Agent {user}", "language_code": "fr"}
        pushed += [fake.push({"message": fake.user_message(user, sender, text)})
                   for text in script(user)[part]]
    return pushed


KEYS = ["nom_collectivite", "type_collectivite", "siren", "departement", "population",
        "nombre_agents"]


class Bot:
    """The bot process: started, killed -9, started again."""

    def __init__(self, fake, db: Path, log: Path):
        self.env = {**os.environ, "PYTHONPATH": str(ROOT),
                    "TNLBOT_DATABASE_URL": f"sqlite:///{db}",
                    "TNLBOT_TELEGRAM_TOKEN": fake.token,
                    "TNLBOT_TELEGRAM_BASE_URL": fake.base_url}
        self.log = log
        self.db = db
        self.proc: asyncio.subprocess.Process | None = None
        self.wave: list[int] = []
        self.at_kill: list[tuple[int, int]] = []   # (updates of the wave committed, wave size)

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tnlbot", "run", "--transport", "telegram",
                cwd=str(ROOT), env=self.env, stdout=out, stderr=out)

    def kill(self, *_: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    def committed(self) -> int:
        with closing(sqlite3.connect(self.db, timeout=5)) as conn:
            found = conn.execute("SELECT external_id FROM inbound_seen").fetchall()
        return len({int(e.split(":")[0]) for (e,) in found} & set(self.wave))

    async def kill_after_first_commit(self) -> None:
        for _ in range(20000):
            if self.committed():
                return self.kill()
            await asyncio.sleep(0.0005)

    def after_kill(self) -> None:
        self.at_kill.append((self.committed(), len(self.wave)))


async def until(condition, bot: Bot, timeout: float = 60.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        if bot.proc is not None and bot.proc.returncode is not None:
            bot.after_kill()
            await bot.start()                     # started again after the kill -9
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out; see {bot.log}:\n{bot.log.read_text()[-3000:]}")


async def test_kill_9_between_fetching_and_committing(fake, tmp_path):
    db, log = tmp_path / "x.db", tmp_path / "bot.log"
    bot = Bot(fake, db, log)
    loop = asyncio.get_running_loop()
    await bot.start()
    plan = [(slice(0, 3), "fetched"), (slice(3, 5), "committed"), (slice(5, 7), "partly committed")]
    pushed: list[int] = []
    for wave, how in plan:
        if how == "fetched":          # the batch is handed out: kill before it is committed
            fake.after_batch = lambda updates: (setattr(fake, "after_batch", None),
                                                loop.call_soon(bot.kill))
        elif how == "partly committed":  # kill as soon as the first update of it is committed
            fake.after_batch = lambda updates: (setattr(fake, "after_batch", None),
                                                loop.create_task(bot.kill_after_first_commit()))
        else:                         # all committed, but the offset never reaches Telegram
            fake.before_confirm = bot.kill
        bot.wave = _push_scripts(fake, wave)
        pushed += bot.wave
        await until(lambda: set(pushed) <= set(fake.confirmed) and not fake.queue, bot)
    await until(lambda: _sent_all(db), bot, timeout=90)
    bot.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(bot.proc.wait(), 30) == 0

    assert len(bot.at_kill) == 3, "the bot was killed -9 three times"
    fetched, committed, partly = bot.at_kill
    assert fetched[0] < fetched[1], "the first kill came before the batch was all committed"
    assert committed[0] == committed[1], "the second kill came after the commit, before the confirmation"
    assert partly[0] >= 1
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        seen = [r[0] for r in conn.execute(select(T.inbound_seen.c.external_id))]
        history = Counter((r.candidature_id, r.key) for r in conn.execute(select(T.answer_history)))
        answers = conn.execute(select(T.answers.c.key, T.answers.c.value)).all()
        prompts = Counter((r.chat_id, json.loads(r.payload).get("ref")) for r in conn.execute(
            select(T.outbox)) if json.loads(r.payload)["kind"] == "prompt")
    engine.dispose()
    processed = Counter(int(e.split(":")[0]) for e in seen)
    assert set(processed) == set(fake.confirmed) == set(pushed), "every confirmed update is stored"
    assert max(processed.values()) == 1
    assert len(history) == len(PEOPLE) * len(KEYS) and set(history.values()) == {1}, \
        "each answer saved once"
    assert Counter(k for k, _ in answers) == {k: len(PEOPLE) for k in KEYS}
    assert set(prompts.values()) == {1}, "no question asked twice"
    calls = [c for c in fake.calls if c.method == "sendMessage" and c.outcome == "ok"]
    sent = Counter((c.params["chat_id"], c.params["text"]) for c in calls)
    questions = {(c.params["chat_id"], c.params["text"]) for c in calls if c.params.get("reply_markup")}
    again = {message: n for message, n in sent.items() if n > 1}
    # a question on the wire when the process died is asked again at the restart (the person
    # waits for it); nothing else is sent twice, and no question more than once again
    assert set(again) <= questions and set(again.values()) <= {2}, "only a question sent twice"
    assert len(again) <= 3 * 8, "at most the questions on the wire at each kill (PARALLEL sends)"
    db.unlink()


def _sent_all(db: Path) -> bool:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            statuses = {r[0] for r in conn.execute(select(T.outbox.c.status))}
    finally:
        engine.dispose()
    return bool(statuses) and not statuses & {"pending", "sending"}


# Loaded at the bot's start (a sitecustomize module): the process kills itself -9 right
# after the N-th event of its life left its savepoint, inside the batch's transaction.
KILL_AT_SAVEPOINT = '''
import os, signal
from contextlib import contextmanager
if os.environ.get("KILL_AT_SAVEPOINT"):
    from tnlbot.store import store as module
    limit, done, plain = int(os.environ["KILL_AT_SAVEPOINT"]), [0], module.Store.savepoint

    @contextmanager
    def savepoint(self, conn):
        with plain(self, conn):
            yield
        done[0] += 1
        if done[0] == limit:
            os.kill(os.getpid(), signal.SIGKILL)
    module.Store.savepoint = savepoint
'''


def _bot_with_hook(fake, db, tmp_path, hook: str) -> "Bot":
    """The bot process with `hook` run at its start (a sitecustomize module on its path)."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(hook, encoding="utf-8")
    bot = Bot(fake, db, tmp_path / "bot.log")
    bot.env["PYTHONPATH"] = os.pathsep.join((str(hooks), str(ROOT)))
    return bot


async def test_kill_9_inside_a_batch_between_savepoints_and_before_its_commit(fake, tmp_path):
    """Group commit: a kill -9 between two events of a batch, or after its last event but
    before the commit, leaves nothing of the batch; it comes again and is handled once."""
    db = tmp_path / "x.db"
    bot = _bot_with_hook(fake, db, tmp_path, KILL_AT_SAVEPOINT)
    pushed = _push_scripts(fake, slice(None, 3))
    bot.wave = pushed
    for kill_at in (5, len(pushed)):                   # between savepoints; before the commit
        bot.env["KILL_AT_SAVEPOINT"] = str(kill_at)
        await bot.start()
        assert await asyncio.wait_for(bot.proc.wait(), 60) == -signal.SIGKILL
        assert bot.committed() == 0 and not fake.confirmed
    del bot.env["KILL_AT_SAVEPOINT"]
    await bot.start()
    pushed += _push_scripts(fake, slice(3, None))
    await until(lambda: set(pushed) <= set(fake.confirmed) and not fake.queue, bot)
    await until(lambda: _sent_all(db), bot, timeout=90)
    bot.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(bot.proc.wait(), 30) == 0
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        seen = Counter(int(r[0].split(":")[0]) for r in conn.execute(select(T.inbound_seen.c.external_id)))
        history = Counter((r.candidature_id, r.key) for r in conn.execute(select(T.answer_history)))
        prompts = Counter((r.chat_id, json.loads(r.payload).get("ref")) for r in conn.execute(
            select(T.outbox)) if json.loads(r.payload)["kind"] == "prompt")
    engine.dispose()
    assert set(seen) == set(pushed) and set(seen.values()) == {1}, "every update stored once"
    assert len(history) == len(PEOPLE) * len(KEYS) and set(history.values()) == {1}
    assert set(prompts.values()) == {1}, "no question asked twice"


# Loaded at the bot's start (a sitecustomize module): the process kills itself -9 when the
# relay is about to send the N-th question of its life, its row claimed (`sending`, committed).
KILL_AT_QUESTION = '''
import os, signal
if os.environ.get("KILL_AT_QUESTION"):
    from tnlbot.core.events import OutKind
    from tnlbot.transports import telegram as module
    limit, done, plain = int(os.environ["KILL_AT_QUESTION"]), [0], module.Telegram.send

    async def send(self, row):
        if row.item.kind is OutKind.PROMPT:
            done[0] += 1
            if done[0] == limit:
                os.kill(os.getpid(), signal.SIGKILL)
        return await plain(self, row)
    module.Telegram.send = send
'''


async def test_kill_9_while_a_question_is_sending_asks_it_again(fake, tmp_path):
    """A question claimed (`sending`) but not sent when the process dies is sent after the
    restart: the person gets it and finishes (a notice would stay at most once)."""
    db = tmp_path / "x.db"
    bot = _bot_with_hook(fake, db, tmp_path, KILL_AT_QUESTION)
    bot.env["KILL_AT_QUESTION"] = "2"
    user = PEOPLE[0]
    sender = {"id": user, "is_bot": False, "first_name": f"Agent {user}", "language_code": "fr"}
    texts = script(user)
    pushed = [fake.push({"message": fake.user_message(user, sender, text)}) for text in texts[:2]]
    await bot.start()
    assert await asyncio.wait_for(bot.proc.wait(), 60) == -signal.SIGKILL
    left = _rows(db, T.outbox.c.status == "sending")
    assert [json.loads(r.payload)["kind"] for r in left] == ["prompt"], "killed with a question claimed"
    question = left[0].id
    before = _sent_to(fake, user)
    del bot.env["KILL_AT_QUESTION"]
    await bot.start()
    await until(lambda: [r.status for r in _rows(db, T.outbox.c.id == question)] == ["sent"], bot)
    assert _sent_to(fake, user) > before, "the question reached the person after the restart"
    pushed += [fake.push({"message": fake.user_message(user, sender, text)}) for text in texts[2:]]
    await until(lambda: set(pushed) <= set(fake.confirmed) and not fake.queue, bot)
    await until(lambda: _sent_all(db), bot, timeout=90)
    bot.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(bot.proc.wait(), 30) == 0
    assert len(bot.at_kill) == 0, "killed once, by the hook only"
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        answers = dict(conn.execute(select(T.answers.c.key, T.answers.c.value)).all())
    engine.dispose()
    assert set(answers) >= set(KEYS), "the person got the question again and finished"
    assert not {r.status for r in _rows(db, T.outbox.c.id > 0)} & {"sending", "uncertain", "pending"}


def _rows(db: Path, where) -> list:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(T.outbox).where(where)).all())
    finally:
        engine.dispose()


def _sent_to(fake, user: int) -> int:
    return sum(1 for c in fake.calls if c.method == "sendMessage" and c.outcome == "ok"
               and c.params.get("chat_id") == user)


# Loaded at the bot's start (a sitecustomize module): the process kills itself -9 right
# after the N-th event of its life was handled, inside its batch's transaction (on
# PostgreSQL a batch is read ahead: its writes are still held or in flight there).
KILL_AT_EVENT = '''
import os, signal
if os.environ.get("KILL_AT_EVENT"):
    from tnlbot.runtime import dispatcher as module
    limit, done, plain = int(os.environ["KILL_AT_EVENT"]), [0], module.Dispatcher._handle

    def _handle(self, *args, **kwargs):
        handled = plain(self, *args, **kwargs)
        done[0] += 1
        if done[0] == limit:
            os.kill(os.getpid(), signal.SIGKILL)
        return handled
    module.Dispatcher._handle = _handle
'''


class PgBot(Bot):
    """The bot process on a PostgreSQL database."""

    def __init__(self, fake, url: str, log: Path):
        super().__init__(fake, Path("unused"), log)
        self.env["TNLBOT_DATABASE_URL"] = url
        self.engine = create_engine(url)

    def committed(self) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(select(T.inbound_seen.c.external_id)).scalars().all()
        return len({int(e.split(":")[0]) for e in found} & set(self.wave))


async def test_kill_9_inside_a_batch_read_ahead_on_postgresql(fake, tmp_path, pg_url):
    """Group commit on PostgreSQL, the batch read ahead: a kill -9 between two events, or
    after the last before the batch's writes are sent and committed, leaves nothing of the
    batch; it comes again and is handled once."""
    from tests.conftest import _pg_store
    _pg_store(pg_url).close()                              # empty tables of its own
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(KILL_AT_EVENT, encoding="utf-8")
    bot = PgBot(fake, pg_url, tmp_path / "bot.log")
    bot.env["PYTHONPATH"] = os.pathsep.join((str(hooks), str(ROOT)))
    try:
        pushed = _push_scripts(fake, slice(None, 3))
        bot.wave = pushed
        for kill_at in (5, len(pushed)):               # between events; before the writes and commit
            bot.env["KILL_AT_EVENT"] = str(kill_at)
            await bot.start()
            assert await asyncio.wait_for(bot.proc.wait(), 60) == -signal.SIGKILL
            assert bot.committed() == 0 and not fake.confirmed
        del bot.env["KILL_AT_EVENT"]
        await bot.start()
        pushed += _push_scripts(fake, slice(3, None))
        bot.wave = pushed
        await until(lambda: set(pushed) <= set(fake.confirmed) and not fake.queue, bot)
        bot.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.proc.wait(), 30) == 0
        with bot.engine.connect() as conn:
            seen = Counter(int(r[0].split(":")[0]) for r in conn.execute(select(T.inbound_seen.c.external_id)))
            history = Counter((r.candidature_id, r.key) for r in conn.execute(select(T.answer_history)))
            prompts = Counter((r.chat_id, json.loads(r.payload).get("ref")) for r in conn.execute(
                select(T.outbox)) if json.loads(r.payload)["kind"] == "prompt")
    finally:
        bot.kill()
        bot.engine.dispose()
    assert set(seen) == set(pushed) and set(seen.values()) == {1}, "every update stored once"
    assert len(history) == len(PEOPLE) * len(KEYS) and set(history.values()) == {1}
    assert set(prompts.values()) == {1}, "no question asked twice"
