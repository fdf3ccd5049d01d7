"""Several processes on Telegram long polling: exactly one receives at a time.

The fake Bot API answers a getUpdates that overtakes a waiting one the way
Telegram does: the waiting one ends with 409 Conflict. Without a lease two
pollers overtake each other; each conflict is one log line, never a
traceback. With the poller lease in the store, one process polls, the other
stands by (still relaying) and takes over within seconds when the first stops.
These tests run on the wall clock (a lease is about real time), for seconds.
"""
from __future__ import annotations

import asyncio
import logging

from tnlbot.runtime.clock import Clock
from tnlbot.runtime.lease import Lease
from tnlbot.transports.telegram import Telegram, callback_secret, make_bot



def poller(fake, app, lease: Lease | None, timeout: int = 1) -> Telegram:
    bot = make_bot(fake.token, fake.base_url, read_timeout=5)
    telegram = Telegram(bot, app.store, app.catalog, Clock(), secret=callback_secret(fake.token),
                        poll_timeout=timeout, lease=lease)
    return telegram


async def start(app, telegram: Telegram) -> None:
    app.plug(telegram)
    await telegram.connect()
    await telegram.start(app.runner.sink(telegram.name))


async def until(condition, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def say(fake, user: int, text: str) -> int:
    sender = {"id": user, "is_bot": False, "first_name": f"Agent {user}", "language_code": "fr"}
    return fake.push({"message": fake.user_message(user, sender, text)})


async def test_two_pollers_without_a_lease_conflict_with_one_log_line_each(fake, make_app, sqlite_store,
                                                                         caplog):
    app = make_app(sqlite_store, "tnl-2025-badge")
    first, second = poller(fake, app, None), poller(fake, app, None)
    caplog.set_level(logging.INFO, logger="tnlbot")
    await start(app, first)
    await start(app, second)
    try:
        await until(lambda: fake.conflicts >= 2)
    finally:
        await first.stop()
        await second.stop()
    conflicts = [r for r in caplog.records if "409 Conflict" in r.getMessage()]
    assert conflicts and all(r.exc_info is None and "\n" not in r.getMessage() for r in conflicts)
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("tnlbot")], "no traceback"


async def test_one_poller_at_a_time_and_the_other_takes_over(fake, make_app, any_store, caplog):
    app = make_app(any_store, "tnl-2025-badge")
    caplog.set_level(logging.INFO, logger="tnlbot")
    leases = [Lease(app.store, "telegram-poller", Clock(), ttl=1.5, holder=f"worker-{n}") for n in (1, 2)]
    first, second = poller(fake, app, leases[0]), poller(fake, app, leases[1])
    await start(app, first)
    await start(app, second)
    try:
        pushed = [say(fake, 700, "/start"), say(fake, 701, "/start")]
        await until(lambda: set(pushed) <= set(fake.confirmed))
        await asyncio.sleep(2 * leases[0].ttl)              # both keep trying: one polls
        assert fake.conflicts == 0
        assert sorted(lease.held for lease in leases) == [False, True]
        holder, standby = (first, second) if leases[0].held else (second, first)
        await holder.stop()                                  # a clean stop hands the role over
        pushed.append(say(fake, 702, "/start"))
        await until(lambda: set(pushed) <= set(fake.confirmed), seconds=3 * leases[0].ttl)
        assert standby.lease.held and fake.conflicts == 0
    finally:
        await first.stop()
        await second.stop()
    said = [r.getMessage() for r in caplog.records]
    assert sum("now receives from Telegram" in m for m in said) == 2      # the first holder, then the other
    assert sum("relays, runs the scheduler and takes over if it stops" in m for m in said) == 1
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("tnlbot")], "no traceback"
