"""tnlbot/core is pure: it imports no I/O, no async, no SQL, no platform library."""
import ast
from pathlib import Path

import tnlbot.core

FORBIDDEN = ("asyncio", "sqlalchemy", "telegram", "nio", "httpx", "aiohttp", "psycopg", "sqlite3",
             "socket", "tnlbot.runtime", "tnlbot.store", "tnlbot.transports", "tnlbot.app",
             "tnlbot.cli", "tnlbot.flows", "tnlbot.i18n", "time", "os", "subprocess", "threading")
RELATIVE_FORBIDDEN = ("runtime", "store", "transports", "app", "cli", "flows", "i18n")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level >= 2 and node.module:
                names.add("tnlbot." + node.module)
            elif node.level >= 2:
                names.update("tnlbot." + alias.name for alias in node.names)
            elif node.level == 0 and node.module:
                names.add(node.module)
    return names


def test_core_imports_nothing_impure():
    core = Path(tnlbot.core.__file__).parent
    offenders = {}
    for path in sorted(core.glob("*.py")):
        bad = {name for name in imported_modules(path)
               if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)}
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_the_purity_check_catches_an_impure_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import asyncio\nfrom ..store import Store\nfrom sqlalchemy import select\n")
    assert {"asyncio", "tnlbot.store", "sqlalchemy"} <= imported_modules(sample)
