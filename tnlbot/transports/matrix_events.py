"""Matrix, reading one timeline event: what it means for the dispatcher, or what to tell.

How this file works:
- `EventReader.read(room_id, event)` gives the `Inbound` an event means (the
  pure mapping is matrix_render.inbound_from_event), a `Notice` the
  transport owes its sender (an edit that changes nothing, a tap under an old
  question, a message it cannot decrypt), or None. It reads and writes no
  store: when the meaning needs the store (a reaction or reply to a question
  this process did not send, an edit of a message it does not remember) it
  gives a `Deferred`, whose `meaning(lookup)` the receiver runs as the
  event's `Step`, inside its transaction (matrix_sync).
- `StoreLookups` answers the mapping's questions (which question an event id
  is, which toggle a reaction made), from the questions this process just
  sent first, then through the event's `Lookup` (the outbox).
- The bot's own join greets: a direct room starts its person's
  questionnaire, a group room gets one notice.
- Encrypted attachments are downloaded and decrypted here, so the answer
  keeps their real size and type (matrix_crypto).
"""
from __future__ import annotations

import hashlib
import logging
import mimetypes
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import partial
from typing import Callable, Mapping

from nio import AsyncClient

from ..core.events import FileRef, Inbound, InboundKind
from ..runtime.attachments import Keep
from ..runtime.transport import Lookup
from . import matrix_crypto as crypto
from .matrix_render import NAME, Allow, SentPrompt, Skip, inbound_from_event
from .matrix_rooms import Members

log = logging.getLogger(__name__)
MAX_DOWNLOAD = 50 * 1024 * 1024
KEEP = 5000             # event ids remembered (authors of answers, toggles made)


@dataclass(frozen=True, slots=True)
class Notice:
    """A message of the transport itself (a catalog key), once per `dedup_key`."""
    room_id: str
    user_id: str
    key: str
    dedup_key: str


class Later(Exception):
    """The event's meaning needs the store: it is read inside the event's transaction."""


class StoreLookups:
    """Which prompt an event id is, which toggle a reaction made: from the questions this
    process just sent, else (`within` an event's transaction) through its `Lookup`."""

    def __init__(self, recent: Mapping[str, SentPrompt], keep: int = KEEP, lookup: Lookup | None = None,
                 toggles: "OrderedDict[str, Inbound] | None" = None):
        self.recent = recent           # questions just sent, before their rows are settled
        self.keep = keep
        self.lookup = lookup
        self.toggles: OrderedDict[str, Inbound] = OrderedDict() if toggles is None else toggles

    def within(self, lookup: Lookup) -> "StoreLookups":
        """The same lookups, reading the store through one event's transaction."""
        return StoreLookups(self.recent, self.keep, lookup, self.toggles)

    def _lookup(self) -> Lookup:
        if self.lookup is None:
            raise Later
        return self.lookup

    def prompt(self, room_id: str, event_id: str) -> SentPrompt | None:
        sent = self.recent.get(event_id)
        if sent is not None or not event_id:
            return sent
        found = self._lookup().prompt_sent_as(room_id, event_id)
        return SentPrompt(event_id, found[0], found[1], room_id) if found else None

    def toggle(self, event_id: str) -> Inbound | None:
        return self.toggles.pop(event_id, None)

    def current(self, room_id: str, user_id: str) -> str:
        """Questions sent by this process are newer than any in the store."""
        for sent in reversed(list(self.recent.values())):
            if sent.room_id == room_id and sent.user_id == user_id:
                return sent.event_id
        return self._lookup().last_prompt_message(room_id, user_id)

    def remember(self, inbound: Inbound) -> None:
        if inbound.kind is InboundKind.TOGGLE:
            self.toggles[inbound.external_id] = inbound
            while len(self.toggles) > self.keep:
                self.toggles.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Deferred:
    """An event whose meaning needs the store: a stand-in to hand the dispatcher (the
    event's id, room and sender), and `meaning(lookup)`, run inside its transaction."""
    inbound: Inbound
    meaning: Callable[[Lookup], "Inbound | Notice | None"]


class EventReader:
    def __init__(self, client: AsyncClient, allow: Allow, members: Members,
                 recent: Mapping[str, SentPrompt], keep: Keep | None = None):
        self.client = client
        self.keep = keep          # holds an attachment's bytes until its answer is saved with them
        self.allow = allow
        self.members = members
        self.lookups = StoreLookups(recent)
        self.authors: OrderedDict[str, str] = OrderedDict()   # event id -> sender, for edits
        self.max_download = MAX_DOWNLOAD

    async def read(self, room_id: str, event: dict) -> Inbound | Notice | Deferred | None:
        """What the event means; `Deferred` when that needs the store (read in its transaction)."""
        me, sender = self.client.user_id, event.get("sender", "")
        if sender != me and not self.allow(sender):
            return None
        joined = await self.members.of(room_id) if sender != me else {}
        name = joined.get(sender, sender) if sender != me else sender
        group = len(joined) > 2                       # personal data never answered in this room
        try:
            result = self._meaning(room_id, event, name, group, None)
        except Later:
            stand_in = Inbound(NAME, str(event.get("event_id", "")), room_id, sender,
                               InboundKind.UNRECOGNISED, display_name=name, group=group)
            return Deferred(stand_in, partial(self._within, room_id, event, name, group))
        if result is Skip.ENCRYPTED:
            return await self._undecryptable(room_id, event)
        if isinstance(result, Inbound) and result.kind is InboundKind.FILE:
            return await self._checked_file(result, event.get("content") or {})
        return result

    def _within(self, room_id: str, event: dict, name: str, group: bool, lookup: Lookup) -> Inbound | Notice | None:
        found = self._meaning(room_id, event, name, group, lookup)
        return None if found is Skip.ENCRYPTED else found    # (decided without the store)

    def _meaning(self, room_id: str, event: dict, name: str, group: bool,
                 lookup: Lookup | None) -> Inbound | Notice | Skip | None:
        """The mapping, reading the store through `lookup` (None: raises `Later` if needed)."""
        lookups = self.lookups if lookup is None else self.lookups.within(lookup)
        result = inbound_from_event(room_id, event, self.client.user_id, lookups, name)
        if isinstance(result, Inbound) and group:
            result = replace(result, group=True)
        event_id, sender = str(event.get("event_id", "")), event.get("sender", "")
        if result is Skip.EDIT:
            return self._edited(room_id, event, event_id, lookup)
        if result is Skip.ENCRYPTED:
            return result
        if result is Skip.STALE:
            return Notice(room_id, sender, "matrix.reaction_old", f"matrix:stale:{event_id}")
        if not isinstance(result, Inbound) or not event_id:
            return None
        if result.kind in (InboundKind.TEXT, InboundKind.COMMAND, InboundKind.CHOICE):
            self.authors[event_id] = sender
            while len(self.authors) > KEEP:
                self.authors.popitem(last=False)
        self.lookups.remember(result)
        return result

    def greet(self, room_id: str, join: dict) -> Inbound | Notice | None:
        """The bot joined: a direct room starts its person's questionnaire, a group room is
        told once how the bot works."""
        me, room = self.client.user_id, self.client.rooms.get(room_id)
        others = [u for u in (room.users if room else {}) if u != me]
        if len(others) == 1 and self.allow(others[0]):
            user = others[0]
            return Inbound(NAME, str(join.get("event_id", "")), room_id, user, InboundKind.COMMAND,
                           command="start", display_name=room.user_name(user) or user if room else user)
        if len(others) > 1:
            return Notice(room_id, "", "matrix.greet_group", f"matrix:greet:{join.get('event_id')}")
        return None

    async def _undecryptable(self, room_id: str, event: dict) -> Notice | None:
        """Told once per sender and session, with what to do; the keys are requested."""
        found = await crypto.request_keys(self.client, room_id, event)
        if found is None or found.sender == self.client.user_id or not self.allow(found.sender):
            return None
        digest = hashlib.sha256(f"{room_id} {found.sender} {found.session_id}".encode()).hexdigest()
        return Notice(room_id, found.sender, "matrix.undecryptable", f"matrix:undecryptable:{digest}")

    async def _checked_file(self, inbound: Inbound, content: dict) -> Inbound:
        """An encrypted attachment: downloaded, decrypted, its real size and type kept. Its
        bytes, like those of a clear one, are held so that the answer is saved with the file
        itself (the jury's exports and dossiers hold it), not a handle on the homeserver."""
        found = crypto.encrypted_file(content)
        if inbound.file is None:
            return inbound
        if found is None:
            return await self._clear_file(inbound)
        plain = None
        answer = await self.client.download(found["url"])
        body = getattr(answer, "body", None)
        if isinstance(body, bytes) and len(body) <= self.max_download:
            plain = crypto.decrypt_file(found, body)
        if plain is None:
            log.warning("encrypted attachment %s could not be read: %s", inbound.external_id, answer)
            return replace(inbound, file=replace(inbound.file, size=0, ref=""))
        mime = crypto.sniff(plain) or inbound.file.mime
        name = real_name(inbound.file.name, mime)
        if self.keep is not None:
            return replace(inbound, file=replace(self.keep(plain, name), mime=mime))
        return replace(inbound, file=FileRef(name, mime, len(plain), crypto.file_handle(found)))

    async def _clear_file(self, inbound: Inbound) -> Inbound:
        """A clear attachment's bytes, held; one the homeserver cannot give keeps its handle."""
        file = inbound.file
        if self.keep is None or file is None or file.size > self.max_download or not file.ref.startswith("mxc://"):
            return inbound
        answer = await self.client.download(file.ref)
        body = getattr(answer, "body", None)
        if not isinstance(body, bytes) or len(body) > self.max_download:
            log.warning("attachment %s could not be downloaded: %s", inbound.external_id, answer)
            return inbound
        return replace(inbound, file=self.keep(body, file.name))

    def _edited(self, room_id: str, event: dict, event_id: str, lookup: Lookup | None) -> Notice | None:
        """An edit never changes an answer; its author is told so, anyone else is ignored.
        After a restart the edited message is found among the events handled (in the
        edit's transaction: `Later` without it)."""
        target = ((event.get("content") or {}).get("m.relates_to") or {}).get("event_id", "")
        sender = event.get("sender", "")
        author = self.authors.get(target) if target else None
        if target and author is None and lookup is None:
            raise Later
        if author == sender or (target and author is None and lookup is not None
                                and lookup.was_handled(target)):
            return Notice(room_id, sender, "matrix.edit_ignored", f"matrix:edit:{event_id}")
        return None


def real_name(name: str, mime: str) -> str:
    """A file name whose extension says what the bytes are (a PNG sent as "x.pdf" is "x.png")."""
    claimed = mimetypes.guess_type(name)[0]
    if not mime or claimed == mime:
        return name
    extension = mimetypes.guess_extension(mime)
    if not extension or mime == "application/zip":    # docx, xlsx... are zips too: kept
        return name
    return (name.rsplit(".", 1)[0] if "." in name else name) + extension


__all__ = ["Deferred", "EventReader", "Later", "Notice", "StoreLookups", "real_name"]
