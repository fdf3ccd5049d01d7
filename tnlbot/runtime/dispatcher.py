"""The dispatcher: one inbound event, or one delivered batch, one transaction.

How this file works:
- `handle(inbound)` opens ONE transaction: it records the inbound id (a
  duplicate delivery stops there and changes nothing), loads or starts the
  conversation, runs the pure engine, saves answers with their history, the
  conversation state, the candidature and the outgoing messages (outbox),
  then commits. Only after the commit may a transport acknowledge the
  platform (advance an offset, store a sync token, answer a webhook).
- `submit_batch(inbounds)` does the same for what a platform delivered
  together (a getUpdates response): ONE transaction, each event in its own
  savepoint, in delivery order (group commit: one commit for the batch). An
  event that fails is rolled back alone; its exception is its result, and
  the transport fetches it again or sets it aside. Nothing of the batch may
  be acknowledged before `submit_batch` returns. On PostgreSQL the batch is
  first run read ahead (`_ahead`, the store's `ahead`: its reads in one round
  trip, its writes held and sent as one statement per table); if anything
  fails there it is rolled back and run again one savepoint per event.
- A transport may hand a `Step` with an event: it runs first in the event's
  savepoint with a `Lookup` on this transaction (whom a pressed button was
  for, a chat that moved), and may settle the event there (nothing stored).
- `submit(inbound)` is the async entry for one event: a per-conversation lock keeps events
  of one conversation in order; on PostgreSQL the transaction runs in a
  worker thread so the event loop keeps serving other conversations.
- Input a database would reject (NUL, lone surrogates) is refused by the
  engine's parsers before it reaches SQL; ids too long for their columns are
  cut at the boundary here.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from contextlib import AsyncExitStack
from functools import lru_cache
from typing import Callable, Mapping, Protocol, Sequence
from weakref import WeakValueDictionary
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ..core.engine import Dossier, Outcome, handle
from ..core.events import Addressed, Inbound, InboundKind, Outgoing, OutKind
from ..core.flow import JSON, Flow
from ..core.machine import CONFIRMING
from ..i18n import Catalog, local_time
from ..store import ConversationRow, Store
from ..store.campaigns import campaign_by_slug, current_campaign
from .clock import Clock
from .transport import Handled, Step

# Enum members read on every event, as module constants: reading one through its class
# goes through the Enum metaclass's __getattr__ hook, a Python-level call each time
_COMMAND = InboundKind.COMMAND

log = logging.getLogger(__name__)


class Hook(Protocol):
    """A feature that takes part in the dispatch transaction (campaigns, jury).

    `before` runs after the duplicate check, before the engine: returning a
    list of messages means "handled" (the engine is not called). `after` may
    rewrite the engine's outcome before it is saved (add messages, refuse a
    change); it is given the answers as they were before the event. Both run
    inside the one transaction; neither may commit. A hook without `after`
    is skipped there.
    A hook may also define `dossier(conn, inbound, conv, answers, dossier, now)
    -> Dossier` to fill the Dossier fields it owns (e.g. assigned volets).
    """

    def before(self, conn: Connection, inbound: Inbound, conv: ConversationRow | None,
               now: datetime) -> list[Addressed] | None: ...

    def after(self, conn: Connection, inbound: Inbound, conv: ConversationRow,
              outcome: Outcome, now: datetime, answers: Mapping[str, JSON]) -> Outcome: ...


# Freezes the version an event submitted (the jury's `freeze`), after its answers are saved
Freeze = Callable[[Connection, ConversationRow, Outcome, Flow, datetime], None]


@dataclass
class Dispatcher:
    store: Store
    flows: Mapping[str, Flow]
    catalog: Catalog
    clock: Clock
    campaign_slug: str = ""
    hooks: list[Hook] = field(default_factory=list)
    # given by the composition root; without it an event that submits is refused (rolled back)
    freeze: Freeze | None = None
    # called after each commit with (inbound, handled, seconds spent): metrics, logs
    observers: list[Callable[[Inbound, Handled, float], None]] = field(default_factory=list)
    _locks: "WeakValueDictionary[tuple[str, str, str], asyncio.Lock]" = field(
        default_factory=WeakValueDictionary)
    # inbound limit per person: with this many replies still waiting to leave for their chat,
    # what they send is dropped unstored (told once); 0: no limit
    backlog_limit: int = 20
    _told: set[tuple[str, str, str]] = field(default_factory=set)
    # (hooks, their `dossier` methods, their `after` methods), looked up again when `hooks` changes
    _staged: tuple[tuple[Hook, ...], tuple[Callable[..., Dossier], ...], tuple[Callable[..., Outcome], ...]] = (
        field(default=((), (), ()), repr=False))

    def _stages(self) -> tuple[tuple[Callable[..., Dossier], ...], tuple[Callable[..., Outcome], ...]]:
        """The hooks' optional methods, found once rather than looked for on every event."""
        hooks = tuple(self.hooks)
        staged = self._staged
        if staged[0] != hooks:
            staged = self._staged = (
                hooks, tuple(m for m in (getattr(h, "dossier", None) for h in hooks) if m is not None),
                tuple(m for m in (getattr(h, "after", None) for h in hooks) if m is not None))
        return staged[1], staged[2]

    def _flooding(self, inbound: Inbound, pending: int | None = None) -> bool:
        if not inbound.user_id:
            return False     # a chat's own news (a new id) from no one: never held back
        key = (inbound.transport, inbound.chat_id, inbound.user_id)
        if pending is None:
            pending = self.store.pending_for(inbound.transport, inbound.chat_id, self.backlog_limit)
        if pending <= self.backlog_limit // 4:
            self._told.discard(key)            # caught up: a later flood is told again
        return pending >= self.backlog_limit

    def _held_back(self, inbound: Inbound) -> Handled:
        """Dropped without being stored; the first time, a polite word (it jumps no queue)."""
        key = (inbound.transport, inbound.chat_id, inbound.user_id)
        if key in self._told:
            return Handled(refused="flood")
        self._told.add(key)
        locale = self.store.conversation_locale(inbound.transport, inbound.chat_id, inbound.user_id)
        item = Outgoing(OutKind.NOTICE, self.catalog(locale, "error.flood"))
        with self.store.begin() as conn:
            ids = self.store.enqueue(conn, [Addressed(inbound.transport, inbound.chat_id, item,
                                                      inbound.user_id, locale=locale,
                                                      display_name=inbound.display_name)],
                                     self.clock.now())
        return Handled(outbox_ids=tuple(ids), refused="flood")

    async def submit(self, inbound: Inbound, step: Step | None = None) -> Handled:
        """One event from a transport; a person whose replies pile up unsent is held back."""
        if self.backlog_limit and self._flooding(inbound):
            held = self._held_back(inbound)
            for observe in self.observers:
                observe(inbound, held, 0.0)
            return held
        key = (inbound.transport, inbound.chat_id, inbound.user_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            started = time.perf_counter()
            handled = await self.store.off_loop(self.handle, inbound, step)
            for observe in self.observers:
                observe(inbound, handled, time.perf_counter() - started)
            return handled

    async def submit_batch(self, inbounds: Sequence[Inbound],
                           then: Callable[[Connection], None] | None = None,
                           steps: Sequence[Step | None] = ()) -> list[Handled | Exception]:
        """What a platform delivered together, in one transaction (group commit): each
        event in its own savepoint, in delivery order; an event that fails rolls back
        alone and its exception takes its place in the result. `then(conn)` writes, in
        the same transaction after the events, what the transport keeps with them (its
        acknowledgement: a sync token), only when no event failed; if it fails, nothing
        is committed. `steps`, when given, go with the events one by one. Committed when returned."""
        results: list[Handled | Exception | None] = [None] * len(inbounds)
        batch: list[int] = []
        pending = self._pending(inbounds) if self.backlog_limit else {}
        for index, inbound in enumerate(inbounds):
            if self.backlog_limit and self._flooding(
                    inbound, pending.get((inbound.transport, inbound.chat_id), 0)):
                results[index] = self._held_back(inbound)
            else:
                batch.append(index)
        keys = sorted({(i.transport, i.chat_id, i.user_id) for i in inbounds})
        locks = [self._locks.get(key) or self._locks.setdefault(key, asyncio.Lock()) for key in keys]
        async with AsyncExitStack() as held:
            for lock in locks:
                await held.enter_async_context(lock)
            started = time.perf_counter()
            chosen = [inbounds[i] for i in batch]
            chosen_steps = [steps[i] for i in batch] if steps else []
            done = await self.store.off_loop(self.handle_batch, chosen, then, chosen_steps)
            seconds = (time.perf_counter() - started) / max(1, len(chosen))
        for index, result in zip(batch, done):
            results[index] = result
        for inbound, outcome in zip(inbounds, results):
            if isinstance(outcome, Handled):
                for observe in self.observers:
                    observe(inbound, outcome, seconds)
        return [r for r in results if r is not None]

    def _pending(self, inbounds: Sequence[Inbound]) -> dict[tuple[str, str], int]:
        chats: dict[str, set[str]] = {}
        for inbound in inbounds:
            chats.setdefault(inbound.transport, set()).add(inbound.chat_id)
        return {(transport, chat): n for transport, ids in chats.items()
                for chat, n in self.store.pending_counts(transport, sorted(ids)).items()}

    def handle_batch(self, inbounds: Sequence[Inbound],
                     then: Callable[[Connection], None] | None = None,
                     steps: Sequence[Step | None] = ()) -> list[Handled | Exception]:
        """Events in one transaction, one savepoint each (see `submit_batch`).

        PostgreSQL: the batch is first tried read ahead (`_ahead`), in a few round trips;
        if anything fails there, it is run again here one savepoint per event."""
        now = self.clock.now()
        results: list[Handled | Exception] = []
        with self.store.begin() as conn:
            ahead = self._ahead(conn, inbounds, now, steps)
            if ahead is not None:
                results = ahead
            for index, inbound in enumerate(inbounds if ahead is None else ()):
                step = steps[index] if steps else None
                try:
                    with self.store.savepoint(conn):
                        results.append(self._handle(conn, _bounded(inbound), now, step))
                except Exception as exc:  # logged; this event alone is rolled back
                    log.warning("inbound %s failed in its batch", inbound.external_id, exc_info=True)
                    results.append(exc)
            if then is not None and not any(isinstance(r, Exception) for r in results):
                then(conn)
        return results

    def _ahead(self, conn: Connection, inbounds: Sequence[Inbound], now: datetime,
               steps: Sequence[Step | None]) -> list[Handled | Exception] | None:
        """PostgreSQL: the whole batch at once, its reads ahead and its writes in one
        pipeline (the store's `ahead`); None when that failed and nothing of it remains
        (the caller then runs it one savepoint per event, where a bad event fails alone).
        A held file is taken once by its event: such a batch is not tried ahead."""
        if self.store.is_sqlite or len(inbounds) < 2 or any(i.file is not None for i in inbounds):
            return None
        bounded = [_bounded(i) for i in inbounds]
        done: list[tuple[Handled, int, int]] = []
        try:
            with self.store.ahead(conn, [(i.transport, i.external_id, i.chat_id, i.user_id)
                                         for i in bounded]) as fast:
                for index, inbound in enumerate(bounded):
                    first = fast.queued
                    handled = self._handle(conn, inbound, now, steps[index] if steps else None)
                    done.append((handled, first, fast.queued))
                queued = fast.outbox        # written out and settled when `ahead` ends
        except Exception:   # rolled back to its savepoint: run again one savepoint per event
            log.info("a batch of %d events is run again one by one", len(inbounds), exc_info=True)
            return None
        ids = self.store.outbox_ids(queued)
        return [replace(handled, outbox_ids=ids[first:last]) if last > first else handled
                for handled, first, last in done]

    def handle(self, inbound: Inbound, step: Step | None = None) -> Handled:
        inbound = _bounded(inbound)
        now = self.clock.now()
        with self.store.begin() as conn:
            return self._handle(conn, inbound, now, step)

    def _handle(self, conn: Connection, inbound: Inbound, now: datetime,
                step: Step | None = None) -> Handled:
        """One event inside the caller's transaction."""
        if step is not None:
            stepped = step(StoreLookup(self.store, conn, inbound.transport), inbound)
            if isinstance(stepped, str):
                return Handled(refused="transport", answer=stepped)
            inbound = _bounded(stepped)
        if not self.store.mark_seen(conn, inbound.transport, inbound.external_id, now):
            return Handled(duplicate=True)
        # an answer (not a command) is never handled by a hook's `before` in a way that
        # changes the answers: read them with the conversation, in the same statement
        conv = self.store.conversation(conn, inbound.transport, inbound.chat_id, inbound.user_id,
                                       with_answers=inbound.kind is not _COMMAND)
        for hook in self.hooks:
            early = hook.before(conn, inbound, conv, now)
            if early is not None:
                return Handled(outbox_ids=tuple(self.store.enqueue(conn, early, now)),
                               messages=tuple(early), conversation=conv.id if conv else 0,
                               candidature=conv.candidature_id if conv else 0)
        if conv is None:
            campaign = (campaign_by_slug(conn, self.campaign_slug) if self.campaign_slug
                        else current_campaign(conn, now))
            if campaign is None:
                raise LookupError(f"no campaign {self.campaign_slug!r} in the store")
            campaign_id = campaign.id
            conv = self.store.start_conversation(conn, inbound.transport, inbound.chat_id,
                                                 inbound.user_id, inbound.display_name,
                                                 campaign_id, now)
        flow = self.flows[conv.flow_id]
        answers = (conv.answers if conv.answers is not None
                   else self.store.answers(conn, conv.candidature_id))
        dossier = self.dossier(conv, now)
        shapes, afters = self._stages()
        for shape in shapes:
            dossier = shape(conn, inbound, conv, answers, dossier, now)
        walked = conv.walked    # the walk kept with the answers' copy, for this flow only
        engine = outcome = handle(flow, self.catalog, conv.state, dossier, answers, inbound,
                                  walked[1] if walked is not None and walked[0] is flow else None)
        for after in afters:
            outcome = after(conn, inbound, conv, outcome, now, answers)
        if outcome.view is not None and outcome.changes is not engine.changes:
            outcome = replace(outcome, view=None)   # a hook changed the answers: walk again
        # each row carries what sending it needs: the relay reads nothing more
        locale, name = outcome.state.locale, inbound.display_name
        addressed = [Addressed(inbound.transport, inbound.chat_id, item, inbound.user_id,
                               locale=locale, display_name=name) for item in outcome.messages]
        ids = self.store.apply(conn, conv, answers, outcome, addressed, now, flow)
        if outcome.submission is not None:
            if self.freeze is None:
                raise RuntimeError("a version was submitted and nothing freezes it for the jury")
            self.freeze(conn, conv, outcome, flow, now)
        return Handled(outbox_ids=tuple(ids), messages=tuple(addressed), conversation=conv.id,
                       candidature=conv.candidature_id, answers=len(outcome.changes))

    def dossier(self, conv: ConversationRow, now: datetime) -> Dossier:
        locale = conv.state.locale
        accepting = (conv.campaign_state != "closed" and conv.opens_at <= now < conv.closes_at
                     and conv.status != "frozen")
        closed_text = ""
        if not accepting:
            if now < conv.opens_at:
                closed_text = self.catalog(locale, "campaign.not_open",
                                           when=local_time(conv.opens_at, locale, conv.timezone))
            else:
                closed_text = self.catalog(locale, "campaign.closed",
                                           when=local_time(conv.closes_at, locale, conv.timezone))
        submitted = local_time(conv.submitted_at, locale, conv.timezone) if conv.submitted_at else ""
        return Dossier(status=conv.status, version=conv.version, submitted_at=submitted,
                       amended=conv.amended, accepting=accepting, closed_text=closed_text,
                       is_responsible=conv.is_responsible,
                       campaign_dates=(_day(conv.opens_at, conv.timezone), _day(conv.closes_at, conv.timezone)),
                       # only a confirmation submits, and the receipt shows this instant
                       now_local=(local_time(now, locale, conv.timezone)
                                  if conv.state.mode == CONFIRMING else ""))


@dataclass(frozen=True, slots=True)
class StoreLookup:
    """The `Lookup` a transport's step gets: the store, one transport, this transaction."""
    store: Store
    conn: Connection
    transport: str

    def prompt_sent_as(self, chat_id: str, sent_ref: str) -> tuple[str, Outgoing] | None:
        return self.store.prompt_sent_as(self.transport, chat_id, sent_ref, conn=self.conn)

    def last_prompt_message(self, chat_id: str, user_id: str) -> str:
        return self.store.last_prompt_message(self.transport, chat_id, user_id, conn=self.conn)

    def conversation_locale(self, chat_id: str, user_id: str) -> str:
        return self.store.conversation_locale(self.transport, chat_id, user_id, conn=self.conn)

    def person_name(self, user_id: str) -> str:
        return self.store.person_name(self.transport, user_id, conn=self.conn)

    def move_chat(self, old_chat: str, new_chat: str) -> int:
        return self.store.move_chat(self.transport, old_chat, new_chat, conn=self.conn)

    def was_handled(self, external_id: str) -> bool:
        return self.store.was_handled(self.transport, external_id, conn=self.conn)


@lru_cache(maxsize=256)   # a campaign's opening and closing instants, on every event
def _day(instant: datetime, zone: str) -> str:
    """The calendar day of an instant in the campaign's zone, as an ISO date."""
    return instant.astimezone(ZoneInfo(zone or "Europe/Paris")).date().isoformat()


_ID_LIMIT, _NAME_LIMIT, _COMMAND_LIMIT = 255, 200, 64
_LIMITS = {"external_id": _ID_LIMIT, "chat_id": _ID_LIMIT, "user_id": _ID_LIMIT,
           "display_name": _NAME_LIMIT, "command": _COMMAND_LIMIT}


def _bounded(inbound: Inbound) -> Inbound:
    """Cut identifiers to their column sizes; never let a DB error poison the queue."""
    if (len(inbound.external_id) <= _ID_LIMIT and len(inbound.chat_id) <= _ID_LIMIT
            and len(inbound.user_id) <= _ID_LIMIT and len(inbound.display_name) <= _NAME_LIMIT
            and len(inbound.command) <= _COMMAND_LIMIT and inbound.display_name.isprintable()
            and (inbound.kind is not _COMMAND or inbound.command.isprintable())):
        return inbound    # the usual case, read field by field (printable text holds no NUL)
    changes = {name: getattr(inbound, name)[:limit] for name, limit in _LIMITS.items()
               if len(getattr(inbound, name)) > limit}
    if not changes and inbound.display_name.isprintable() and (
            inbound.kind is not _COMMAND or inbound.command.isprintable()):
        return inbound    # the usual case (printable text holds no NUL nor surrogate)
    if "\x00" in inbound.display_name or _has_surrogate(inbound.display_name):
        changes["display_name"] = ""
    if inbound.kind is _COMMAND and (_has_surrogate(inbound.command) or "\x00" in inbound.command):
        changes["command"] = "?"
    return replace(inbound, **changes) if changes else inbound


_SURROGATE = re.compile("[\ud800-\udfff]").search


def _has_surrogate(text: str) -> bool:
    return _SURROGATE(text) is not None
