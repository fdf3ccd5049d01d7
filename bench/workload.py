"""The shared workload: raw Telegram update JSON for N conversations x K answers.

The answers are valid for the questions the bot really asks: a first
conversation is driven through tnlbot (reading each prompt and picking a
valid value for its kind), and the script it produced is replayed for every
conversation, interleaved round-robin (each round, every user sends one
message), as many agents answering through the day would.
"""
from __future__ import annotations

import gc
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tnlbot.core.events import Outgoing
from tnlbot.core.flow import Flow, Kind

FLOW = "tnl-2022"
BASE_USER = 700_000_000
DATE = 1_718_179_200  # the updates' "date" field (any fixed instant)

# A valid typed answer per question kind.
VALUES: dict[Kind, str] = {
    Kind.YES_NO: "oui", Kind.SINGLE: "1", Kind.MULTI: "1",
    Kind.SHORT_TEXT: "Commune de Saint-Exemple", Kind.LONG_TEXT: "Une réponse de quelques mots.",
    Kind.INTEGER: "1200", Kind.DECIMAL: "4,5", Kind.PERCENT: "40", Kind.DATE: "12/03/2022",
    Kind.EMAIL: "mairie@example.org", Kind.URL: "https://example.org", Kind.PHONE: "01 23 45 67 89",
    Kind.SIREN: "213300635", Kind.SIRET: "21330063500017", Kind.DEPARTEMENT: "33",
}
SHORT_CODES = {"departement": "33"}  # short texts with a tighter length rule


def siren_for(conversation: int) -> str:
    """A valid SIREN (Luhn) of its own per conversation: a SIREN names one body."""
    base = f"{21_000_000 + conversation:08d}"
    for check in "0123456789":
        if _luhn(base + check):
            return base + check
    raise AssertionError("unreachable")


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


PER_CONVERSATION = {"siren": siren_for}


@dataclass(frozen=True)
class Script:
    """What one conversation says: /start, then one answer per prompt."""
    refs: tuple[str, ...]      # the prompt each answer replies to
    answers: tuple[str, ...]   # the text typed (conversation 0's)
    final_ref: str             # the prompt shown after the last answer

    def text(self, step: int, conversation: int) -> str:
        """The answer to prompt `step` in a given conversation."""
        own = PER_CONVERSATION.get(self.refs[step])
        return own(conversation) if own else self.answers[step]


def answer_for(flow: Flow, prompt: Outgoing) -> str:
    """A valid answer to the prompt the bot showed."""
    ref = prompt.ref
    if ref.startswith("volet:"):
        return "oui"
    if ref.endswith("+"):
        return "non"
    if ref.endswith(".other"):
        return "Une autre réponse"
    question = flow.questions[ref.rsplit(".", 1)[-1]]
    if question.id in PER_CONVERSATION:
        return PER_CONVERSATION[question.id](0)
    if question.id in SHORT_CODES:
        return SHORT_CODES[question.id]
    if question.kind not in VALUES:
        raise ValueError(f"no scripted answer for {ref} ({question.kind.value})")
    return VALUES[question.kind]


def learn_script(answers: int) -> Script:
    """Drive one conversation through tnlbot, reading each prompt."""
    from .tnl import TnlBot  # late import: the peers do not need tnlbot's runtime
    with tempfile.TemporaryDirectory() as folder:
        bot = TnlBot.sqlite(Path(folder) / "learn.db")
        try:
            flow = bot.app.flows[FLOW]
            prompt = bot.handle_raw(json.dumps(message_update(1, 0, 1, "/start")))
            refs, said = [], []
            for number in range(answers):
                if prompt is None:
                    raise RuntimeError(f"the bot stopped asking after {number} answers")
                text = answer_for(flow, prompt)
                refs.append(prompt.ref)
                said.append(text)
                prompt = bot.handle_raw(json.dumps(message_update(number + 2, 0, number + 2, text)))
            if bot.answer_count() != answers:
                raise RuntimeError(f"{answers} answers sent, {bot.answer_count()} stored")
        finally:
            bot.close()
    return Script(tuple(refs), tuple(said), prompt.ref if prompt else "")


def user_id(conversation: int) -> int:
    return BASE_USER + conversation


def message_update(update_id: int, conversation: int, message_id: int, text: str) -> dict:
    """A private-chat text message, as the Bot API delivers it."""
    user = user_id(conversation)
    message: dict = {
        "message_id": message_id, "date": DATE,
        "chat": {"id": user, "type": "private", "first_name": f"Agent {conversation}"},
        "from": {"id": user, "is_bot": False, "first_name": f"Agent {conversation}",
                 "language_code": "fr"},
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0,
                                "length": len(text.split(" ", 1)[0])}]
    return {"update_id": update_id, "message": message}


@dataclass(frozen=True)
class Updates:
    """Raw update JSON strings: the /start of each conversation, then the answers."""
    starts: list[str]
    answers: list[str]   # round-robin: answer 1 of every user, then answer 2...

    @property
    def all(self) -> list[str]:
        return self.starts + self.answers


def updates(script: Script, conversations: int, first: int = 0) -> Updates:
    """The updates of conversations first..first+conversations-1 (ids unique across ranges)."""
    people = range(first, first + conversations)
    rounds = [[json.dumps(message_update(_update_id(c, 0), c, 1, "/start")) for c in people]]
    for step in range(len(script.answers)):
        rounds.append([json.dumps(message_update(_update_id(c, step + 1), c, step + 2,
                                                 script.text(step, c)), ensure_ascii=False)
                       for c in people])
    return Updates(rounds[0], [raw for batch in rounds[1:] for raw in batch])


def _update_id(conversation: int, step: int) -> int:
    return conversation * 1000 + step + 1


def feed(handle: Callable[[str], object], raws: list[str], budget: float | None = None) -> tuple[float, int]:
    """Hand each update to `handle`: (seconds, updates processed).

    With a budget, stop at the first round number of updates after `budget`
    seconds (checked every 20 updates, so the check costs nothing).
    """
    gc.collect()
    start = time.perf_counter()
    processed = 0
    for raw in raws:
        handle(raw)
        processed += 1
        if budget is not None and processed % 20 == 0 and time.perf_counter() - start > budget:
            break
    return time.perf_counter() - start, processed


def expected_answers(work: Updates, processed: int) -> dict[str, int]:
    """Answers each user sent in the first `processed` answer updates (0 for the others)."""
    counts = {str(json.loads(raw)["message"]["from"]["id"]): 0 for raw in work.starts}
    for raw in work.answers[:processed]:
        counts[str(json.loads(raw)["message"]["from"]["id"])] += 1
    return counts
