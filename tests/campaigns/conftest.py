"""Campaign fixtures: a campaign with a plan and jury rooms, agents who read
their own chat (replies and notices from colleagues' events), a transport
that records what the relay sends, and valid SIREN numbers."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from tnlbot.app import App, Settings
from tnlbot.core.events import Outgoing
from tnlbot.store import tables as T
from tnlbot.store.campaigns import create_campaign
from tnlbot.runtime.transport import SendResult, SendStatus

from ..harness import Chat, Reply

UTC = timezone.utc
JURY = [{"transport": "matrix", "chat_id": "!jury:example.org"},
        {"transport": "telegram", "chat_id": "-1001234", "locale": "en"}]
PLAN = {"before_days": [14, 7, 2, 1], "inactivity_days": 10, "max_per_person": 6}


def siren(prefix: int) -> str:
    """A Luhn-valid SIREN from 8 digits."""
    body = f"{prefix:08d}"
    for check in range(10):
        digits = [int(c) for c in body + str(check)]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                    for i, d in enumerate(digits))
        if total % 10 == 0:
            return body + str(check)
    raise AssertionError("no check digit")


class Agent(Chat):
    """A chat that shows only what reaches its own chat, in order."""

    def __init__(self, app, user: str, **kwargs):
        super().__init__(app, user, **kwargs)
        self.seen = 0

    def deliver(self, inbound) -> Reply:
        handled = self.app.dispatcher.handle(inbound)
        if handled.duplicate:
            return Reply([], duplicate=True)
        if handled.outbox_ids:   # as the harness: what this event queued counts as delivered
            with self.app.store.begin() as conn:
                conn.execute(update(T.outbox).where(T.outbox.c.id.in_(handled.outbox_ids))
                             .values(status="sent"))
        return self.inbox()

    def inbox(self) -> Reply:
        """Everything queued for this chat since it last looked."""
        o = T.outbox
        with self.app.store.begin() as conn:
            rows = conn.execute(select(o.c.id, o.c.payload).where(
                o.c.transport == self.transport, o.c.chat_id == self.chat, o.c.id > self.seen)
                .order_by(o.c.id)).all()
        if rows:
            self.seen = rows[-1].id
        return Reply([Outgoing.from_json(json.loads(r.payload)) for r in rows])


class Recorder:
    """A transport that records each send (the relay's view), with the instant."""

    def __init__(self, name: str, clock=None):
        self.name = name
        self.clock = clock
        self.sent: list = []

    async def start(self, sink) -> None:
        return None

    async def send(self, row) -> SendResult:
        self.sent.append((self.clock.now() if self.clock else None, row))
        return SendResult(SendStatus.SENT, ref=str(row.id))

    async def stop(self) -> None:
        return None


def make_campaign(store, *, opens: datetime, closes: datetime, slug: str = "tnl-2024",
                  flow: str = "tnl-2022", year: int = 2024, config: dict | None = None,
                  state: str = "open") -> int:
    with store.begin() as conn:
        return create_campaign(conn, slug=slug, year=year, track="label", flow_id=flow,
                               opens_at=opens, closes_at=closes, state=state,
                               config=config if config is not None else
                               {"reminders": PLAN, "jury": JURY, "elu_confirmation": True})


@pytest.fixture
def build(flows, catalog, clock):
    """build(store, opens=..., closes=..., config=...) -> App with that campaign."""
    apps = []

    def make(store, **campaign) -> App:
        if campaign.pop("campaign", True):
            make_campaign(store, **campaign)
        app = App(Settings(database_url=store.url), clock=clock, store=store, flows=flows,
                  catalog=catalog)
        for name in ("console", "telegram", "matrix"):
            app.transports[name] = Recorder(name, clock)
        apps.append(app)
        return app
    yield make


@pytest.fixture
def camp(build, sqlite_store, clock):
    """An open campaign (closing in 120 days) on SQLite."""
    now = clock.now()
    return build(sqlite_store, opens=now - timedelta(days=1), closes=now + timedelta(days=120))


IDENTITY = {
    "nom_collectivite": "Testbourg", "type_collectivite": "1", "departement": "34",
    "population": "12000", "nombre_agents": "150", "nombre_postes": "120",
    "elu_nom": "Marie Curie", "elu_mandat": "Adjointe au numérique",
    "elu_email": "elue@testbourg.fr", "elu_telephone": "04 67 00 00 00",
    "referent_nom": "Alice Martin", "referent_fonction": "DSI", "referent_email": "dsi@testbourg.fr",
    "referent_telephone": "04 67 00 00 01", "deja_labellise": "non",
}


def identify(agent: Agent, number: str, **overrides: str) -> Reply:
    """Answer the identification volet (the bot asks, the agent answers).

    Returns everything the bot said meanwhile; its last prompt is the next question."""
    answers = {**IDENTITY, "siren": number, **overrides}
    reply = agent.say("/start")
    said = list(reply.items)
    for _ in range(30):
        if reply.ref not in answers:
            return Reply(said)
        reply = agent.say(answers[reply.ref])
        said += reply.items
    raise AssertionError("identification did not end")


def elu_by_operator(app, agent: Agent) -> None:
    """The operator records the élu's confirmation for the agent's candidature (`tnlbot claims elu`)."""
    from tnlbot.campaigns.elu import confirm_by_operator
    c = T.conversations
    with app.store.begin() as conn:
        cand = conn.execute(select(c.c.candidature_id).where(c.c.chat_id == agent.chat)).scalar()
        assert confirm_by_operator(conn, cand, app.clock.now())
