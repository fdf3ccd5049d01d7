"""Matrix: time from an agent's answer to the bot's next question, encrypted vs not.

    python -m bench.matrix_latency [--answers 60]

Starts a real Synapse (the test suite's recipe), the bot in this process on a
SQLite store in a temporary folder, and one agent (matrix-nio with E2E, as in
the tests) per room kind. The agent answers the first question, then goes
back (!retour), and again, so every message is followed by one question.
Latency: from just before the agent's send to the moment its own /sync
delivers (and, in the encrypted room, decrypts) the question. Beside it, the
homeserver's own round trip: one agent's message reaching another agent.

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
from pathlib import Path

from tests.matrix.agent import Agent
from tests.matrix.conftest import QUESTION, Room
from tests.matrix.synapse import Synapse
from tnlbot.app import App, Settings
from tnlbot.core.flow import Kind
from tnlbot.store import Store
from tnlbot.transports.matrix import Matrix, connect
from tnlbot.transports.matrix_render import Allow


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  (n={len(ordered)})"


async def answer_loop(room: Room, answers: int) -> list[float]:
    await room.read(2)                                      # greeting, first question
    taken: list[float] = []
    for index in range(answers):
        text = "Mairie de Saint-Libre" if index % 2 == 0 else "!retour"
        before = len(room.all())
        started = time.perf_counter()
        await room.agent.say(room.id, text)
        await room.agent.until(lambda at=before: any(QUESTION.search(m.body) for m in room.all()[at:]))
        taken.append(time.perf_counter() - started)
        room.seen = len(room.all())
    return taken


def events_per_question(room: Room) -> float:
    sent = [e for e in room.agent.from_bot(room.id, room.bot_id) if e.get("type") != "m.room.member"]
    asked = sum(1 for m in room.all() if QUESTION.search(m.body))
    return len(sent) / asked


async def homeserver_hop(a: Agent, b: Agent, count: int) -> list[float]:
    room_id = await a.group_room(b.user_id)
    await b.until(lambda: room_id in b.client.rooms)
    await a.until(lambda: b.user_id in a.client.rooms[room_id].users
                  and not a.client.rooms[room_id].users[b.user_id].invited)
    taken = []
    for index in range(count):
        started = time.perf_counter()
        event_id = await a.say(room_id, f"ping {index}")
        await b.until(lambda sent=event_id: any(e.get("event_id") == sent for e in b.events.get(room_id, [])))
        taken.append(time.perf_counter() - started)
    return taken


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


async def main(answers: int) -> None:
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
            agents = []
            try:
                results = {}
                for encrypted in (False, True):
                    user = server.register(f"agent{int(encrypted)}")
                    agent = await Agent(server.url, user, folder / f"agent{int(encrypted)}").start()
                    agents.append(agent)
                    room = Room(agent, bot_user.user_id, await agent.direct_room(bot_user.user_id, encrypted))
                    results[encrypted] = (await answer_loop(room, answers), events_per_question(room))
                other = await Agent(server.url, server.register("peer"), folder / "peer").start()
                agents.append(other)
                hop = await homeserver_hop(agents[0], other, answers)
            finally:
                stop.set()
                await running
                for agent in agents:
                    await agent.close()
        finally:
            server.stop()
            if server.data.parent != folder:
                shutil.rmtree(server.data, ignore_errors=True)
    asked, cost = previous_cost(app)
    print(f"answer -> next question, unencrypted room: {summary(results[False][0])}")
    print(f"answer -> next question, encrypted room:   {summary(results[True][0])}")
    print(f"homeserver round trip (agent -> agent):    {summary(hop)}")
    print(f"bot events per question: unencrypted {results[False][1]:.2f}, encrypted {results[True][1]:.2f} "
          "(the question, and the edit that settles it)")
    print(f"with pre-set reactions (before): {cost} events for the {asked} questions of the 2022 flow "
          f"({cost / asked:.2f} per question, plus the settling edit)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=60)
    asyncio.run(main(parser.parse_args().answers))
