"""A second (and first) tnlbot worker process for the race tests: it ticks the
scheduler at a fixed fake instant once both workers are ready."""
from __future__ import annotations

from datetime import datetime


def tick_worker(url: str, instant: str, ticks: int, use_locks: bool, barrier, results) -> None:
    from tnlbot.campaigns.scheduler import Scheduler
    from tnlbot.flows import load_all
    from tnlbot.i18n import load_catalog
    from tnlbot.runtime.clock import FakeClock
    from tnlbot.store import Store

    catalog = load_catalog()
    flows = load_all(locales=catalog.locales)
    store = Store(url, migrate=False)
    clock = FakeClock(datetime.fromisoformat(instant))
    scheduler = Scheduler(store, flows, catalog, clock, use_locks=use_locks)
    with store.begin():          # connect before the start line
        pass
    barrier.wait(timeout=120)
    sent = closed = busy = 0
    for _ in range(ticks):
        report = scheduler.tick()
        sent += report.sent
        closed += len(report.closed)
        busy += sum(1 for r in report.reminders.values() if r.busy)
    store.close()
    results.put({"sent": sent, "closed": closed, "busy": busy})
