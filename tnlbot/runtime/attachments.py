"""Files read by a transport wait here until the answer that holds them is saved.

A transport that has a file's bytes calls `hold` and sends the reference it gets
in its `Inbound`. As the dispatcher's last hook, `after` stores the content in
the same transaction as the answer that took it (store/attachments.keep); a
file the engine refused is dropped unstored. The same content held twice (two
people sending one file in one batch) is held until both events are handled.
An answer that took a file its transport could not fetch (it holds the platform's
handle) is recorded for a later fetch (store/fetches), when that transport fetches
again (`refetched`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Mapping

from sqlalchemy import Connection

from ..core.engine import Outcome
from ..core.events import Addressed, FileRef, Inbound
from ..core.flow import JSON, Flow
from ..core.kinds import KINDS, Form
from ..store import ConversationRow
from ..store import fetches
from ..store.attachments import PREFIX, describe, keep


Keep = Callable[[bytes, str], FileRef]   # holds a file's content, returns its reference
Wants = Callable[[FileRef], bool]         # whether a file announced by a platform is worth fetching


def wanted_by(flows: Mapping[str, Flow]) -> Wants:
    """Whether some file question of these flows could take a file, by the name and size the
    platform announces: a platform that hands files on request fetches only those."""
    def wants(file: FileRef) -> bool:
        extension = file.name.rsplit(".", 1)[-1].lower() if "." in file.name else ""
        return not file.refused and any(
            KINDS[q.kind].form is Form.FILE and (not q.formats or extension in q.formats)
            and (not q.max_size or file.size <= q.max_size)
            for flow in flows.values() for q in flow.questions.values())
    return wants


class HeldFiles:
    def __init__(self, refetched: frozenset[str] = frozenset()) -> None:
        self._held: dict[str, tuple[bytes, int]] = {}   # reference -> content, events holding it
        self.refetched = refetched    # transports that fetch again a file they could not fetch

    def hold(self, data: bytes, name: str) -> FileRef:
        file = describe(data, name)
        held = self._held.get(file.ref)
        self._held[file.ref] = (data, held[1] + 1 if held else 1)
        return file

    def before(self, conn: Connection, inbound: Inbound, conv: ConversationRow | None,
               now: datetime) -> list[Addressed] | None:
        return None

    def after(self, conn: Connection, inbound: Inbound, conv: ConversationRow,
              outcome: Outcome, now: datetime, answers: Mapping[str, JSON]) -> Outcome:
        if inbound.file is None:
            return outcome
        if inbound.file.ref not in self._held:
            if inbound.transport in self.refetched and inbound.file.ref and not inbound.file.ref.startswith(PREFIX):
                for key, value in outcome.changes:
                    if isinstance(value, dict) and value.get("ref") == inbound.file.ref:
                        fetches.record(conn, inbound.transport, inbound.file, conv.candidature_id, key,
                                       inbound.chat_id, inbound.user_id, now)
            return outcome
        data, holders = self._held.pop(inbound.file.ref)
        if holders > 1:
            self._held[inbound.file.ref] = (data, holders - 1)
        if any(isinstance(value, dict) and value.get("ref") == inbound.file.ref
               for _, value in outcome.changes):
            keep(conn, data, now)
        return outcome
