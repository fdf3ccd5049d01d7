"""The outbox relay: sends committed messages, in order, exactly once.

How this file works:
- Rows are read oldest first per transport. Before a send the row is
  claimed (status `sending`, attempts + 1, `claimed_by` this process) and
  that claim is committed, so two workers never send the same row, and a
  crash mid-send leaves a row that is not sent again blindly. Once the
  process that claimed it is no longer alive (runtime/workers.py: at a start
  and every half minute in each running worker; never a live worker's rows),
  `recover` settles it: `uncertain` (the platform may have it), except all
  of them on a transport whose resends are idempotent (Matrix), the
  questions only on one with `resend_questions` (Telegram: a person waits
  for the question, and a repeated one is better than none), which go back
  to `pending`.
- The ledger writes claims and results together: what every chat being
  served asks for while the others are on the wire goes in ONE transaction
  (the results of the sends just made, the claims of the next ones). A
  result not yet written when the process dies leaves its row `sending`,
  hence `uncertain`: never sent twice.
- Within one chat, order holds: when a row must wait (429, network), the
  later rows of that chat wait too.
- Results: sent -> `sent` with the platform id; retry -> back to `pending`
  with `not_before` (bounded attempts, then `failed`); unreachable -> the
  chat is marked unreachable, its pending rows `failed`; uncertain ->
  `uncertain`, never resent.
- A transport with `fold_notices` gets a plain notice and the question right
  after it (what one answer produced, e.g. "SIREN noted" then the next
  question) as one message: one send, both rows settled with its result.
- A transport with `fold_answers` gets, with a question, the answer the person
  just gave (`OutboxRow.answered`, from the edit settling it): shown atop the
  question (Telegram: a choice), it is the chat's record of that answer if the
  edit never goes.
- Edits settling an answered question are cosmetic: sent after what people wait
  for, from spare send budget only; under send limits one still waiting when
  the person answers again is settled `superseded` instead of being sent.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Collection
from weakref import WeakValueDictionary

from sqlalchemy import update

from ..core.events import OutKind
from ..store import OutboxRow, Store
from ..store.outbox import Claimers
from ..store import tables as T
from .clock import Clock
from .ratelimit import RateLimiter
from .transport import SendResult, SendStatus, Transport

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
FORGET_PREFIX = "forget:"      # see jury/erasure.py
PARALLEL = 8          # chats served at once (by all flushes together)
SETTLE_QUIET = 1.0    # seconds without a question to a chat before its settling edits (`settle_later`)


def _cosmetic(row: OutboxRow) -> bool:
    """An edit settling an answered question: nobody waits for it."""
    return row.item.kind is OutKind.SETTLED


def _question_after(rows: list[OutboxRow], at: int) -> OutboxRow | None:
    """The question that follows a plain notice (no buttons, not a scheduled message) to the
    same person, next in the chat's queue: sent together as one message (`fold_notices`)."""
    notice = rows[at]
    if (notice.item.kind is not OutKind.NOTICE or notice.item.actions or notice.dedup_key
            or at + 1 >= len(rows)):
        return None
    question = rows[at + 1]
    if (question.item.kind is not OutKind.PROMPT or question.item.update
            or question.user_id != notice.user_id or question.dedup_key):
        return None
    return question


def _settled_before(rows: list[OutboxRow], question: OutboxRow) -> OutboxRow | None:
    """The edit settling the answer the person just gave: queued in the same chat after their
    previous question and before this one. Its answer may head this question (`fold_answers`),
    whether or not that edit is ever sent."""
    found, since = None, 0
    for row in rows:
        if row.user_id != question.user_id or row.id >= question.id:
            continue
        if row.item.kind is OutKind.PROMPT:
            since = max(since, row.id)
        elif _cosmetic(row) and (found is None or row.id > found.id):
            found = row
    return found if found is not None and found.id > since else None


def _folded(notice: OutboxRow, question: OutboxRow) -> OutboxRow:
    """The question, its text preceded by the notice's."""
    item = replace(question.item, text=f"{notice.item.text}\n\n{question.item.text}")
    return replace(question, item=item)


class Ledger:
    """Claims and send results of outbox rows, written together: each call is queued and
    one transaction, run once the tasks ready to run have queued theirs, writes them all.
    A claim is awaited (the row must be ours before it is sent); a result is not (it is
    written with the next claims, or by `written()`)."""

    def __init__(self, store: Store, now: Callable[[], datetime] | None = None):
        self.store = store
        self.now = now          # claims take only rows that are due by then (a 429's retry_at)
        self._claims: list[tuple[int, asyncio.Future[bool]]] = []
        self._settles: list[dict[str, Any]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._scheduled = False

    async def claim(self, row_id: int) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._claims.append((row_id, future))
        self._schedule()
        return await future

    def settle(self, row_id: int, status: str, now: datetime, *, ref: str = "", error: str = "",
               retry_at: datetime | None = None) -> None:
        self._settles.append({"id": row_id, "status": status, "now": now, "ref": ref,
                              "error": error, "retry_at": retry_at})
        self._schedule()

    async def written(self) -> None:
        """Returns once everything queued so far is committed."""
        if not self._claims and not self._settles:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self._schedule()
        await future

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._write)

    def _write(self) -> None:
        self._scheduled = False
        claims, settles, waiting = self._claims, self._settles, self._waiting
        self._claims, self._settles, self._waiting = [], [], []
        error: Exception | None = None
        claimed: set[int] = set()
        try:
            claimed = self.store.settle_and_claim(settles, [row_id for row_id, _ in claims],
                                                   now=self.now() if self.now else None)
        except Exception as exc:  # logged; each waiting send gets the database's error
            log.exception("could not write %d send results and %d claims", len(settles), len(claims))
            error = exc
        for row_id, future in claims:
            if not future.done():
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(row_id in claimed)
        for done in waiting:
            if not done.done():
                done.set_result(None)


@dataclass
class Relay:
    store: Store
    transports: dict[str, Transport]
    clock: Clock
    limiters: dict[str, RateLimiter] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    _deferred: dict[str, bool] = field(default_factory=dict)   # may hold deferred rows
    _chat_locks: "WeakValueDictionary[tuple[str, str], asyncio.Lock]" = field(
        default_factory=WeakValueDictionary)
    _gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(PARALLEL))
    _asked: dict[tuple[str, str], float] = field(default_factory=dict)   # last question sent, per chat (monotonic)
    # called with each send's row and result (metrics, logs)
    observers: list[Callable[[OutboxRow, SendResult], None]] = field(default_factory=list)
    ledger: Ledger = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.store, self.clock.now)

    def add(self, transport: Transport) -> None:
        """Send through `transport` from now on, at the pace it declares (`rate_limit`:
        messages per second per chat and overall)."""
        self.transports[transport.name] = transport
        pace = getattr(transport, "rate_limit", None)
        if pace is not None and transport.name not in self.limiters:
            self.limiters[transport.name] = RateLimiter(self.clock, per_chat=pace[0], overall=pace[1])

    def recover(self, claimers: Claimers = None) -> int:
        """Rows left `sending` by processes that died (claimed by one of `claimers`, see
        runtime/workers.py; None: every row, of every transport) are settled, each as its
        transport allows: all back to `pending` on one whose resends are idempotent
        (`idempotent_resend`: Matrix), the questions on one with `resend_questions`
        (Telegram), the others `uncertain`. With `claimers`, only the rows of this relay's
        transports (another process serves the others: it knows how). Returns how many."""
        store, count = self.store, 0
        for name, transport in list(self.transports.items()):
            if getattr(transport, "idempotent_resend", False):
                count += store.resume_interrupted(name, claimers)
            elif getattr(transport, "resend_questions", False):   # the rest: at most once
                count += store.resume_interrupted_prompts(name, claimers)
        return count + store.mark_interrupted(None if claimers is None else list(self.transports), claimers)

    async def flush(self, name: str, chats: Collection[str] = (), edits: bool = True) -> int:
        """Send every due row of one transport; returns how many were sent.

        Chats are served side by side (at most PARALLEL at once), each in order, what a
        person waits for (questions, notices) before the edits that settle an answered
        question. An edit that would have to wait for the rate limiter, or take a token
        a question is waiting for, or (a transport with `settle_later`) whose chat was
        asked a question less than SETTLE_QUIET seconds ago, is deferred (status
        `deferred`) until the relay has nothing else to send; under send limits, until the
        person answers again at most (`_supersede`). With `chats`, only those (what a batch
        just committed: sent at once, without waiting for the loop); a chat is served by one
        flush at a time. Without `edits` (draining before an exit) and under send limits,
        no edit is sent: they stay deferred for the next start."""
        transport = self.transports[name]
        limiter = self.limiters.get(name)
        limited = limiter is not None and limiter.limited
        edits = edits or not limited             # without limits, edits cost no question anything
        queues = self._queues(self.store.due_messages(name, self.clock.now(), chats=chats))
        urgent = any(not _cosmetic(row) for rows in queues.values() for row in rows)
        if (not urgent and not chats and edits and self._deferred.get(name, True)
                and (limiter is None or not limiter.waiting)):
            self._deferred[name] = False         # (unknown at start-up: looked for once)
            if self.store.undefer_messages(name):
                queues = self._queues(self.store.due_messages(name, self.clock.now()))
        gate = self._gate      # shared by every flush: few sends claimed and not yet on the wire
        done = await asyncio.gather(*(self._flush_chat(transport, rows, limiter, gate, edits)
                                      for rows in queues.values()))
        await self.ledger.written()
        deferred = [row_id for _, later in done for row_id in later]
        if limited:
            self._supersede(name, queues, deferred)
        elif deferred:
            self.store.defer_messages(deferred)
        if deferred:
            self._deferred[name] = True
        return sum(sent for sent, _ in done)

    def _supersede(self, name: str, queues: dict[str, list[OutboxRow]], deferred: list[int]) -> None:
        """Under send limits, an edit settling a question is cosmetic: it waits for spare
        budget only until the person answers again. Then it is settled `superseded` (a choice
        it would show heads the next question: OutboxRow.answered) and never sent: of
        each person's edits, only the latest may still go out. `deferred` keeps the others."""
        newest: dict[tuple[str, str], int] = {}
        for rows in queues.values():
            for row in rows:
                if _cosmetic(row) and row.id > newest.get((row.chat_id, row.user_id), 0):
                    newest[(row.chat_id, row.user_id)] = row.id
        if not newest:
            return
        keep = set(newest.values())
        dropped = [row_id for row_id in deferred if row_id not in keep]
        deferred[:] = [row_id for row_id in deferred if row_id in keep]
        self.store.defer_messages(deferred, dropped,
                                  [(name, chat, user, row_id) for (chat, user), row_id in newest.items()])
        if dropped:
            log.debug("%d settling edits superseded by later answers", len(dropped))

    def _queues(self, rows: list[OutboxRow]) -> dict[str, list[OutboxRow]]:
        """Due rows per chat, in order, up to a row that must wait; settling edits last."""
        queues: dict[str, list[OutboxRow]] = {}
        held: set[str] = set()
        now = self.clock.now()
        for row in rows:
            if row.chat_id in held:
                continue
            if row.not_before is not None and row.not_before > now:
                held.add(row.chat_id)        # order per chat: later rows wait for this one
                continue
            queues.setdefault(row.chat_id, []).append(row)
        for chat, queue in queues.items():
            queues[chat] = sorted(queue, key=_cosmetic)    # stable: order kept within each kind
        return queues

    async def _flush_chat(self, transport: Transport, rows: list[OutboxRow],
                          limiter: RateLimiter | None, gate: asyncio.Semaphore,
                          edits: bool = True) -> tuple[int, list[int]]:
        sent, deferred = 0, list[int]()
        key = (rows[0].transport, rows[0].chat_id)
        lock = self._chat_locks.get(key) or self._chat_locks.setdefault(key, asyncio.Lock())
        later = getattr(transport, "settle_later", False)
        quiet = float(getattr(transport, "settle_quiet", SETTLE_QUIET))
        fold = getattr(transport, "fold_notices", False)
        record = getattr(transport, "fold_answers", False)
        async with gate, lock:
            at = -1
            while at + 1 < len(rows):
                at += 1
                row = rows[at]
                if _cosmetic(row) and (limiter is not None or later or not edits):
                    if deferred or not edits or (later and (self._asked_lately(key, quiet) if quiet > 0 else sent)) or (
                            limiter is not None and not limiter.try_acquire(row.chat_id)):
                        deferred.append(row.id)
                        continue
                elif limiter is not None and (sent or deferred):
                    if not limiter.take_if_free(row.chat_id):
                        break                # no waiting for a second token: other chats go first
                elif limiter is not None:
                    await limiter.acquire(row.chat_id)
                if not await self.ledger.claim(row.id):
                    # Sent or being sent by another flush or worker, or not due yet (a 429's
                    # retry_at written since this list was read): later rows of this chat wait,
                    # never overtake it; the loop goes round again on fresh rows.
                    self.wake.set()
                    break
                question = _question_after(rows, at) if fold else None
                notice = None
                if question is not None and await self.ledger.claim(question.id):
                    at += 1                  # one message: the notice above the question
                    notice, row = row, question
                shown = _folded(notice, row) if notice is not None else row
                if record and row.item.kind is OutKind.PROMPT and not row.item.update:
                    settled = _settled_before(rows, row)
                    if settled is not None:
                        shown = replace(shown, answered=settled.item.text, answered_ref=settled.item.ref)
                result = await self._send(transport, shown)
                if notice is not None:
                    self._record(notice, result)
                self._settle(row, result)
                if result.status is not SendStatus.SENT:
                    break                    # later rows of this chat wait
                sent += 1
                if later and not _cosmetic(row):
                    self._asked[key] = time.monotonic()
        return sent, deferred

    def _asked_lately(self, key: tuple[str, str], quiet: float) -> bool:
        """Whether this chat was sent a question less than `quiet` seconds ago, in real time:
        a quick answer may be on its way, and an edit must not hold it up. (A test clock that
        stands still would hold the edits for ever; Telegram, whose tests run on one, defers
        only behind the question of the same flush: settle_quiet = 0.)"""
        now = time.monotonic()
        if len(self._asked) > 4096:
            self._asked = {k: t for k, t in self._asked.items() if now - t < quiet}
        asked = self._asked.get(key)
        return asked is not None and now - asked < quiet

    async def _send(self, transport: Transport, row: OutboxRow) -> SendResult:
        try:
            return await transport.send(row)
        except Exception as exc:  # a transport bug must not stop the relay
            log.exception("send failed for outbox row %s", row.id)
            return SendResult(SendStatus.RETRY, retry_after=5, error=repr(exc))

    def _settle(self, row: OutboxRow, result: SendResult) -> None:
        for observe in self.observers:
            observe(row, result)
        self._record(row, result)
        if row.dedup_key.startswith(FORGET_PREFIX) and not (
                result.status is SendStatus.RETRY and row.attempts + 1 < MAX_ATTEMPTS):
            self.store.drop_message(row.id)    # the reply to /oublier names the chat: kept no longer

    def _record(self, row: OutboxRow, result: SendResult) -> None:
        now = self.clock.now()
        status = result.status
        settle = self.ledger.settle
        if status is SendStatus.SENT:
            return settle(row.id, "sent", now, ref=result.ref)
        if status is SendStatus.RETRY and row.attempts + 1 < MAX_ATTEMPTS:
            retry_at = now + timedelta(seconds=max(result.retry_after, 2 ** row.attempts))
            return settle(row.id, "pending", now, error=result.error, retry_at=retry_at)
        if status is SendStatus.UNCERTAIN:
            return settle(row.id, "uncertain", now, error=result.error)
        if status is SendStatus.UNREACHABLE:
            self.mark_unreachable(row)
        settle(row.id, "failed", now, error=result.error or status.value)

    def mark_unreachable(self, row: OutboxRow) -> None:
        o, a = T.outbox, T.accounts
        with self.store.begin() as conn:
            conn.execute(update(a).where(a.c.transport == row.transport, a.c.chat_id == row.chat_id)
                         .values(reachable=False))
            conn.execute(update(o).where(o.c.transport == row.transport, o.c.chat_id == row.chat_id,
                                         o.c.status == "pending")
                         .values(status="failed", error="chat unreachable"))

    async def run(self, stop: asyncio.Event, idle: float = 0.5) -> None:
        """Flush every transport until `stop` is set; `wake` cuts the wait short."""
        while not stop.is_set():
            self.wake.clear()         # before the flush: a wake during it means flush again
            for name in self.transports:
                await self.flush(name)
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=idle)
            except asyncio.TimeoutError:
                pass
