"""The scheduler loop: every tick, open what is due, close what is due, send
the reminders that are due. Everything is computed from the database at
each tick (no timers held in memory), so a restart, a second worker or a
tick after downtime needs no special case.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Mapping

from sqlalchemy import select

from ..core.flow import Flow
from ..i18n import Catalog
from ..runtime.clock import Clock
from ..store import Store
from ..store import tables as T
from ..store.campaigns import Campaign
from .reminders import Wave, WaveReport
from .retention import EMPTY_DAYS, KEEP_DAYS, Pruned, prune

if TYPE_CHECKING:   # closing.py is imported by the first tick, not at start (the terminal's first prompt)
    from .closing import ClosingReport

log = logging.getLogger(__name__)
_LIVE = select(T.campaigns).where(T.campaigns.c.state != "closed").order_by(T.campaigns.c.id)


@dataclass
class TickReport:
    opened: list[int] = field(default_factory=list)
    closed: list[ClosingReport] = field(default_factory=list)
    reminders: dict[int, WaveReport] = field(default_factory=dict)
    pruned: Pruned | None = None        # retention, at most once an hour

    @property
    def sent(self) -> int:
        return sum(r.sent for r in self.reminders.values())


@dataclass
class Scheduler:
    store: Store
    flows: Mapping[str, Flow]
    catalog: Catalog
    clock: Clock
    interval: float = 60.0
    use_locks: bool = True
    on_work: Callable[[], None] | None = None      # e.g. wake the outbox relay
    observers: list[Callable[[TickReport], None]] = field(default_factory=list)  # metrics, health
    keep_days: int = KEEP_DAYS          # delivery ids and handled messages
    empty_days: int = EMPTY_DAYS        # candidatures with no answer at all
    _pruned_at: datetime | None = None

    def tick(self, now: datetime | None = None) -> TickReport:
        from .closing import Closer
        now = now or self.clock.now()
        closer = Closer(self.store, self.flows, self.catalog)
        report = TickReport()
        campaigns = self._live_campaigns()
        if any(c.state == "scheduled" and c.opens_at <= now < c.closes_at for c in campaigns):
            report.opened = closer.open_due(now)
        for campaign in campaigns:
            if campaign.closes_at <= now:
                closed = closer.close(campaign.id, now)
                report.closed += [closed] if closed is not None else []
        wave = Wave(self.store, self.flows, self.catalog, self.use_locks)
        for campaign in campaigns:
            if campaign.accepting(now) and campaign.flow_id in self.flows:
                report.reminders[campaign.id] = wave.run(campaign, now)
        if self._pruned_at is None or now - self._pruned_at >= timedelta(hours=1):
            report.pruned = prune(self.store, now, self.keep_days, self.empty_days)
            self._pruned_at = now
        return report

    def _live_campaigns(self) -> list[Campaign]:
        """Every campaign not closed yet (one short read per tick)."""
        with self.store.begin() as conn:
            rows = conn.execute(_LIVE).all()
        return [Campaign(r.id, r.slug, r.year, r.track, r.flow_id, r.opens_at, r.closes_at,
                         r.timezone, r.state, json.loads(r.config or "{}")) for r in rows]

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set; a failed tick is logged and retried next time."""
        while not stop.is_set():
            await self.tick_once()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except asyncio.TimeoutError:
                pass

    async def tick_once(self) -> TickReport | None:
        """One tick where the bot runs: wake the relay, tell the observers (metrics, health)."""
        try:
            report = await self.store.off_loop(self.tick)
        except Exception:  # logged; the next tick starts from the database again
            log.exception("scheduler tick failed")
            return None
        if (report.sent or report.closed) and self.on_work is not None:
            self.on_work()
        for observe in self.observers:
            observe(report)
        return report
