"""The dispatcher: one inbound event, one transaction.

How this file works:
- `handle(inbound)` opens ONE transaction: it records the inbound id (a
  duplicate delivery stops there and changes nothing), loads or starts the
  conversation, runs the pure engine, saves answers with their history, the
  conversation state, the candidature and the outgoing messages (outbox),
  then commits. Only after the commit may a transport acknowledge the
  platform (advance an offset, store a sync token, answer a webhook).
- `submit(inbound)` is the async entry: a per-conversation lock keeps events
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
from typing import Callable, Mapping, Protocol
from weakref import WeakValueDictionary

from sqlalchemy import Connection

from ..core.engine import Dossier, Outcome, handle
from ..core.events import Addressed, Inbound, InboundKind
from ..core.flow import JSON, Flow
from ..i18n import Catalog, local_time
from ..store import ConversationRow, Store
from ..store.campaigns import campaign_by_slug, current_campaign
from .clock import Clock
from .transport import Handled

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


@dataclass
class Dispatcher:
    store: Store
    flows: Mapping[str, Flow]
    catalog: Catalog
    clock: Clock
    campaign_slug: str = ""
    hooks: list[Hook] = field(default_factory=list)
    # called after each commit with (inbound, handled, seconds spent): metrics, logs
    observers: list[Callable[[Inbound, Handled, float], None]] = field(default_factory=list)
    _locks: "WeakValueDictionary[tuple[str, str, str], asyncio.Lock]" = field(
        default_factory=WeakValueDictionary)

    async def submit(self, inbound: Inbound) -> Handled:
        key = (inbound.transport, inbound.chat_id, inbound.user_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            started = time.perf_counter()
            if self.store.is_sqlite:
                handled = self.handle(inbound)
            else:
                handled = await asyncio.to_thread(self.handle, inbound)
            for observe in self.observers:
                observe(inbound, handled, time.perf_counter() - started)
            return handled

    def handle(self, inbound: Inbound) -> Handled:
        inbound = _bounded(inbound)
        now = self.clock.now()
        with self.store.begin() as conn:
            if not self.store.mark_seen(conn, inbound.transport, inbound.external_id, now):
                return Handled(duplicate=True)
            # an answer (not a command) is never handled by a hook's `before` in a way that
            # changes the answers: read them with the conversation, in the same statement
            conv = self.store.conversation(conn, inbound.transport, inbound.chat_id, inbound.user_id,
                                           with_answers=inbound.kind is not InboundKind.COMMAND)
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
            for hook in self.hooks:
                shape = getattr(hook, "dossier", None)
                if shape is not None:
                    dossier = shape(conn, inbound, conv, answers, dossier, now)
            outcome = handle(flow, self.catalog, conv.state, dossier, answers, inbound)
            for hook in self.hooks:
                after = getattr(hook, "after", None)
                if after is not None:
                    outcome = after(conn, inbound, conv, outcome, now, answers)
            addressed = [Addressed(inbound.transport, inbound.chat_id, item, inbound.user_id)
                         for item in outcome.messages]
            ids = self.store.apply(conn, conv, answers, outcome, addressed, now, flow)
        return Handled(outbox_ids=tuple(ids), messages=tuple(addressed), conversation=conv.id,
                       candidature=conv.candidature_id, answers=len(outcome.changes))

    def dossier(self, conv: ConversationRow, now) -> Dossier:  # noqa: ANN001
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
                       # only a confirmation submits, and the receipt shows this instant
                       now_local=(local_time(now, locale, conv.timezone)
                                  if conv.state.mode == "confirming" else ""))


_LIMITS = {"external_id": 255, "chat_id": 255, "user_id": 255, "display_name": 200, "command": 64}


def _bounded(inbound: Inbound) -> Inbound:
    """Cut identifiers to their column sizes; never let a DB error poison the queue."""
    changes = {name: getattr(inbound, name)[:limit] for name, limit in _LIMITS.items()
               if len(getattr(inbound, name)) > limit}
    if not changes and inbound.display_name.isprintable() and (
            inbound.kind is not InboundKind.COMMAND or inbound.command.isprintable()):
        return inbound    # the usual case (printable text holds no NUL nor surrogate)
    if "\x00" in inbound.display_name or _has_surrogate(inbound.display_name):
        changes["display_name"] = ""
    if inbound.kind is InboundKind.COMMAND and (_has_surrogate(inbound.command) or "\x00" in inbound.command):
        changes["command"] = "?"
    return replace(inbound, **changes) if changes else inbound


_SURROGATE = re.compile("[\ud800-\udfff]").search


def _has_surrogate(text: str) -> bool:
    return _SURROGATE(text) is not None
