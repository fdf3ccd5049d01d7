"""A lease: one process at a time holds a named role (e.g. receiving from Telegram).

How this file works:
- The `leases` row (name, holder, expires_at) says who holds the role until
  when. `acquire()` takes it when it is free or expired, or renews it when
  this process already holds it, in one conditional UPDATE (or the first
  INSERT): on PostgreSQL the row lock and on SQLite the write lock make two
  processes agree on one winner.
- The holder renews it more often than it expires; a holder that dies stops
  renewing, and another process takes the role over once `ttl` has passed,
  or at once when the holder was a process of this host that no longer
  exists (a restart after kill -9 does not wait). `release()` (a clean stop)
  hands it over at once.
- It works on SQLite and PostgreSQL alike; time is the caller's clock.
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from ..store import Store
from ..store import tables as T
from ..store.database import insert_for
from ..store.outbox import process_name
from .clock import Clock

log = logging.getLogger(__name__)


def gone(holder: str) -> bool:
    """Whether `holder` was a process of this host that no longer runs."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


@dataclass
class Lease:
    store: Store
    name: str
    clock: Clock
    ttl: float = 15.0                      # seconds a holder keeps the role without renewing
    holder: str = field(default_factory=process_name)   # host:pid, as in the logs
    held: bool = False
    failed: bool = False                   # the last attempt could not reach the database
    standing_by: bool = False

    @property
    def renew_every(self) -> float:
        return self.ttl / 3

    def acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the role; True while this process holds it."""
        now = now or self.clock.now()
        until = now + timedelta(seconds=self.ttl)
        leases = T.leases
        with self.store.begin() as conn:
            renewed = conn.execute(update(leases).where(
                leases.c.name == self.name,
                or_(leases.c.holder == self.holder, leases.c.expires_at <= now))
                .values(holder=self.holder, expires_at=until)).rowcount
            current = None
            if not renewed:
                current = conn.execute(select(leases.c.holder).where(leases.c.name == self.name)).scalar()
                if current is not None and gone(current):
                    renewed = conn.execute(update(leases).where(
                        leases.c.name == self.name, leases.c.holder == current)
                        .values(holder=self.holder, expires_at=until)).rowcount
            if not renewed and current is None:          # the first holder ever
                renewed = int(conn.execute(insert_for(conn.dialect.name)(leases).values(
                    name=self.name, holder=self.holder, expires_at=until)
                    .on_conflict_do_nothing().returning(leases.c.name)).first() is not None)
        self.held = renewed == 1
        return self.held

    def release(self) -> None:
        """Hand the role over at once (a clean stop)."""
        leases = T.leases
        with self.store.begin() as conn:
            conn.execute(delete(leases).where(leases.c.name == self.name, leases.c.holder == self.holder))
        self.held = False

    async def hold(self) -> bool:
        """`acquire` from async code (in a thread on PostgreSQL, like the dispatcher); a failing
        database counts as not holding (the role is never held blindly)."""
        try:
            held = await self.store.off_loop(self.acquire)
        except Exception as exc:  # noqa: BLE001 - the database is away: stand by, try again
            log.warning("lease %s: could not be renewed (%s)", self.name, exc.__class__.__name__)
            self.held, self.failed = False, True
            return False
        self.failed = False
        return held

    async def take_turn(self, role: str) -> bool:
        """`hold`, logging one line when this process takes the role, loses it, or first
        stands by (`role`: what the holder does, e.g. "receives from Telegram")."""
        was = self.held
        held = await self.hold()
        if held and not was:
            log.info("this process (%s) now %s", self.holder, role)
        elif was and not held:
            log.warning("another process took over: it now %s; this one keeps relaying and running "
                        "the scheduler", role)
        elif not held and not self.standing_by:
            log.info("another process %s; this one (%s) relays, runs the scheduler and takes over "
                     "if it stops", role, self.holder)
        self.standing_by = not held
        return held
