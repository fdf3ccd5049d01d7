"""The load driver: people answering the bot as fast as its questions arrive.

Every person sends /start, then answers each question the moment it is
asked (the update is pushed to the Bot API server when the question's
sendMessage reaches it). The latency of an answer is the time from its
update being available to the bot to the next question reaching the
server (the bot's own share: from the getUpdates response that handed the
answer to the bot); the last answer's reply is whatever message follows it.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from .botapi import BotApi

BASE_USER = 810_000_000


@dataclass
class Person:
    user: int
    answers: tuple[str, ...]
    step: int = -1            # index of the last answer sent (-1: only /start)
    pushed_at: float = 0.0
    replied: int = 0          # answers followed by the next question: the bot has them
    done: bool = False
    message_id: int = 0
    update_id: int = 0


@dataclass
class Driver:
    api: BotApi
    questions: tuple[str, ...]          # what each question's message contains, in order
    people: dict[int, Person] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    own: list[float] = field(default_factory=list)    # from the bot fetching the answer
    asked: Counter = field(default_factory=Counter)   # (user, question) -> messages asking it
    started: float = 0.0
    steady: tuple[int, int] | None = None   # (API calls, answers) once everybody was greeted
    last_reply: float = 0.0
    last_message: float = 0.0

    def __post_init__(self) -> None:
        self.finished = asyncio.Event()

    def begin(self, scripts: list[tuple[str, ...]]) -> None:
        """Everybody sends /start at once."""
        self.started = self.last_message = time.perf_counter()
        for n, answers in enumerate(scripts):
            person = Person(BASE_USER + n, answers)
            self.people[person.user] = person
            self._say(person, "/start")

    def on_message(self, chat: int, text: str, at: float) -> None:
        person = self.people.get(chat)
        if person is None:
            return
        self.last_message = at
        seen = next((i for i, q in enumerate(self.questions) if q in text), None)
        if seen is not None:
            self.asked[(chat, seen)] += 1
        wanted = person.step + 1
        if person.done or (wanted < len(self.questions) and seen != wanted):
            return
        if person.step < 0 and self.steady is None and all(
                p.step >= 0 or p is person for p in self.people.values()):
            self.steady = (self.api.bot_calls(), self.answered())
        if person.step >= 0:
            self.latencies.append(at - person.pushed_at)
            fetched = self.api.delivered.get(person.update_id)
            if fetched is not None:
                self.own.append(at - fetched)
            person.replied += 1
            self.last_reply = at
        if wanted == len(person.answers):
            person.done = True
            if all(p.done for p in self.people.values()):
                self.finished.set()
            return
        person.step = wanted
        self._say(person, person.answers[wanted])

    def _say(self, person: Person, text: str) -> None:
        person.message_id += 1
        person.pushed_at = time.perf_counter()
        user = {"id": person.user, "is_bot": False, "first_name": f"Agent {person.user}",
                "language_code": "fr"}
        message: dict = {"message_id": person.message_id, "date": int(time.time()), "text": text,
                         "chat": {"id": person.user, "type": "private", "first_name": user["first_name"]},
                         "from": user}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        person.update_id = self.api.push({"message": message})

    # ------------------------------------------------------------ results
    def answered(self) -> int:
        return sum(p.replied for p in self.people.values())

    def replied_per_user(self) -> dict[int, int]:
        return {user: p.replied for user, p in self.people.items()}

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.asked.values() if n > 1)

    async def wait(self, budget: float, idle: float) -> None:
        """Until everybody is done, `budget` seconds have passed, or nothing came for `idle` s."""
        end = self.started + budget
        while not self.finished.is_set():
            now = time.perf_counter()
            if now >= end or now - self.last_message > idle:
                return
            try:
                await asyncio.wait_for(self.finished.wait(), min(0.2, end - now))
            except TimeoutError:
                pass


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
