"""The plain SQL of the hot path names only tables and columns the schema has.

Every statement run through `Store.hot` (the store's and the features') is
prepared, without running it, against four databases: the tables as declared
(SQLAlchemy metadata, `create_all`) and as migrated (Alembic, head), on SQLite
and PostgreSQL. A misspelled table or column fails here, not in production.
"""
from __future__ import annotations

import ast
import importlib
import re
from dataclasses import fields
from pathlib import Path

import pytest
from sqlalchemy import create_engine

import tnlbot
from tnlbot.campaigns import reminders
from tnlbot.campaigns.claims import ORG_FIELDS
from tnlbot.campaigns.identity import CURRENT_ORG
from tnlbot.store import Store
from tnlbot.store import hotpath as H
from tnlbot.store import tables as T

from .conftest import fresh_pg_database

PACKAGE = Path(tnlbot.__file__).parent
VERBS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "WITH ")


def hot_modules() -> list[str]:
    """Modules that run plain SQL through the store's `hot.run`."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.parts and "hot.run(" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            found.append(".".join(parts))
    return found + ["tnlbot.store.hotpath"]


def inline_sql() -> list[str]:
    """`hot.run` calls given SQL written in place (not a named statement this test reads)."""
    offenders = []
    for name in hot_modules():
        path = PACKAGE.parent / (name.replace(".", "/") + ".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "run" and len(node.args) >= 2
                    and isinstance(node.args[1], (ast.Constant, ast.JoinedStr, ast.BinOp))):
                offenders.append(f"{path.name}:{node.lineno}")
    return offenders


def hot_statements() -> dict[str, str]:
    """Name -> SQL of every hot statement, with the shapes built at run time."""
    found: dict[str, str] = {}
    for name in hot_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.isupper() and isinstance(value, str) and value.lstrip().upper().startswith(VERBS):
                found[f"{name}.{attr}"] = value
    for is_sqlite in (True, False):
        for field, sql in _fields(is_sqlite):
            found[f"Statements({'sqlite' if is_sqlite else 'postgresql'}).{field}"] = sql
    found["outbox_rows(3)"] = H.outbox_rows(3)
    found["outbox_rows(2, returning=False)"] = H.outbox_rows(2, returning=False)
    found["ANSWERS_OF(2 keys)"] = H.ANSWERS_OF.format(marks="?, ?")
    for name, sql in (*H.AHEAD.items(), *H.BATCHED.items()):   # PostgreSQL only (arrays)
        found[f"Statements(postgresql).batch.{name}"] = sql
    found["reminders.DUE_MEMBERS(2 ids)"] = reminders.DUE_MEMBERS.format(marks="?, ?")
    found["reminders.LOG_OF(2 ids)"] = reminders.LOG_OF.format(marks="?, ?")
    columns = sorted(ORG_FIELDS.values())      # identity.sync_organisation: every column at once
    found["identity.sync_organisation"] = ("UPDATE organisations SET " + ", ".join(f"{c} = ?" for c in columns)
                                           + " WHERE id = (" + CURRENT_ORG + ")")
    return found


def _fields(is_sqlite: bool) -> list[tuple[str, str]]:
    statements = H.Statements.of(is_sqlite)
    return [(field.name, getattr(statements, field.name)) for field in fields(H.Statements)]


# parts of statements, checked as the statements they make up
PARTS = {"tnlbot.store.hotpath.CONVERSATION_COLUMNS", "tnlbot.store.hotpath.OUTBOX_HEAD",
         "tnlbot.store.hotpath.ANSWERS_OF", "tnlbot.store.hotpath.ANSWERS_PG",
         "tnlbot.campaigns.reminders.DUE_MEMBERS", "tnlbot.campaigns.reminders.LOG_OF"}


def for_database(name: str, is_sqlite: bool) -> bool:
    """Whether this database runs the statement (Statements(...) hold one database's own)."""
    if name in PARTS:
        return False
    return not name.startswith("Statements(") or name.startswith(
        "Statements(sqlite)" if is_sqlite else "Statements(postgresql)")


def refused(raw, sql: str, is_sqlite: bool) -> str | None:   # raw: a DBAPI connection
    """Why the database refuses to prepare `sql` (None: it names only what exists)."""
    try:
        if is_sqlite:
            raw.execute("EXPLAIN " + sql, [None] * sql.count("?")).fetchall()
        else:
            numbered = iter(range(1, sql.count("?") + 1))
            with raw.transaction():
                raw.execute("PREPARE hot_check AS " + re.sub(r"\?", lambda _: f"${next(numbered)}", sql))
                raw.execute("DEALLOCATE hot_check")
    except Exception as exc:  # noqa: BLE001 - the refusal is the finding
        return str(exc).splitlines()[0]
    return None


def refusals(raw, is_sqlite: bool, statements: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, sql in statements.items():
        why = for_database(name, is_sqlite) and refused(raw, sql, is_sqlite)
        if why:
            out[name] = why
    return out


@pytest.fixture(params=["sqlite-declared", "sqlite-migrated",
                        pytest.param("postgresql-declared", marks=pytest.mark.postgres),
                        pytest.param("postgresql-migrated", marks=pytest.mark.postgres)])
def schema(request, tmp_path):
    """(DBAPI connection, is SQLite) of a database made from the metadata or the migrations."""
    kind, how = request.param.split("-")
    if kind == "sqlite":
        url = Store.sqlite_url(tmp_path / "hot.db")
        yield from _opened(url, how, True)
        return
    with fresh_pg_database("tnlbot_hot_sql") as url:
        yield from _opened(url, how, False)


def _opened(url: str, how: str, is_sqlite: bool):   # a fixture's generator
    if how == "migrated":
        Store(url).close()                     # alembic upgrade head, as at start-up
    else:
        engine = create_engine(url)
        T.metadata.create_all(engine)
        engine.dispose()
    engine = create_engine(url)
    conn = engine.raw_connection()
    try:
        yield conn.driver_connection, is_sqlite
    finally:
        conn.close()
        engine.dispose()


def test_every_hot_statement_names_what_the_schema_has(schema):
    raw, is_sqlite = schema
    statements = hot_statements()
    assert len(statements) > 20
    assert refusals(raw, is_sqlite, statements) == {}


def test_a_misspelled_column_or_table_is_caught(schema):
    raw, is_sqlite = schema
    wrong = {"column": H.UPSERT_ANSWER.replace("answered_by", "answerd_by"),
             "column in a join": H.CONVERSATION.replace("m.volets", "m.volet"),
             "table": H.TOUCH_CANDIDATURE.replace("candidatures", "candidature")}
    assert sorted(refusals(raw, is_sqlite, wrong)) == ["column", "column in a join", "table"]


def test_hot_sql_is_named_where_this_test_reads_it():
    assert inline_sql() == []
    assert {"tnlbot.store.hotpath", "tnlbot.campaigns.claims"} <= set(hot_modules())


def test_a_new_outbox_row_starts_at_the_table_defaults():
    assert H.queued_defaults() == {"status": "pending", "attempts": 0, "sent_ref": "", "error": ""}
    assert set(H.OUTBOX_GIVEN) | set(H.queued_defaults()) <= {c.name for c in T.outbox.columns}
