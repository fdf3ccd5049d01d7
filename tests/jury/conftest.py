"""Fixtures of the jury tests: campaigns filled through the real bot or the Store.

`sample` (a 2022 campaign, 3 candidatures answered question by question
through the bot) is built once per session and store, on its own database:
tests using it only read. `badge` (a 2025 badge campaign, 2 candidatures
written through the Store's save path) is built for each test that changes
things.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from tnlbot.app import App, Settings
from tnlbot.jury import queries as Q
from tnlbot.runtime.clock import FakeClock
from tnlbot.store import Store
from tnlbot.store import tables as T

from ..conftest import START, fresh_pg_database, open_campaign
from ..harness import Chat
from .builders import BADGE_ANSWERS, FULL, RICH, SMALL_A, Plan, fill, quick


@dataclass
class Sample:
    app: App
    store: Store
    clock: FakeClock
    campaign_id: int
    ids: dict[str, int]          # who -> candidature id
    chats: dict[str, Chat]


def candidature_of(chat: Chat) -> int:
    c = T.conversations
    with chat.app.store.begin() as conn:
        return int(conn.execute(select(c.c.candidature_id).where(
            c.c.transport == chat.transport, c.c.user_id == chat.user)).scalar())


def make_app(store: Store, flows, catalog, clock: FakeClock) -> App:
    return App(Settings(database_url=store.url), clock=clock, store=store, flows=flows, catalog=catalog)


def build(store: Store, flows, catalog, clock: FakeClock, flow_id: str,
          plans: dict[str, Plan | dict], slug: str = "") -> Sample:
    """A campaign; a Plan is answered through the bot, a dict written through the Store."""
    campaign_id = open_campaign(store, flow_id, slug=slug or f"{flow_id}-test")
    app = make_app(store, flows, catalog, clock)
    ids, chats = {}, {}
    for who, plan in plans.items():
        if isinstance(plan, Plan):
            chats[who] = Chat(app, who)
            fill(chats[who], flows[flow_id], plan)
        else:
            chats[who] = quick(app, who, campaign_id, flows[flow_id], plan)
        ids[who] = candidature_of(chats[who])
        clock.advance(minutes=10)
    return Sample(app, store, clock, campaign_id, ids, chats)


SAMPLE_PLANS = {"syndicat": RICH, "commune": SMALL_A, "communaute": FULL}


@pytest.fixture(scope="session")
def sample_pg_url():
    """A PostgreSQL database of its own for the shared sample (other tests truncate theirs)."""
    with fresh_pg_database("tnlbot_jury") as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sample(request, tmp_path_factory, flows, catalog):
    """A 2022 campaign with 3 candidatures submitted through the bot. Read it, never change it."""
    if request.param == "sqlite":
        store = Store(Store.sqlite_url(tmp_path_factory.mktemp("jury") / "tnlbot.db"))
    else:
        store = Store(request.getfixturevalue("sample_pg_url"))
    yield build(store, flows, catalog, FakeClock(START), "tnl-2022", SAMPLE_PLANS)
    store.close()


def badge_answers(name: str, **changes) -> dict:
    return {**BADGE_ANSWERS, "nom_collectivite": name, **changes}


@pytest.fixture
def badge(any_store, flows, catalog, clock):
    """A 2025 badge campaign with two submitted candidatures, on SQLite and PostgreSQL."""
    return build(any_store, flows, catalog, clock, "tnl-2025-badge",
                 {"alice": badge_answers("Ville d'Alice"),
                  "bob": badge_answers("Bourg de Bob", strategie_libre="informelle")})


def seat(sample: Sample, user: str, transport: str = "console", kind: str = "user",
         campaign_id: int | None = None) -> None:
    """Register a jury member, as the operator would (idempotent)."""
    with sample.store.begin() as conn:
        Q.add_member(conn, campaign_id or sample.campaign_id, transport, kind, user, user.title(),
                     sample.clock.now())


def close(sample: Sample) -> None:
    """Move past the campaign's closing date."""
    sample.clock.set(START + timedelta(days=121))
