"""Run the Alembic migrations shipped in the package (no alembic.ini needed).

Alembic is imported only when the schema is not current: the heads are read
from the revision files themselves (their `revision` and `down_revision`
lines) and compared with the store's `alembic_version`, which makes a start
on a current store quick.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).resolve().parent / "migrations"
_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


def config(engine: Engine | None = None) -> Config:
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def shipped_heads(folder: Path = HERE / "versions") -> set[str]:
    """The revisions no other revision builds on, from the files' own lines."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in folder.glob("*.py"):
        found = dict(_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revisions.add(ast.literal_eval(found["revision"].strip()))
        down = ast.literal_eval(found.get("down_revision", "None").strip())
        parents.update((down,) if isinstance(down, str) else (down or ()))
    return revisions - parents


def current_heads(engine: Engine) -> set[str] | None:
    """What the store says it holds (None: no version table yet)."""
    try:
        with engine.connect() as conn:
            return {str(v) for (v,) in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except DBAPIError:
        return None


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revisions (a no-op when it is there).

    Features may add their own branch of revisions from 0001, so there may be
    several heads: all are applied.
    """
    if current_heads(engine) == shipped_heads():
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    cfg = config(engine)
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current != heads:
        command.upgrade(cfg, "heads")
