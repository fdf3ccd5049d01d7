"""The runner every transport plugs into: connect with back-off, serve, stop in order."""
from __future__ import annotations

import asyncio

from tnlbot.core.events import Inbound, InboundKind
from tnlbot.runtime.runner import Backoff
from tnlbot.runtime.transport import Refused, SendResult, SendStatus, Sink, Unreachable


class Chat:
    """An in-memory transport: what people say goes in through the sink, replies are kept."""
    name = "memory"

    def __init__(self, said: list[str]):
        self.said, self.replies, self.steps = said, [], []
        self.task: asyncio.Task | None = None

    async def start(self, sink: Sink) -> None:
        self.steps.append("start")
        self.task = asyncio.create_task(self._receive(sink))

    async def _receive(self, sink: Sink) -> None:
        for number, text in enumerate(self.said):
            handled = await sink(Inbound("memory", f"m{number}", "chat-1", "alice", InboundKind.TEXT,
                                         text=text, display_name="Alice"))
            assert handled.outbox_ids                  # committed, with its replies queued
        self.steps.append("input ended")

    async def send(self, row) -> SendResult:
        self.replies.append(row.item.text)
        return SendResult(SendStatus.SENT, ref=str(len(self.replies)))

    async def stop_receiving(self) -> None:
        self.steps.append("stop receiving")

    async def stop(self) -> None:
        self.steps.append("stop")


class Drain:
    """A service that records what the runner asks of it."""

    def __init__(self, steps: list[str]):
        self.steps = steps

    def install(self, stop: asyncio.Event) -> None:
        self.steps.append("install")

    async def open(self) -> None:
        self.steps.append("open")

    async def started(self, transport) -> None:
        self.steps.append("started")

    async def drain(self) -> None:
        self.steps.append("drain")

    async def close(self, status: int) -> None:
        self.steps.append(f"close {status}")


async def test_a_transport_is_connected_after_two_failures_served_and_stopped_in_order(app):
    chat = Chat(["bonjour", "Mairie de Testbourg"])
    attempts = []

    async def open_chat() -> Chat:
        attempts.append(len(attempts))
        if len(attempts) < 3:
            raise Unreachable("the platform is away")
        return chat
    app.runner.first_pause = 0.001
    status = await app.runner.run(open_chat, service=Drain(chat.steps), stop=asyncio.Event())
    assert status == 0 and len(attempts) == 3
    assert chat.steps == ["install", "open", "start", "started", "input ended", "stop receiving",
                          "drain", "stop", "close 0"]
    await app.relay.flush("memory")
    assert any("Quel est le nom de votre collectivité" in text for text in chat.replies)
    assert any("De quel type de structure" in text for text in chat.replies)


async def test_a_refused_login_ends_the_run_with_status_1_and_nothing_started(app):
    steps: list[str] = []

    async def refused() -> Chat:
        raise Refused("the platform refused the token")
    assert await app.runner.run(refused, service=Drain(steps), stop=asyncio.Event()) == 1
    assert steps == ["install", "open", "close 1"]


async def test_a_stop_while_the_platform_is_away_ends_the_run_quietly(app):
    stop = asyncio.Event()

    async def away() -> Chat:
        stop.set()                                    # SIGTERM while connecting
        raise Unreachable("the platform is away")
    assert await app.runner.run(away, service=Drain([]), stop=stop) == 0


def test_the_back_off_doubles_up_to_a_minute_and_starts_again_after_a_success():
    backoff = Backoff()
    assert [backoff.pause() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    backoff.reset()
    assert backoff.pause() == 1
