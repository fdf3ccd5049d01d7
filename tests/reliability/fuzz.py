"""Random conversations against the real dispatcher and a SQLite file (hypothesis, stateful).

Three people talk at once: answers (valid for the question asked, or hostile),
commands with odd arguments, button presses and toggles with refs taken from
their own or someone else's conversation, presses in someone else's group
chat, whole-candidature fills with submission, exact re-deliveries, and
restarts (a new App on the same file). After every step:
- nothing raised;
- a conversation that is asking points at a question that applies (never a
  notice), an idle one at nothing;
- every stored answer key is a key the flow can produce;
- every submission holds only answers that apply (applicable_answers) and
  misses no required one; a submitted candidature has its submission;
- a recap lists exactly the questions that apply, with their own labels;
- a re-delivered event changes nothing, nor does a restart.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tnlbot.app import App, Settings
from tnlbot.core.events import FileRef, Inbound, InboundKind
from tnlbot.core.flow import Kind
from tnlbot.core.numbers import label
from tnlbot.core.walk import applicable_answers, missing, slots
from tnlbot.flows import load_all
from tnlbot.i18n import load_catalog
from tnlbot.runtime.clock import FakeClock
from tnlbot.store import Store
from tnlbot.transports.console import parse_line

from ..autofill import valid_answer
from ..conftest import START, open_campaign
from .corpus import CORPUS
from .dbstate import content, differences
from .fuzzdb import answers_of, conversations, items, shared_conversations, submissions
from .plan import siren_for

CATALOG = load_catalog()
FLOWS = load_all(locales=CATALOG.locales)
FLOW = FLOWS["tnl-2022"]
PEOPLE = ("ana", "ben", "chloe")
TEXTS = ["oui", "non", "1", "2", "3", "1, 2", "0", "99", "abc", "Mairie", "12", "-4", "3,5",
         "15/03/2022", "x@y.fr", "https://a.fr", "01 23 45 67 89", "732829320", "\u200b",
         "²", "1, ²"] + [text for _, text in CORPUS[::9]]
COMMANDS = ["aide", "retour", "passer", "recap", "manquant", "deposer", "langue", "statut",
            "annuler", "start", "modifier", "aller", "help", "skip", "back", "submit", "oublier",
            "qui", "equipe", "elu", "mes_donnees", "jury", "inconnue"]
ARGS = ["", "1", "2", "3", "7", "40", "0", "en", "fr", "x", "siren", "logiciels", "deja_labellise",
        "strategie", "volet:strategie", "-1", "1 2", "\x00", "\u202e", "²", "¹ 2", "9" * 5000]
VALUES = [("yes",), ("no",), ("1",), ("commune",), ("2016",), ("libreoffice",), (), ("yes", "no")]
KEY = re.compile(r"^(volet:[a-z_0-9]+|[a-z_0-9]+(\[\d+\]\.[a-z_0-9]+)?(\.other|\.done)?)$")


class Conversations(RuleBasedStateMachine):
    examples = 0          # runs so far (class-wide: the soak and the test report them)
    submissions = 0       # submissions the invariants were checked on
    steps = 0

    def __init__(self) -> None:
        super().__init__()
        Conversations.examples += 1
        self.folder = Path(tempfile.mkdtemp(prefix="tnlbot-fuzz-"))
        self.clock = FakeClock(START)
        self.store = Store(Store.sqlite_url(self.folder / "fuzz.db"))
        open_campaign(self.store)
        self.app = self._app()
        self.sent: list[Inbound] = []
        self.filled = False
        self.recaps: list[tuple[str, str]] = []   # (chat|user, recap text) of the last step

    def _app(self) -> App:
        return App(Settings(database_url=self.store.url), clock=self.clock, store=self.store,
                   flows=FLOWS, catalog=CATALOG)

    def teardown(self) -> None:
        Conversations.submissions += sum(len(snaps) for *_, snaps in submissions(self.store))
        Conversations.steps += len(self.sent)
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------ delivering
    def deliver(self, person: str, kind: InboundKind, chat: str = "", **fields) -> None:
        inbound = Inbound(transport="console", external_id=f"f{len(self.sent)}",
                          chat_id=chat or f"chat-{person}", user_id=person, kind=kind,
                          display_name=person, **fields)
        self.sent.append(inbound)
        self._handled(inbound)

    def _handled(self, inbound: Inbound) -> None:
        handled = self.app.dispatcher.handle(inbound)
        self.recaps = self._recaps(inbound, handled.outbox_ids)

    def _recaps(self, inbound: Inbound, ids: tuple[int, ...]) -> list[tuple[str, str]]:
        titles = tuple(CATALOG(locale, "recap.title") for locale in CATALOG.locales)
        texts = [item.text for item in items(self.store, ids)]
        return [(f"{inbound.chat_id}|{inbound.user_id}", t) for t in texts if t.startswith(titles)]

    def typed(self, person: str, line: str) -> None:
        parsed = parse_line(line, f"chat-{person}", person)
        self.deliver(person, parsed.kind, text=parsed.text, command=parsed.command, file=parsed.file)

    def cursor(self, person: str) -> str:
        return conversations(self.store).get(f"chat-{person}|{person}", ({}, {}))[0].get("cursor", "")

    # ------------------------------------------------------------ rules
    @rule(person=st.sampled_from(PEOPLE), text=st.sampled_from(TEXTS))
    def say(self, person: str, text: str) -> None:
        self.deliver(person, InboundKind.TEXT, text=text)

    @rule(person=st.sampled_from(PEOPLE), yes=st.booleans())
    def answer_well(self, person: str, yes: bool) -> None:
        """A valid answer to whatever this person is being asked."""
        self.answer_valid(person, yes)

    def answer_valid(self, person: str, yes: bool = True, overrides: dict | None = None) -> None:
        ref = self.cursor(person)
        if not ref or ref == "confirm":
            return self.typed(person, "/start")
        question = FLOW.questions.get(ref.split(".")[-1] if "[" in ref else ref)
        if question is not None and question.kind is Kind.FILE and not ref.endswith(".other"):
            return self.deliver(person, InboundKind.FILE,
                                file=FileRef("deliberation.pdf", "application/pdf", 1000, "f"))
        own = {"__items__": "oui" if yes else "non", "siren": siren_for(20 + PEOPLE.index(person))}
        self.typed(person, valid_answer(FLOW, ref, {**own, **(overrides or {})}))

    @rule(person=st.sampled_from(PEOPLE), name=st.sampled_from(COMMANDS), args=st.sampled_from(ARGS))
    def command(self, person: str, name: str, args: str) -> None:
        self.deliver(person, InboundKind.COMMAND, command=name, text=args)

    @rule(person=st.sampled_from(PEOPLE), owner=st.sampled_from(PEOPLE), values=st.sampled_from(VALUES),
          toggle=st.booleans(), data=st.data())
    def press(self, person: str, owner: str, values: tuple, toggle: bool, data) -> None:
        """A button of the owner's current prompt (or any question), pressed by `person`."""
        refs = [self.cursor(owner) or "confirm", "confirm"] + [s.key for s in slots(FLOW, {})][:20]
        ref = data.draw(st.sampled_from(refs))
        kind = InboundKind.TOGGLE if toggle else InboundKind.CHOICE
        self.deliver(person, kind, ref=ref, values=values[:1] if toggle else values)

    @rule(person=st.sampled_from(PEOPLE), owner=st.sampled_from(PEOPLE), values=st.sampled_from(VALUES))
    def press_in_their_group(self, person: str, owner: str, values: tuple) -> None:
        """Someone presses a button under another person's prompt in a shared chat."""
        self.deliver(person, InboundKind.CHOICE, chat=f"chat-{owner}", ref=self.cursor(owner) or "x",
                     values=values)

    @precondition(lambda self: not self.filled)
    @rule(person=st.sampled_from(PEOPLE), lean=st.booleans())
    def fill_and_submit(self, person: str, lean: bool) -> None:
        """Answer every missing required question (once per run: it is long), then submit."""
        self.filled = True
        skip = {f"volet:{v.id}": "non" for v in FLOW.volets if v.optional} if lean else {}
        self.typed(person, "/start")
        for _ in range(150):
            lacking = {s.key for _, s in missing(FLOW, answers_of(self.store, person))}
            if not lacking:
                break
            if self.cursor(person) not in lacking:
                self.typed(person, f"/modifier {min(lacking, key=_order(person, self))}")
            self.answer_valid(person, overrides=skip)
        for line in ("/elu declarer", "/deposer", "oui"):
            self.typed(person, line)

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def redeliver(self, data) -> None:
        before = content(self.store)
        inbound = data.draw(st.sampled_from(self.sent))
        assert self.app.dispatcher.handle(inbound).duplicate, inbound
        after = content(self.store)
        assert after == before, differences(after, before)

    @rule()
    def restart(self) -> None:
        before = content(self.store)
        self.store.close()
        self.store = Store(self.store.url)
        self.app = self._app()
        after = content(self.store)
        assert after == before, differences(after, before)

    # ------------------------------------------------------------ invariants
    @invariant()
    def cursors_point_at_questions_that_apply(self) -> None:
        """A conversation asks a question that applies, unless another conversation of its
        candidature (a colleague, or the same person in another chat) answered since in a way
        that closed it: that one is told on its next event (test_dialog: ..._made_moot_...)."""
        shared = shared_conversations(self.store)
        for address, (state, answers) in conversations(self.store).items():
            keys = {s.key: s for s in slots(FLOW, answers)}
            mode, cursor = state.get("mode"), state.get("cursor", "")
            if mode == "asking" and cursor not in keys and shared.get(address, 1) > 1:
                continue
            if mode == "asking":
                assert cursor in keys, f"{address} asks {cursor!r}, which does not apply"
                slot = keys[cursor]
                assert not (slot.question and slot.question.kind is Kind.NOTICE and not slot.part)
            elif mode == "idle":
                assert cursor == "", f"{address} is idle at {cursor!r}"

    @invariant()
    def stored_keys_are_keys_of_the_flow(self) -> None:
        for address, (_, answers) in conversations(self.store).items():
            bad = [k for k in answers if not KEY.match(k)]
            assert not bad, f"{address} holds answers under {bad}"

    @invariant()
    def submissions_hold_what_applies_and_are_complete(self) -> None:
        for address, version, status, snapshots in submissions(self.store):
            for answers in snapshots:
                assert answers == applicable_answers(FLOW, answers), f"{address}: inapplicable answer submitted"
                assert not missing(FLOW, answers), f"{address}: submitted without {missing(FLOW, answers)[0][1].key}"
            if status == "submitted":
                assert snapshots and len(snapshots) == version, f"{address}: version {version} not recorded"

    @invariant()
    def recaps_list_what_applies(self) -> None:
        known = conversations(self.store)
        for address, text in self.recaps:
            state, answers = known[address]
            check_recap(text, answers, state.get("locale", "fr"))


def _order(person: str, machine: Conversations):
    """Sort slot keys in the order the flow asks them."""
    order = {s.key: n for n, s in enumerate(slots(FLOW, answers_of(machine.store, person)))}
    return lambda key: order.get(key, len(order))


def check_recap(text: str, answers: dict, locale: str) -> None:
    """The recap lists exactly the slots that apply in the volets it shows, in flow order, each
    under the number it keeps whatever opens before it (a question's own number, `14.2` in a
    repeat block, `2a` for an "other" text), with their labels."""
    all_slots = slots(FLOW, answers)
    by_number = {label(FLOW, s): s for s in all_slots}
    texts = FLOW.text(locale)
    titles = {texts.volets[v.id].title: v.id for v in FLOW.volets}
    shown, numbers = set(), []
    for line in text.splitlines():
        header = re.fullmatch(r"== (.*) ==", line)
        if header:
            shown.add(titles[header[1]])
            continue
        match = re.match(r"(\d+(?:\.\d+)?a?)\. (.*?) → ", line)
        if not match:
            continue
        number = match[1]
        assert number in by_number, f"recap line {number}: no such question applies"
        slot = by_number[number]
        if slot.question is not None and not slot.part and slot.item < 0:
            assert match[2] == texts.questions[slot.question.id].text, f"line {number}: {match[2]!r}"
        numbers.append(number)
    expected = [label(FLOW, s) for s in all_slots if s.part != "adder" and s.volet.id in shown]
    assert numbers == expected, f"recap numbers {numbers[:20]}, applicable {expected[:20]}"


def fuzz_settings(examples: int, steps: int = 40) -> settings:
    """No shrinking: each step touches the database, shrinking would take minutes; the
    failing run's steps are printed as they are."""
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate])
