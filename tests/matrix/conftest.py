"""Matrix fixtures: one real Synapse per test session, bots and agents per test."""
from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from tnlbot.transports.matrix import Matrix, connect
from tnlbot.transports.matrix_render import Allow

from .agent import Agent, Said
from .synapse import Synapse, User, sweep_stale

_names = itertools.count(1)
# a question's counter: "question 4/10", or "question 4 · environ 16" where answers decide
QUESTION = re.compile(r"(volet|part) \d+/\d+ · question \d+(/\d+| · (environ|about) \d+)")


@pytest.fixture(scope="session")
def synapse(tmp_path_factory):
    """Its database in memory-backed /dev/shm when there is one: each event is fsynced."""
    if importlib.util.find_spec("synapse") is None:
        pytest.fail("the Matrix tests need Synapse: pip install -e '.[test]'")
    shm = Path("/dev/shm")
    in_memory = shm.is_dir() and os.access(shm, os.W_OK)
    if in_memory:
        sweep_stale(shm, "tnlbot-synapse-")   # left by runs that were killed
    data = (Path(tempfile.mkdtemp(prefix="tnlbot-synapse-", dir=shm)) if in_memory
            else tmp_path_factory.mktemp("synapse"))
    server = Synapse(data)
    try:
        yield server.start()
    finally:
        server.stop()
        if data.parent == shm:
            shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def register(synapse):
    """register("agent") -> a new user with a name unique in the session."""
    def make(prefix: str, admin: bool = False) -> User:
        return synapse.register(f"{prefix}-{next(_names)}-{uuid.uuid4().hex[:6]}", admin=admin)
    return make


class Bot:
    """The bot, in this process, on a real store, logged in with its password."""

    def __init__(self, url: str, user: User, app, crypto: Path, allow: str = "localhost"):
        self.url = url
        self.crypto = crypto
        self.user = user
        self.app = app
        self.allow = allow
        self.matrix: Matrix | None = None
        self.stop_event: asyncio.Event | None = None
        self.task: asyncio.Task | None = None

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def start(self, **options) -> "Bot":
        client = await connect(self.url, self.user.user_id, self.user.password, self.app.store,
                               self.crypto)
        self.matrix = Matrix(client, self.app.store, self.app.catalog, Allow.parse(self.allow),
                             self.app.clock, poll_ms=5000, wake=self.app.relay.wake.set,
                             keep=self.app.keep_file, **options)
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(self.app.runner.serve(self.matrix, self.stop_event,
                                                                  schedule=False))
        await asyncio.wait_for(self._first_sync(), 120)
        return self

    async def _first_sync(self) -> None:
        while self.matrix.receiver is None or self.matrix.receiver.batches < 1:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.task is not None:
            self.stop_event.set()
            await asyncio.wait_for(self.task, 120)
            self.task = None


@pytest.fixture
async def bot(synapse, register, make_app, sqlite_store, tmp_path):
    made = Bot(synapse.url, register("bot"), make_app(sqlite_store), tmp_path / "bot-crypto")
    yield made
    await made.stop()


@pytest.fixture
async def any_bot(synapse, register, make_app, any_store, tmp_path):
    """The bot on SQLite, then on PostgreSQL."""
    made = Bot(synapse.url, register("bot"), make_app(any_store), tmp_path / "bot-crypto")
    yield made
    await made.stop()


@pytest.fixture
async def agents(synapse, register, tmp_path):
    """agents("alice") -> a started Agent with a new account (and its own crypto store)."""
    made: list[Agent] = []

    async def make(prefix: str = "agent") -> Agent:
        user = register(prefix)
        agent = await Agent(synapse.url, user, tmp_path / f"agent-{user.localpart}").start()
        made.append(agent)
        return agent
    yield make
    for agent in made:
        await agent.close()


class Room:
    """One room as one agent sees it, with the bot in it: say, then read the bot."""

    def __init__(self, agent: Agent, bot_id: str, room_id: str):
        self.agent = agent
        self.bot_id = bot_id
        self.id = room_id
        self.seen = 0

    async def read(self, count: int = 1) -> list[Said]:
        said = await self.agent.replies(self.id, self.bot_id, count, self.seen)
        self.seen += count
        return said

    async def say(self, text: str, expect: int = 1, reply_to: str = "") -> list[Said]:
        await self.agent.say(self.id, text, reply_to)
        return await self.read(expect)

    async def answer(self, text: str, reply_to: str = "") -> Said:
        """Say something; return the next question the bot asks (notices before it are read)."""
        await self.agent.say(self.id, text, reply_to)
        return await self.next_question()

    async def tap(self, said: Said, key: str) -> Said:
        """Tap a reaction under a message; return the next question."""
        await self.agent.react(self.id, said.event_id, key)
        return await self.next_question()

    async def next_question(self) -> Said:
        def found() -> int:
            return next((i for i, m in enumerate(self.all()[self.seen:], self.seen)
                         if QUESTION.search(m.body)), -1) + 1
        self.seen = await self.agent.until(found)
        return self.all()[self.seen - 1]

    async def react(self, said: Said, key: str, expect: int = 1) -> list[Said]:
        await self.agent.react(self.id, said.event_id, key)
        return await self.read(expect)

    def shown(self, said: Said) -> Said:
        """A message of the bot as it looks now (after edits)."""
        return Said(said.event_id, self.agent.current(self.id, said.event_id))

    def all(self) -> list[Said]:
        return self.agent.messages(self.id, self.bot_id)

    async def until_shown(self, said: Said, fragment: str) -> Said:
        await self.agent.until(lambda: fragment in self.shown(said).body)
        return self.shown(said)


async def direct_room(agent: Agent, bot: Bot, encrypted: bool = False) -> tuple[Room, list[Said]]:
    """The agent opens a direct room with the bot; the bot greets and asks the first question."""
    room = Room(agent, bot.user_id, await agent.direct_room(bot.user_id, encrypted))
    return room, await room.read(2)
