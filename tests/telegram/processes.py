"""Real `tnlbot run --transport telegram` processes against the suite's Bot API server."""
from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tnlbot.store import Store

from ..conftest import fresh_pg_database

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def migrated_pg_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of its own, its schema ready before the processes start."""
    with fresh_pg_database(prefix) as url:
        Store(url).close()
        yield url


async def start(fake, url: str, config: Path, log: Path) -> asyncio.subprocess.Process:
    """`tnlbot --config CONFIG run --transport telegram` on `url`, its output in `log`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TNLBOT_")}
    env.update(PYTHONPATH=str(ROOT), TNLBOT_DATABASE_URL=url, TNLBOT_TELEGRAM_TOKEN=fake.token,
               TNLBOT_TELEGRAM_BASE_URL=fake.base_url)
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tnlbot", "--config", str(config), "run", "--transport", "telegram",
            cwd=str(ROOT), env=env, stdout=out, stderr=out)


async def until(condition, logs: list[Path], seconds: float = 30) -> None:
    """Wait for `condition()`; past `seconds`, fail with the end of each log."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out:\n" + "\n".join(p.read_text()[-2000:] for p in logs if p.exists()))
