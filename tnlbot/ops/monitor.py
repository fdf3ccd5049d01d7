"""What the bot does, as Prometheus metrics and one log line per event.

How this file works:
- `Monitor(app)` registers itself as an observer of the dispatcher (each
  committed inbound event), the outbox relay (each send's result) and the
  scheduler (each tick), and counts into a registry of its own (never the
  process-wide default one, so two monitors never mix).
- Gauges that describe the database (outbox backlog, age of the oldest
  pending row, claims awaiting verification) and the transports (connected,
  age of the last successful receive) are read at scrape time by a collector,
  not kept in memory.
- `health()` answers /healthz: store reachable, every transport connected and
  heard from within a bound, scheduler ticked within a bound. Time comes from
  the app's clock (a fake clock in tests).
- Log lines carry ids and counts only (see logs.py).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from ..campaigns.scheduler import TickReport
from ..core.events import Inbound
from ..runtime.transport import Handled, SendResult, SendStatus
from ..store import OutboxRow
from ..store import campaign_tables as C
from ..store import tables as T
from .logs import event

log = logging.getLogger("tnlbot.events")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Health:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "unhealthy",
                "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks}}


@dataclass(frozen=True, slots=True)
class Bounds:
    receive: float | None = 120.0    # seconds without a successful receive (None: not checked)
    tick: float = 300.0              # seconds without a scheduler tick


class Metrics:
    """The counters and histograms; gauges come from StateCollector at scrape time."""

    def __init__(self, registry: CollectorRegistry):
        self.inbound = Counter("tnlbot_inbound_events", "Inbound events committed",
                               ["transport", "kind"], registry=registry)
        self.duplicates = Counter("tnlbot_inbound_duplicates", "Redelivered events dropped",
                                  ["transport"], registry=registry)
        self.held_back = Counter("tnlbot_inbound_held_back", "Events dropped unstored: too many "
                                 "replies still waiting for that chat", ["transport"], registry=registry)
        self.answers = Counter("tnlbot_answers_stored", "Answers stored or changed", registry=registry)
        self.latency = Histogram("tnlbot_dispatch_seconds", "Time to handle and commit one event",
                                 ["transport"], buckets=LATENCY_BUCKETS, registry=registry)
        self.sends = Counter("tnlbot_sends", "Outbox sends by result", ["transport", "result"],
                             registry=registry)
        self.reminders = Counter("tnlbot_reminders_sent", "Reminders queued by the scheduler",
                                 registry=registry)
        self.notices = Counter("tnlbot_closing_notices_sent",
                               "Closing notices queued (members and jury)", registry=registry)
        self.ticks = Counter("tnlbot_scheduler_ticks", "Scheduler ticks done", registry=registry)


class StateCollector(Collector):
    """Gauges read when scraped: the outbox, claims, the transports."""

    def __init__(self, monitor: Monitor):
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        now = self.monitor.clock.now()
        backlog = GaugeMetricFamily("tnlbot_outbox_pending", "Outbox rows waiting to be sent",
                                    labels=["transport"])
        oldest = GaugeMetricFamily("tnlbot_outbox_oldest_pending_age_seconds",
                                   "Age of the oldest pending outbox row", labels=["transport"])
        for transport, count, first in self.monitor.outbox_backlog():
            backlog.add_metric([transport], count)
            oldest.add_metric([transport], max(0.0, (now - first).total_seconds()) if first else 0.0)
        yield backlog
        yield oldest
        yield GaugeMetricFamily("tnlbot_claims_awaiting_verification",
                                "Claims to act for a body not verified yet",
                                value=self.monitor.claims_waiting())
        connected = GaugeMetricFamily("tnlbot_transport_connected", "1 when the transport is receiving",
                                      labels=["transport"])
        age = GaugeMetricFamily("tnlbot_last_receive_age_seconds",
                                "Seconds since the last successful getUpdates / sync",
                                labels=["transport"])
        for name, transport in self.monitor.receivers():
            connected.add_metric([name], 1.0 if getattr(transport, "connected", False) else 0.0)
            at = getattr(transport, "received_at", None)
            if at is not None:
                age.add_metric([name], max(0.0, (now - at).total_seconds()))
        yield connected
        yield age
        last = self.monitor.last_tick
        tick = GaugeMetricFamily("tnlbot_scheduler_last_tick_age_seconds",
                                 "Seconds since the scheduler's last tick")
        if last is not None:
            tick.add_metric([], max(0.0, (now - last).total_seconds()))
        yield tick


def outbox_backlog(store: Any, transports: Any = ()) -> list[tuple[str, int, datetime | None]]:
    """(transport, pending rows, oldest pending row's creation) for each transport."""
    o = T.outbox
    query = (select(o.c.transport, func.count(), func.min(o.c.created_at))
             .where(o.c.status == "pending").group_by(o.c.transport))
    with store.begin() as conn:
        found = {r[0]: (int(r[1]), r[2]) for r in conn.execute(query)}
    names = set(found) | set(transports)
    return [(n, *found.get(n, (0, None))) for n in sorted(names)]


@dataclass
class Monitor:
    app: Any                       # the App: store, clock, dispatcher, relay, scheduler, transports
    bounds: Bounds = field(default_factory=Bounds)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    last_tick: datetime | None = None

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.registry)
        self.registry.register(StateCollector(self))
        self.app.dispatcher.observers.append(self.on_inbound)
        self.app.relay.observers.append(self.on_send)
        self.app.scheduler.observers.append(self.on_tick)

    @property
    def clock(self) -> Any:
        return self.app.clock

    @property
    def store(self) -> Any:
        return self.app.store

    # ------------------------------------------------------------ observers
    def on_inbound(self, inbound: Inbound, handled: Handled, seconds: float) -> None:
        m = self.metrics
        m.inbound.labels(inbound.transport, inbound.kind.value).inc()
        if handled.refused == "flood":       # dropped unstored: replies to them still wait
            m.held_back.labels(inbound.transport).inc()
            event(log, "held-back", logging.WARNING, transport=inbound.transport,
                  kind=inbound.kind.value, queued=len(handled.outbox_ids))
            return
        m.latency.labels(inbound.transport).observe(seconds)
        if handled.duplicate:
            m.duplicates.labels(inbound.transport).inc()
        if handled.answers:
            m.answers.inc(handled.answers)
        event(log, "inbound", transport=inbound.transport, kind=inbound.kind.value,
              conversation=handled.conversation, candidature=handled.candidature,
              answers=handled.answers, queued=len(handled.outbox_ids),
              duplicate=handled.duplicate, ms=round(seconds * 1000, 2))

    def on_send(self, row: OutboxRow, result: SendResult) -> None:
        self.metrics.sends.labels(row.transport, result.status.value).inc()
        # a send that went through is counted, and logged at DEBUG (an answer's line says
        # what it queued); one that did not is a WARNING
        level = logging.DEBUG if result.status is SendStatus.SENT else logging.WARNING
        event(log, "send", level, transport=row.transport, outbox=row.id, kind=row.item.kind.value,
              result=result.status.value, attempt=row.attempts + 1)

    def on_tick(self, report: TickReport) -> None:
        self.last_tick = self.clock.now()
        self.metrics.ticks.inc()
        if report.sent:
            self.metrics.reminders.inc(report.sent)
        notices = sum(c.notices for c in report.closed)
        if notices:
            self.metrics.notices.inc(notices)
        if report.sent or report.opened or report.closed:
            event(log, "tick", reminders=report.sent, opened=len(report.opened),
                  closed=[c.campaign_id for c in report.closed], notices=notices)

    # ------------------------------------------------------------ reads at scrape time
    def receivers(self) -> list[tuple[str, Any]]:
        return [(n, t) for n, t in self.app.transports.items() if hasattr(t, "received_at")]

    def outbox_backlog(self) -> list[tuple[str, int, datetime | None]]:
        return outbox_backlog(self.store, self.app.transports)

    def claims_waiting(self) -> int:
        """Claims to act for a body that an operator has not verified yet."""
        with self.store.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(C.claims)
                                    .where(C.claims.c.status == "pending")).scalar_one())

    def health(self) -> Health:
        now = self.clock.now()
        checks = [self._store_check()]
        for name, transport in self.receivers():
            at = getattr(transport, "received_at", None)
            connected = bool(getattr(transport, "connected", False))
            age = (now - at).total_seconds() if at is not None else None
            fresh = self.bounds.receive is None or (age is not None and age <= self.bounds.receive)
            detail = "never received" if age is None else f"last receive {age:.0f} s ago"
            checks.append(Check(f"transport:{name}", connected and fresh,
                                detail if connected else "not connected; " + detail))
        tick_age = (now - self.last_tick).total_seconds() if self.last_tick else None
        checks.append(Check("scheduler", tick_age is not None and tick_age <= self.bounds.tick,
                            "no tick yet" if tick_age is None else f"last tick {tick_age:.0f} s ago"))
        return Health(tuple(checks))

    def _store_check(self) -> Check:
        try:
            with self.store.begin() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means unreachable
            return Check("store", False, type(exc).__name__)
        return Check("store", True, "reachable")
