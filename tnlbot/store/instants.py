"""How the store writes and reads instants: the one place that knows.

Instants are UTC. PostgreSQL keeps them as `timestamptz` (the driver converts);
SQLite keeps them as text, the way SQLAlchemy writes a naive DateTime
("YYYY-MM-DD HH:MM:SS.ffffff", UTC). The table type (`tables.UTC`) and the plain
SQL of the hot path both go through these functions, so a row written by one is
read by the other.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any


def utc(value: datetime) -> datetime:
    """Naive instants are stored UTC; aware ones are moved to UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def to_store(instant: datetime, is_sqlite: bool) -> Any:
    """An aware instant as the database takes it (naive UTC for SQLite's DateTime)."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    moved = instant.astimezone(timezone.utc)
    return moved.replace(tzinfo=None) if is_sqlite else moved


def sqlite_text(instant: datetime) -> str:
    """The text SQLite keeps for an instant (what SQLAlchemy writes for `to_store`'s value)."""
    # isoformat(" ", "microseconds") is SQLAlchemy's "%Y-%m-%d %H:%M:%S.%f", without strftime's cost
    return to_store(instant, True).isoformat(" ", "microseconds")


def from_store(value: Any) -> datetime | None:
    """An instant as read back (text from SQLite, datetime from PostgreSQL), aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        return _from_text(value)
    return utc(value)


@lru_cache(maxsize=1024)   # a campaign's opening and closing instants are read on every event
def _from_text(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


def iso_z(instant: datetime | None) -> str:
    """An instant for people and exports: ISO 8601 in UTC with a Z ("" when unknown)."""
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if instant else ""
