"""The lease that lets one process at a time hold a role, on SQLite and PostgreSQL (fake clock)."""
from __future__ import annotations

import socket
import subprocess
import sys

from tnlbot.runtime.lease import Lease


def test_one_holder_until_it_expires_or_lets_go(any_store, clock):
    first, second = (Lease(any_store, "telegram-poller", clock, ttl=15, holder=h) for h in ("w1", "w2"))
    assert first.acquire() and not second.acquire()
    clock.advance(10)
    assert first.acquire() and not second.acquire()          # renewed: 15 s more from now
    clock.advance(14)
    assert not second.acquire()
    clock.advance(2)                                          # the holder stopped renewing 16 s ago
    assert second.acquire() and not first.acquire()
    second.release()                                          # a clean stop: at once
    assert first.acquire()


def test_a_dead_process_of_this_host_is_replaced_at_once(any_store, clock):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    elsewhere = Lease(any_store, "telegram-poller", clock, ttl=15, holder="other-host:1")
    assert elsewhere.acquire()
    assert not Lease(any_store, "telegram-poller", clock, ttl=15).acquire()   # another host: its expiry
    clock.advance(16)
    dead = Lease(any_store, "telegram-poller", clock, ttl=15, holder=f"{socket.gethostname()}:{gone}")
    assert dead.acquire()
    assert Lease(any_store, "telegram-poller", clock, ttl=15).acquire()       # gone from this host: at once
