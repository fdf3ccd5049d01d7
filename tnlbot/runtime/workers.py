"""Workers: each running process says it is alive; what a dead one was sending is recovered.

How this file works:
- Every claim of an outbox row writes who claimed it (`outbox.claimed_by`, this
  process's host:pid), in the claim's own UPDATE: nothing more per answer.
- A serving process holds a lease `worker:<host:pid>` (lease.py), renewed every
  `ttl / 3` seconds and released on a clean stop. A claimer is alive while its
  lease has not expired, unless it was a process of this host that no longer
  exists (a kill -9 is seen at once, without waiting for the lease).
- `sweep()` settles the `sending` rows of the relay's transports whose claimer is
  not alive, as each transport allows (`Relay.recover`: Telegram questions sent
  again, other Telegram rows `uncertain`, Matrix rows resent under their
  transaction id). Rows a live worker is sending right now are left alone, however
  many workers start beside it. This process's own rows are never swept while it runs.
- `start()` sweeps once before this process claims anything, and then also takes the
  rows nobody is recorded for (claimed before migration 0015) and those under this
  process's own name (an earlier process that had the same pid); then it takes the lease.
- `run(stop)` renews the lease and sweeps every `sweep_every` seconds: the survivors
  pick up the rows of a worker that died and is never restarted. The sweep deletes the
  leases of the dead workers it finds, and every expired one.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import DBAPIError

from ..store import tables as T
from ..store.outbox import process_name
from .clock import Clock
from .lease import Lease, gone
from .relay import Relay

log = logging.getLogger(__name__)
PREFIX = "worker:"
TTL = 30.0            # seconds a worker counts as alive after its last renewal
SWEEP_EVERY = 30.0    # seconds between two looks for the rows of dead workers


@dataclass
class Workers:
    relay: Relay
    clock: Clock
    ttl: float = TTL
    sweep_every: float = SWEEP_EVERY
    name: str = field(default_factory=process_name)
    lease: Lease = field(init=False)

    def __post_init__(self) -> None:
        self.lease = Lease(self.relay.store, PREFIX + self.name, self.clock, ttl=self.ttl, holder=self.name)

    async def start(self) -> int:
        """Before this process claims anything: recover what dead processes left (and rows
        claimed before 0015, or under this process's name by an earlier one), then say this
        process is alive. Returns how many rows were recovered."""
        recovered = await self.relay.store.off_loop(self.sweep, True)
        await self.lease.hold()
        return recovered

    async def run(self, stop: asyncio.Event) -> None:
        """Renew this process's lease, and sweep now and then, until `stop` is set."""
        renew = min(self.lease.renew_every, self.sweep_every)
        since = 0.0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=renew)
            except asyncio.TimeoutError:
                pass
            if stop.is_set():
                return
            await self.lease.hold()
            since += renew
            if since >= self.sweep_every:
                since = 0.0
                try:
                    if await self.relay.store.off_loop(self.sweep):
                        self.relay.wake.set()     # what went back to pending leaves now
                except DBAPIError as exc:     # the database is away: the next sweep tries again
                    log.warning("could not look for the messages of stopped processes (%s)",
                                exc.__class__.__name__)
                except Exception:  # logged; the next sweep starts from the database again
                    log.exception("could not recover the messages of stopped processes")

    def release(self) -> None:
        """A clean stop: this process is no longer alive for the others."""
        try:
            self.lease.release()
        except Exception as exc:  # noqa: BLE001 - the lease expires by itself
            log.warning("could not release the worker lease (%s); it expires in %.0f s",
                        exc.__class__.__name__, self.ttl)

    def sweep(self, start: bool = False) -> int:
        """Settle the `sending` rows of the relay's transports whose claimer is not alive
        (`start`: with the unclaimed ones and this process's own); how many."""
        store = self.relay.store
        claimers = store.sending_claimers(list(self.relay.transports))
        dead = self.dead(claimers)
        if start:
            dead |= {None, self.name} & claimers
        recovered = self.relay.recover(dead) if dead else 0
        if recovered:
            log.warning("%d messages left sending by stopped processes (%s) recovered", recovered,
                        ", ".join(sorted(name or "unknown" for name in dead)))
        self._forget(name for name in dead if name is not None and name != self.name)
        return recovered

    def dead(self, claimers: set[str | None]) -> set[str | None]:
        """Of `claimers`, the processes that are not alive (never this one)."""
        names = {name for name in claimers if name is not None and name != self.name}
        if not names:
            return set()
        leases = T.leases
        with self.relay.store.begin() as conn:
            alive = set(conn.execute(select(leases.c.holder).where(
                leases.c.name.in_(sorted(PREFIX + name for name in names)),
                leases.c.expires_at > self.clock.now())).scalars())
        return {name for name in names if name not in alive or gone(name)}

    def _forget(self, dead: Iterable[str]) -> None:
        """Delete the leases of dead workers: expired ones, and those of `dead` (processes of
        this host that are gone; their rows were just recovered)."""
        leases = T.leases
        names = sorted(PREFIX + name for name in dead)
        with self.relay.store.begin() as conn:
            conn.execute(delete(leases).where(leases.c.name.startswith(PREFIX), or_(
                leases.c.expires_at <= self.clock.now(), leases.c.name.in_(names))))
