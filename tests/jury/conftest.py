"""Fixtures of the jury tests: campaigns filled by talking to the real bot."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from tnlbot.app import App, Settings
from tnlbot.jury import queries as Q
from tnlbot.runtime.clock import FakeClock
from tnlbot.store import Store

from ..conftest import START, _pg_store, open_campaign
from ..harness import Chat
from .builders import FULL, RICH, SMALL_A, Plan, fill


@dataclass
class Sample:
    app: App
    store: Store
    clock: FakeClock
    campaign_id: int
    ids: dict[str, int]          # body -> candidature id
    chats: dict[str, Chat]


def candidature_of(chat: Chat) -> int:
    from sqlalchemy import select

    from tnlbot.store import tables as T
    c = T.conversations
    with chat.app.store.begin() as conn:
        return int(conn.execute(select(c.c.candidature_id).where(
            c.c.transport == chat.transport, c.c.user_id == chat.user)).scalar())


def make_app(store: Store, flows, catalog, clock: FakeClock) -> App:
    return App(Settings(database_url=store.url), clock=clock, store=store, flows=flows, catalog=catalog)


def build(store: Store, flows, catalog, clock: FakeClock, flow_id: str,
          plans: dict[str, Plan], slug: str = "") -> Sample:
    campaign_id = open_campaign(store, flow_id, slug=slug or f"{flow_id}-test")
    app = make_app(store, flows, catalog, clock)
    ids, chats = {}, {}
    for who, plan in plans.items():
        chats[who] = Chat(app, who)
        fill(chats[who], flows[flow_id], plan)
        ids[who] = candidature_of(chats[who])
        clock.advance(minutes=10)
    return Sample(app, store, clock, campaign_id, ids, chats)


SAMPLE_PLANS = {"syndicat": RICH, "commune": SMALL_A, "communaute": FULL}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sample(request, tmp_path_factory, flows, catalog):
    """A 2022 campaign with 3 submitted candidatures, built once per module and store."""
    if request.param == "sqlite":
        store = Store(Store.sqlite_url(tmp_path_factory.mktemp("jury") / "tnlbot.db"))
    else:
        store = _pg_store(request.getfixturevalue("pg_url"))
    yield build(store, flows, catalog, FakeClock(START), "tnl-2022", SAMPLE_PLANS)
    store.close()


def badge_plan(name: str, strategy: str = "4") -> Plan:
    return Plan(answers={"nom_collectivite": name, "strategie_libre": strategy})


@pytest.fixture
def badge(any_store, flows, catalog, clock):
    """A 2025 badge campaign with two submitted candidatures, on SQLite and PostgreSQL."""
    return build(any_store, flows, catalog, clock, "tnl-2025-badge",
                 {"alice": badge_plan("Ville d'Alice"), "bob": badge_plan("Bourg de Bob", "2")})


def seat(sample: Sample, user: str, transport: str = "console", kind: str = "user",
         campaign_id: int | None = None) -> None:
    """Register a jury member, as the operator would."""
    with sample.store.begin() as conn:
        Q.add_member(conn, campaign_id or sample.campaign_id, transport, kind, user, user.title(),
                     sample.clock.now())


def close(sample: Sample) -> None:
    """Move past the campaign's closing date."""
    sample.clock.set(START + timedelta(days=121))
