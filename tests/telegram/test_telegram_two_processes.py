"""Two `tnlbot run --transport telegram` processes on one PostgreSQL database.

Against the test Bot API, which ends an overtaken getUpdates with 409 as
Telegram does: one process receives, the other stands by; nobody conflicts,
every update is answered once; the receiving process is killed -9 and the
other takes over within seconds. Both logs stay short and hold no traceback.
"""
from __future__ import annotations

import asyncio
import signal

import pytest
from sqlalchemy import create_engine, select

from tnlbot.store import tables as T

from .processes import migrated_pg_database, start, until

pytestmark = pytest.mark.postgres


@pytest.fixture
def database():
    with migrated_pg_database("tnlbot_pollers") as url:
        yield url




def holder(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(select(T.leases.c.holder).where(
                T.leases.c.name == "telegram-poller")).scalar() or "")
    finally:
        engine.dispose()


def say(fake, user: int, text: str) -> int:
    sender = {"id": user, "is_bot": False, "first_name": f"Agent {user}", "language_code": "fr"}
    return fake.push({"message": fake.user_message(user, sender, text)})


def answered(fake, users) -> bool:
    return all(any(c.method == "sendMessage" and c.params.get("chat_id") == u for c in fake.calls)
               for u in users)


async def test_two_processes_one_receiver_and_a_takeover_after_kill_9(fake, database, tmp_path):
    config = tmp_path / "tnlbot.toml"
    config.write_text("telegram_poller_lease = 2\n", encoding="utf-8")
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    procs = [await start(fake, database, config, log) for log in logs]
    try:
        await until(lambda: holder(database), logs)
        pushed = [say(fake, 800, "/start"), say(fake, 801, "/start")]
        await until(lambda: set(pushed) <= set(fake.confirmed) and answered(fake, (800, 801)), logs)
        await asyncio.sleep(3)                                # both run; only one polls
        assert fake.conflicts == 0
        pid = int(holder(database).rsplit(":", 1)[1])
        [victim] = [p for p in procs if p.pid == pid]
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        pushed.append(say(fake, 802, "/start"))
        await until(lambda: set(pushed) <= set(fake.confirmed) and answered(fake, (802,)), logs)
        survivor = next(p for p in procs if p is not victim)
        assert holder(database).endswith(f":{survivor.pid}")
        survivor.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(survivor.wait(), 30) == 0
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    text = "\n".join(log.read_text() for log in logs)
    assert "Traceback" not in text
    assert len(text.splitlines()) < 40, text
    starts = [c for c in fake.calls if c.method == "sendMessage" and c.params.get("chat_id") in (800, 801, 802)]
    assert sorted({c.params["chat_id"] for c in starts}) == [800, 801, 802]
    print(f"\ntwo processes: {fake.conflicts} conflicts, {len(text.splitlines())} log lines in all:\n{text}")
