"""Campaigns (editions) in the store: create, find the current one, list."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from . import tables as T
from .store import dumps


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    slug: str
    year: int
    track: str
    flow_id: str
    opens_at: datetime
    closes_at: datetime
    timezone: str
    state: str
    config: dict[str, Any]

    def accepting(self, now: datetime) -> bool:
        return self.state != "closed" and self.opens_at <= now < self.closes_at


def _row(row: Any) -> Campaign:
    return Campaign(row.id, row.slug, row.year, row.track, row.flow_id, row.opens_at,
                    row.closes_at, row.timezone, row.state, json.loads(row.config or "{}"))


def create_campaign(conn: Connection, *, slug: str, year: int, track: str, flow_id: str,
                    opens_at: datetime, closes_at: datetime, timezone: str = "Europe/Paris",
                    config: dict[str, Any] | None = None, state: str = "scheduled") -> int:
    if closes_at <= opens_at:
        raise ValueError("a campaign must close after it opens")
    return int(conn.execute(insert(T.campaigns).values(
        slug=slug, year=year, track=track, flow_id=flow_id, opens_at=opens_at,
        closes_at=closes_at, timezone=timezone, state=state, config=dumps(config or {}),
    )).inserted_primary_key[0])


def campaign_by_slug(conn: Connection, slug: str) -> Campaign | None:
    row = conn.execute(select(T.campaigns).where(T.campaigns.c.slug == slug)).first()
    return _row(row) if row else None


def list_campaigns(conn: Connection) -> list[Campaign]:
    rows = conn.execute(select(T.campaigns).order_by(T.campaigns.c.opens_at)).all()
    return [_row(r) for r in rows]


def current_campaign(conn: Connection, now: datetime) -> Campaign | None:
    """The campaign new conversations join: open now, else the next, else the last."""
    campaigns = list_campaigns(conn)
    for pick in (lambda c: c.accepting(now), lambda c: c.opens_at > now and c.state != "closed"):
        found = [c for c in campaigns if pick(c)]
        if found:
            return found[0]
    return campaigns[-1] if campaigns else None
