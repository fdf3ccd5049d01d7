"""The jury's part of the dispatch: /jury for jury members, /mes_donnees and /oublier for everyone.

A dispatcher hook (see runtime/dispatcher.py): `before` answers these
commands itself, inside the event's one transaction, and lets everything else
through to the questionnaire engine. /jury from anyone who is not on a jury
gets a polite refusal and changes nothing. /mes_donnees sends the person
their own data only; /oublier asks for a confirmation, then erases their
identity (the body's submitted answers stay for the jury).
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Mapping

from sqlalchemy import Connection, select

from ..core.answers import Problem, clean_text, fold
from ..core.events import Addressed, Inbound, InboundKind, Option, Outgoing, OutKind
from ..core.flow import Flow
from ..i18n import Catalog
from ..store import ConversationRow
from ..store import tables as T
from ..store.jsontext import loads
from . import queries as Q

if TYPE_CHECKING:
    from .chat import Handler

# The jury's chat, exports, assessments and erasure are imported by the commands that use
# them (below), not with this hook: every process builds the hook, few get a jury command,
# and the terminal reaches its first prompt sooner without them.


@lru_cache(maxsize=1)
def subcommands() -> Mapping[str, Handler]:
    """/jury's subcommands and their handlers."""
    from . import assess, chat
    return {
        "aide": chat.help_, "help": chat.help_,
        "liste": chat.list_, "list": chat.list_,
        "voir": chat.show_, "show": chat.show_,
        "dossier": chat.dossier_,
        "export": chat.export_, "exporter": chat.export_,
        "noter": assess.assess_, "assess": assess.assess_, "evaluer": assess.assess_,
        "notes": assess.grades_, "grades": assess.grades_, "evaluations": assess.grades_,
        "versions": chat.versions_,
        "rapport": chat.report_, "report": chat.report_,
        "diff": chat.diff_, "differences": chat.diff_, "ecarts": chat.diff_,
    }


JURY = {"jury"}
MY_DATA = {"mes_donnees", "mesdonnees", "my_data", "mydata"}
FORGET = {"oublier", "forget", "oubliez_moi", "forget_me"}
CONFIRM = {"confirmer", "confirm", "oui", "yes"}


def private_chat(conn: Connection, inbound: Inbound) -> bool:
    """A chat between the bot and this person alone: not a group the transport reported,
    not a jury room, and on Telegram the private chat (its id is the user's id)."""
    if inbound.group or Q.is_jury_room(conn, inbound.transport, inbound.chat_id):
        return False
    return inbound.transport != "telegram" or inbound.chat_id == inbound.user_id


class JuryHook:
    def __init__(self, flows: Mapping[str, Flow], catalog: Catalog):
        self.flows = flows
        self.catalog = catalog

    def before(self, conn: Connection, inbound: Inbound, conv: ConversationRow | None,
               now: datetime) -> list[Addressed] | None:
        if inbound.kind is not InboundKind.COMMAND:
            return None
        name = fold(inbound.command)
        if name not in JURY | MY_DATA | FORGET:
            return None
        locale = self._locale(inbound, conv)
        args = clean_text(inbound.text) if inbound.text.strip() else ""
        if isinstance(args, Problem):
            items = [Outgoing(OutKind.NOTICE, self.catalog(locale, args.key, **args.params))]
        elif name in FORGET:
            return self._forget(conn, inbound, now, locale, args)
        elif name in JURY and not Q.jury_campaigns(conn, inbound.transport, inbound.chat_id, inbound.user_id):
            items = self._say(locale, "jury.refused")
        elif not private_chat(conn, inbound):
            return self._in_private(conn, inbound, now, locale, args, name)
        elif name in JURY:
            items = self._jury(conn, inbound, now, locale, args)
        else:
            items = self._my_data(conn, inbound, locale, args)
        return [Addressed(inbound.transport, inbound.chat_id, item, inbound.user_id) for item in items]

    def _in_private(self, conn: Connection, inbound: Inbound, now: datetime, locale: str, args: str,
                    name: str) -> list[Addressed]:
        """Asked in a group: the answer goes to the person's private chat (Telegram: its id is the
        user's), or the person is told to ask there (a direct room on Matrix)."""
        if inbound.transport != "telegram":
            return [Addressed(inbound.transport, inbound.chat_id,
                              Outgoing(OutKind.NOTICE, self.catalog(locale, "jury.private.ask_direct")),
                              inbound.user_id)]
        items = (self._jury(conn, inbound, now, locale, args) if name in JURY
                 else self._my_data(conn, inbound, locale, args))
        note = Outgoing(OutKind.NOTICE, self.catalog(locale, "jury.private.sent"))
        return ([Addressed(inbound.transport, inbound.chat_id, note, inbound.user_id)]
                + [Addressed(inbound.transport, inbound.user_id, item, inbound.user_id) for item in items])

    def _locale(self, inbound: Inbound, conv: ConversationRow | None) -> str:
        if conv is not None:
            return conv.state.locale
        hint = inbound.language.split("-")[0].lower() if inbound.language else ""
        return hint if hint in self.catalog.locales else "fr"

    def _say(self, locale: str, key: str, **params: str) -> list[Outgoing]:
        return [Outgoing(OutKind.NOTICE, self.catalog(locale, key, **params))]

    # ------------------------------------------------------------ /jury
    def _jury(self, conn: Connection, inbound: Inbound, now: datetime, locale: str,
              args: str) -> list[Outgoing]:
        campaigns = Q.jury_campaigns(conn, inbound.transport, inbound.chat_id, inbound.user_id)
        if not campaigns:
            return self._say(locale, "jury.refused")
        words = args.split(maxsplit=1)
        sub = fold(words[0]) if words else "aide"
        handler = subcommands().get(sub)
        if handler is None:
            return self._say(locale, "jury.unknown_command", name=words[0][:40])
        rest = words[1] if len(words) > 1 else ""
        from .chat import Ask
        ask = Ask(conn, inbound, now, locale, self.catalog, self.flows, campaigns)
        return handler(ask, rest.split(), rest)

    # ------------------------------------------------------------ personal data
    def _my_data(self, conn: Connection, inbound: Inbound, locale: str, args: str) -> list[Outgoing]:
        from .chat import document
        from .privacy import personal_data
        data = personal_data(conn, inbound.transport, inbound.user_id)
        out = self._say(locale, "jury.data.only_yours") if args else []
        if "person" not in data and not data["jury"]["seats"] and not data["jury"]["assessments_you_wrote"]:
            return out + self._say(locale, "jury.data.nothing")
        payload = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        caption = self.catalog(locale, "jury.data.sent")
        return out + [document("mes-donnees.json", "application/json", payload, caption)]

    def _forget(self, conn: Connection, inbound: Inbound, now: datetime, locale: str,
                args: str) -> list[Addressed]:
        here = partial(Addressed, inbound.transport, inbound.chat_id, user_id=inbound.user_id)
        if fold(args) not in CONFIRM:
            action = Option(self.catalog(locale, "jury.forget.command"), self.catalog(locale, "jury.forget.action"))
            return [here(Outgoing(OutKind.NOTICE, self.catalog(locale, "jury.forget.explain"), actions=(action,)))]
        from .erasure import erase
        done = erase(conn, inbound.transport, inbound.user_id, now)
        if not done.known:
            return [here(Outgoing(OutKind.NOTICE, self.catalog(locale, "jury.forget.nothing")))]
        lines = [self.catalog(locale, "jury.forget.done")]
        if done.in_team:
            lines.append(self.catalog(locale, "jury.forget.kept_team"))
        if done.kept_submitted:
            lines.append(self.catalog(locale, "jury.forget.kept_submitted", n=str(done.kept_submitted)))
        if done.handed_over:
            lines.append(self.catalog(locale, "jury.forget.handed_over"))
        # the reply names the chat: the relay deletes it once sent (its key starts with "forget:")
        reply = here(Outgoing(OutKind.NOTICE, "\n".join(lines)), dedup_key="forget:" + os.urandom(8).hex())
        told = [self._told(conn, heir) for heir in done.handed_over]
        return [reply] + [t for t in told if t is not None]

    def _told(self, conn: Connection, person: int) -> Addressed | None:
        """The new responsible is told where they last wrote, in their language."""
        c = T.conversations
        row = conn.execute(select(c.c.transport, c.c.chat_id, c.c.user_id, c.c.state)
                           .where(c.c.person_id == person).order_by(c.c.updated_at.desc()).limit(1)).first()
        if row is None:
            return None
        locale = str(loads(row.state or "{}").get("locale", "fr"))
        text = self.catalog(locale if locale in self.catalog.locales else "fr", "jury.forget.told_heir")
        return Addressed(row.transport, row.chat_id, Outgoing(OutKind.NOTICE, text), row.user_id)
