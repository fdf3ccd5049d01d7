"""The answers a change of the flow set aside, shown to the team under their recap.

A dispatcher hook: after `/recap` (and only then: one query), when the
candidature has answers set aside, one more message lists them as they were
shown, with the date they were set aside, in the person's language.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import Connection, select

from ..core.answers import fold
from ..core.engine import Outcome
from ..core.events import Inbound, InboundKind, Outgoing, OutKind
from ..core.flow import JSON
from ..i18n import Catalog
from ..store import ConversationRow
from ..store import flow_tables as F

RECAP = ("recap",)


def local_date(instant: datetime, locale: str, zone: str) -> str:
    return format_date(instant.astimezone(ZoneInfo(zone or "Europe/Paris")).date(), "d MMMM y", locale=locale)


@dataclass
class AsideHook:
    catalog: Catalog

    def before(self, conn: Connection, inbound: Inbound, conv: ConversationRow | None,
               now: datetime) -> None:
        return None

    def after(self, conn: Connection, inbound: Inbound, conv: ConversationRow, outcome: Outcome,
              now: datetime, answers: Mapping[str, JSON]) -> Outcome:
        if inbound.kind is not InboundKind.COMMAND or fold(inbound.command) not in RECAP:
            return outcome
        a = F.answers_aside
        rows = conn.execute(select(a.c.reason, a.c.shown, a.c.set_aside_at).where(
            a.c.candidature_id == conv.candidature_id).order_by(a.c.id)).all()
        if not rows:
            return outcome
        locale = outcome.state.locale
        lines = [self.catalog(locale, "flowbook.aside.title")]
        for row in rows:
            shown = json.loads(row.shown or "{}")
            lines.append(self.catalog(locale, f"flowbook.aside.{row.reason}",
                                      on=local_date(row.set_aside_at, locale, conv.timezone),
                                      shown=str(shown.get(locale) or next(iter(shown.values()), ""))))
        said = Outgoing(OutKind.NOTICE, "\n".join(lines))
        messages = list(outcome.messages)
        at = max((i for i, m in enumerate(messages) if m.kind is OutKind.PROMPT), default=len(messages))
        return replace(outcome, messages=(*messages[:at], said, *messages[at:]))   # before the question
