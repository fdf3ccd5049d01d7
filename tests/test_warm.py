"""The first answers after a start pay no first use.

The e-mail checker is imported, and Babel's data for a language loaded, the first
time they are needed: without a warm-up, the first person after a start to give an
e-mail address or a number waits for that once. A long-running runner does it
beside its receiving, as soon as its transport is started.
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# a fresh interpreter: what the warm-up loads, seen from what a first answer loads after it
AFTER_WARMING = """
import sys
from unittest import mock
from babel import localedata
from tnlbot.core.kinds import parse, show_kind
from tnlbot.flows import load_all
from tnlbot.runtime.warm import first_of_each_kind, warm

flows = load_all()
OTHER = {"integer": "3", "decimal": "2.75", "percentage": "12", "date": "01/02/2020",   # not cached
         "email": "agent@mairie.example", "url": "https://mairie.example"}
assert "email_validator" not in sys.modules
print("warmed", warm(flows.values(), ["fr", "en"]))
loaded = []
real = localedata.load
with mock.patch.object(localedata, "load", side_effect=lambda *a, **k: loaded.append(a[0]) or real(*a, **k)):
    before = set(sys.modules)
    for q in first_of_each_kind(flows.values()):
        for locale in ("fr", "en"):
            value = parse(OTHER[q.kind.value], q, {}, locale)
            show_kind(q.kind, value, locale)
print("kinds", sorted(q.kind.value for q in first_of_each_kind(flows.values())))
print("imported after", sorted(set(sys.modules) - before))
print("locale data loaded after", loaded)
"""


def test_after_the_warm_up_an_answer_of_each_kind_loads_nothing() -> None:
    run = subprocess.run([sys.executable, "-c", AFTER_WARMING], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "'email'" in lines[1] and "'percentage'" in lines[1]     # the bundled flows ask both
    assert lines[2:] == ["imported after []", "locale data loaded after []"]


def test_the_telegram_runner_warms_up_once_it_receives(tmp_path: Path) -> None:
    from .telegram.fake_api import FakeBotApi
    from .telegram.processes import start, until

    async def scenario() -> str:
        api = FakeBotApi()
        await api.start()
        config = tmp_path / "tnlbot.toml"
        config.write_text('log_level = "DEBUG"\n', encoding="utf-8")
        log = tmp_path / "bot.log"
        proc = await start(api, f"sqlite:///{tmp_path / 'bot.db'}", config, log)
        try:
            await until(lambda: "answer kinds warmed" in log.read_text(), [log], 60)
        finally:
            proc.terminate()
            await proc.wait()
            await api.stop()
        return log.read_text()

    text = asyncio.run(scenario())
    assert "Traceback" not in text
