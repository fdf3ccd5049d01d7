"""Matrix: time from an agent's answer to the bot's next question, encrypted vs not.

    python -m bench.matrix_latency [--answers 60]

Starts a real Synapse (the test suite's recipe), the bot in this process on a
SQLite store in a temporary folder, and one agent (matrix-nio with E2E, as in
the tests) per room kind. The agent answers the first question, then goes
back (!retour), and again, so every message is followed by one question.
Latency: from just before the agent's send to the moment its own /sync
delivers (and, in the encrypted room, decrypts) the question. Beside it, the
homeserver's own round trip: one agent's message reaching another agent,
measured once after each answer so that both see the same load. The
homeserver's database is in /dev/shm when there is one, as in the tests.

Also counted: the bot's events per question in each room (messages, edits and
reactions), and what the previous rendering would have cost on the 2022 flow
(one event per question, plus one reaction per pre-set choice).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.matrix.agent import Agent
from tests.matrix.conftest import QUESTION, Room
from tests.matrix.synapse import Synapse
from tnlbot.app import App, Settings
from tnlbot.core.flow import Kind
from tnlbot.runtime.relay import SETTLE_QUIET
from tnlbot.store import Store
from tnlbot.transports.matrix import Matrix, connect
from tnlbot.transports.matrix_render import Allow


WARM_UP = 3          # answers per room not counted (first sends, first keys)


def summary(values: list[float]) -> str:
    return f"median {median(values) * 1000:6.1f} ms  p95 {p95(values) * 1000:6.1f} ms  (n={len(values)})"


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


@dataclass
class Hop:
    """The homeserver's own round trip: one agent's message reaching another agent."""
    a: Agent
    b: Agent
    room_id: str
    taken: list[float] = field(default_factory=list)

    @classmethod
    async def open(cls, a: Agent, b: Agent) -> "Hop":
        room_id = await a.group_room(b.user_id)
        await b.until(lambda: room_id in b.client.rooms)
        await a.until(lambda: b.user_id in a.client.rooms[room_id].users
                      and not a.client.rooms[room_id].users[b.user_id].invited)
        return cls(a, b, room_id)

    async def ping(self) -> None:
        started = time.perf_counter()
        event_id = await self.a.say(self.room_id, f"ping {len(self.taken)}")
        await self.b.until(lambda: any(e.get("event_id") == event_id for e in self.b.events.get(self.room_id, [])))
        self.taken.append(time.perf_counter() - started)


async def answer_loop(room: Room, answers: int, hop: Hop) -> list[float]:
    """Each answer followed by one homeserver round trip, so both see the same load."""
    await room.read(2)                                      # greeting, first question
    taken: list[float] = []
    for index in range(WARM_UP + answers):
        text = "Mairie de Saint-Libre" if index % 2 == 0 else "!retour"
        before = len(room.all())
        started = time.perf_counter()
        await room.agent.say(room.id, text)
        await room.agent.until(lambda at=before: any(QUESTION.search(m.body) for m in room.all()[at:]))
        if index >= WARM_UP:
            taken.append(time.perf_counter() - started)
            await hop.ping()
        room.seen = len(room.all())
    await settled(room)
    return taken


async def settled(room: Room, quiet: float = 2.0, longest: float = 30.0) -> None:
    """Wait for the settling edits (sent once the room is quiet): until the bot has sent
    nothing more for `quiet` seconds."""
    await asyncio.sleep(SETTLE_QUIET)
    seen, still, waited = -1, 0.0, 0.0
    while still < quiet and waited < longest:
        count = len(room.agent.from_bot(room.id, room.bot_id))
        still = still + 0.25 if count == seen else 0.0
        seen = count
        await asyncio.sleep(0.25)
        waited += 0.25


def events_per_question(room: Room) -> float:
    sent = [e for e in room.agent.from_bot(room.id, room.bot_id) if e.get("type") != "m.room.member"]
    asked = sum(1 for m in room.all() if QUESTION.search(m.body))
    return len(sent) / asked


@dataclass
class Latency:
    clear: list[float]           # answer -> next question, unencrypted room
    encrypted: list[float]
    hop_clear: list[float]       # the homeserver's round trip, interleaved with each room's answers
    hop_encrypted: list[float]
    events: tuple[float, float]  # bot events per question (unencrypted, encrypted)

    @property
    def ratio(self) -> float:
        """Encrypted room: median answer -> question over the median homeserver round trip."""
        return median(self.encrypted) / median(self.hop_encrypted)


def previous_cost(app: App) -> tuple[int, int]:
    """Questions of the 2022 flow, and the events the pre-set reactions made them cost."""
    flow = app.flows["tnl-2022"]
    questions = [q for q in flow.questions.values() if not q.parent]
    events = 0
    for q in questions:
        options = len(q.choices)
        if q.kind is Kind.YES_NO:
            options = 2
        keys = 0 if options > 10 else options + (1 if q.kind is Kind.MULTI else 0)
        events += 1 + (keys if q.kind in (Kind.YES_NO, Kind.SINGLE, Kind.MULTI) else 0)
    return len(questions), events


async def measure(answers: int) -> tuple[Latency, App]:
    with tempfile.TemporaryDirectory(prefix="tnlbot-matrix-bench-") as tmp:
        folder = Path(tmp)
        shm = Path("/dev/shm")     # as the test suite: the homeserver's database in memory
        server = Synapse(Path(tempfile.mkdtemp(prefix="tnlbot-synapse-", dir=shm)) if shm.is_dir()
                         and os.access(shm, os.W_OK) else folder / "synapse").start()
        try:
            store = Store(Store.sqlite_url(folder / "bot.db"))
            app = App(Settings(database_url=store.url), store=store)
            app.ensure_campaign()
            bot_user = server.register("bot")
            client = await connect(server.url, bot_user.user_id, bot_user.password, store,
                                   folder / "crypto")
            matrix = Matrix(client, store, app.catalog, Allow.parse("localhost"), app.clock,
                            wake=app.relay.wake.set)
            stop = asyncio.Event()
            running = asyncio.create_task(app.runner.serve(matrix, stop, schedule=False))
            agents: list[Agent] = []
            try:
                for name in ("peer-a", "peer-b"):
                    agents.append(await Agent(server.url, server.register(name), folder / name).start())
                results = {}
                for encrypted in (True, False):
                    user = server.register(f"agent{int(encrypted)}")
                    agent = await Agent(server.url, user, folder / f"agent{int(encrypted)}").start()
                    agents.append(agent)
                    hop = await Hop.open(agents[0], agents[1])
                    room = Room(agent, bot_user.user_id, await agent.direct_room(bot_user.user_id, encrypted))
                    results[encrypted] = (await answer_loop(room, answers, hop), events_per_question(room),
                                          hop.taken)
            finally:
                stop.set()
                await running
                for agent in agents:
                    await agent.close()
        finally:
            server.stop()
            if server.data.parent != folder:
                shutil.rmtree(server.data, ignore_errors=True)
    return Latency(results[False][0], results[True][0], results[False][2], results[True][2],
                   (results[False][1], results[True][1])), app


async def main(answers: int) -> None:
    found, app = await measure(answers)
    asked, cost = previous_cost(app)
    print(f"answer -> next question, encrypted room:   {summary(found.encrypted)}")
    print(f"homeserver round trip, beside each answer: {summary(found.hop_encrypted)}")
    print(f"answer -> next question, unencrypted room: {summary(found.clear)}")
    print(f"homeserver round trip, beside each answer: {summary(found.hop_clear)}")
    print(f"encrypted room, median answer -> question / median round trip: {found.ratio:.2f} (target <= 3)")
    print(f"bot events per question: unencrypted {found.events[0]:.2f}, encrypted {found.events[1]:.2f} "
          "(the question, and the edit that settles it)")
    print(f"with pre-set reactions (before): {cost} events for the {asked} questions of the 2022 flow "
          f"({cost / asked:.2f} per question, plus the settling edit)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=60)
    asyncio.run(main(parser.parse_args().answers))
