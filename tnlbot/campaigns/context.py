"""What the campaign commands share: one event's context, people and addresses."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Mapping, Union

from sqlalchemy import Connection, Table, select

from ..core.events import Addressed, Inbound, Option, Outgoing, OutKind
from ..core.flow import JSON, Flow
from ..i18n import Catalog, local_time
from ..store import ConversationRow, Store
from ..store import tables as T
from ..store.campaigns import Campaign
from ..store.database import insert_for
from .config import Settings, lenient


@dataclass(frozen=True, slots=True)
class Address:
    """Where a person reads the bot for one candidature, and in which language."""
    transport: str
    chat_id: str
    user_id: str
    locale: str


@dataclass(frozen=True, slots=True)
class Member:
    person_id: int
    name: str
    role: str                    # responsible | member | elu
    volets: tuple[str, ...]      # assigned volets; empty: all
    joined_at: datetime


Params = Union[Mapping[str, str], Callable[[str], Mapping[str, str]], None]


def insert_or_skip(conn: Connection, table: Table) -> Any:   # either dialect's Insert
    """INSERT ... ON CONFLICT DO NOTHING for this connection's dialect."""
    return insert_for(conn.dialect.name)(table)


CONFIG = "SELECT config FROM campaigns WHERE id = ?"


@lru_cache(maxsize=64)   # the column's text is read on every event that needs it, parsed once
def _settings_of(config: str) -> Settings:
    return lenient(json.loads(config))


def load_campaign(conn: Connection, campaign_id: int) -> Campaign:
    row = conn.execute(select(T.campaigns).where(T.campaigns.c.id == campaign_id)).one()
    return Campaign(row.id, row.slug, row.year, row.track, row.flow_id, row.opens_at,
                    row.closes_at, row.timezone, row.state, json.loads(row.config or "{}"))


def address_of(conn: Connection, person_id: int, candidature_id: int) -> Address | None:
    """The person's latest reachable conversation about this candidature."""
    c, a = T.conversations, T.accounts
    row = conn.execute(
        select(c.c.transport, c.c.chat_id, c.c.user_id, c.c.state)
        .join(a, (a.c.transport == c.c.transport) & (a.c.external_id == c.c.user_id))
        .where(c.c.person_id == person_id, c.c.candidature_id == candidature_id,
               a.c.reachable.is_(True))
        .order_by(c.c.updated_at.desc(), c.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    return Address(row.transport, row.chat_id, row.user_id, locale_of(row.state))


def locale_of(state_json: str) -> str:
    try:
        return str(json.loads(state_json or "{}").get("locale", "fr")) or "fr"
    except (ValueError, AttributeError):
        return "fr"


def members(conn: Connection, candidature_id: int) -> list[Member]:
    m, p = T.members, T.people
    rows = conn.execute(select(m.c.person_id, p.c.display_name, m.c.role, m.c.volets, m.c.joined_at)
                        .join(p, p.c.id == m.c.person_id)
                        .where(m.c.candidature_id == candidature_id)
                        .order_by(m.c.joined_at, m.c.person_id)).all()
    return [Member(r.person_id, r.display_name or "?", r.role, tuple(json.loads(r.volets or "[]")),
                   r.joined_at) for r in rows]


def person_name(conn: Connection, person_id: int | None) -> str:
    if person_id is None:
        return "?"
    name = conn.execute(select(T.people.c.display_name).where(T.people.c.id == person_id)).scalar()
    return name or "?"


def organisation(conn: Connection, candidature_id: int) -> Any:
    """(siren, name, kind, departement) of the candidature's body, or None."""
    k, o = T.candidatures, T.organisations
    return conn.execute(select(o.c.id, o.c.siren, o.c.name, o.c.kind, o.c.departement)
                        .join(k, k.c.organisation_id == o.c.id)
                        .where(k.c.id == candidature_id)).first()


@dataclass
class Ctx:
    """One inbound event seen by the campaign feature (inside its transaction)."""
    conn: Connection
    store: Store
    flows: Mapping[str, Flow]
    catalog: Catalog
    now: datetime
    inbound: Inbound
    conv: ConversationRow | None
    _campaign: Campaign | None = None
    args: str = ""
    _answers: dict[str, JSON] | None = None
    _settings: Settings | None = None

    @property
    def campaign(self) -> Campaign:
        """The conversation's campaign, read when first needed."""
        if self._campaign is None:
            assert self.conv is not None
            self._campaign = load_campaign(self.conn, self.conv.campaign_id)
        return self._campaign

    def answers(self) -> dict[str, JSON]:
        """The candidature's answers (read once per event)."""
        if self._answers is None:
            assert self.conv is not None
            self._answers = self.store.answers(self.conn, self.conv.candidature_id)
        return self._answers

    @property
    def locale(self) -> str:
        if self.conv is not None:
            return self.conv.state.locale
        hint = self.inbound.language.split("-")[0].lower()
        return hint if hint in self.catalog.locales else "fr"

    @property
    def settings(self) -> Settings:
        """The campaign's settings; without the campaign row when it was not read (a SIREN typed)."""
        if self._settings is None:
            if self._campaign is not None:
                config = self._campaign.config
            else:
                assert self.conv is not None
                row = self.store.hot.run(self.conn, CONFIG, (self.conv.campaign_id,)).fetchone()
                self._settings = _settings_of(row[0] or "{}")
                return self._settings
            self._settings = lenient(config)
        return self._settings

    @property
    def flow(self) -> Flow:
        return self.flows[self.conv.flow_id if self.conv is not None else self.campaign.flow_id]

    @property
    def zone(self) -> str:
        return self.conv.timezone if self.conv is not None else self.campaign.timezone

    def when(self, instant: datetime, locale: str = "") -> str:
        return local_time(instant, locale or self.locale, self.zone)

    def t(self, key: str, **params: str) -> str:
        return self.catalog(self.locale, key, **params)

    def reply(self, text: str, actions: tuple[Option, ...] = (), options: tuple[Option, ...] = (),
              ref: str = "") -> Addressed:
        kind = OutKind.PROMPT if options else OutKind.NOTICE
        item = Outgoing(kind, text, ref=ref, options=options, actions=actions)
        return Addressed(self.inbound.transport, self.inbound.chat_id, item, self.inbound.user_id)

    def name_of(self, person_id: int | None, name: str | None) -> str:
        """A person's name as shown; an erased person is "personne effacée n°…"."""
        if name and name != "?":
            return name
        return self.t("jury.export.erased", id=str(person_id)) if person_id is not None else "?"

    def say(self, key: str, **params: str) -> list[Addressed]:
        return [self.reply(self.t(key, **params))]

    def notify(self, person_id: int, candidature_id: int, key: str, params: Params = None,
               dedup: str = "") -> list[Addressed]:
        """A notice to another person, in their language, where they answer.

        `params` may be a function of the recipient's locale."""
        where = address_of(self.conn, person_id, candidature_id)
        if where is None:
            return []
        values = params(where.locale) if callable(params) else (params or {})
        text = self.catalog(where.locale, key, **dict(values))
        return [Addressed(where.transport, where.chat_id, Outgoing(OutKind.NOTICE, text),
                          where.user_id, dedup, locale=where.locale)]


def responsible_only(ctx: Ctx) -> list[Addressed] | None:
    """A refusal when the sender is not the responsible (or the campaign is closed)."""
    assert ctx.conv is not None
    if not ctx.conv.is_responsible:
        return ctx.say("teams.responsible_only", name=person_name(ctx.conn, _responsible(ctx)))
    if not ctx.campaign.accepting(ctx.now):
        return ctx.say("teams.campaign_closed")
    return None


def _responsible(ctx: Ctx) -> int | None:
    assert ctx.conv is not None
    return ctx.conn.execute(select(T.candidatures.c.responsible_id).where(
        T.candidatures.c.id == ctx.conv.candidature_id)).scalar()
