"""Matrix rooms: who is in them, which invitations to take, what a timeline holds.

How this file works:
- `Members` keeps each room's joined members and display names, fetched once
  and dropped when a membership changes.
- `answer_invitation` joins a room when the inviter is allowed (allow-list),
  and leaves it otherwise; an empty allow-list refuses everyone and says how
  to allow.
- `timeline` gives the events of a room in one /sync to read, oldest first:
  a room's history from before the bot joined is skipped (events up to the
  bot's own join, which is returned apart: it greets), and a timeline that
  came back limited after downtime is back-filled with /messages from
  `prev_batch` back to the previous token, so no answer is missed.
"""
from __future__ import annotations

import logging
from typing import Any

from nio import AsyncClient, JoinedMembersResponse, RoomMessagesError

from .matrix_render import Allow

log = logging.getLogger(__name__)
MAX_PAGES = 50


class BatchFailed(Exception):
    """A batch could not be fully handled: it is not acknowledged."""


class Members:
    """Joined members of each room and their display names, fetched once, dropped on change."""

    def __init__(self, client: AsyncClient):
        self.client = client
        self.rooms: dict[str, dict[str, str]] = {}

    async def of(self, room_id: str) -> dict[str, str]:
        if room_id not in self.rooms:
            answer = await self.client.joined_members(room_id)
            if not isinstance(answer, JoinedMembersResponse):
                return {}
            self.rooms[room_id] = {m.user_id: m.display_name or m.user_id for m in answer.members}
        return self.rooms[room_id]

    def changed(self, room_id: str) -> None:
        self.rooms.pop(room_id, None)


async def answer_invitation(client: AsyncClient, allow: Allow, room_id: str, invite_state: list) -> None:
    me = client.user_id
    inviter = next((e.source.get("sender", "") for e in invite_state
                    if e.source.get("type") == "m.room.member" and e.source.get("state_key") == me), "")
    if allow.empty:
        log.warning("invitation to %s from %s refused: the allow-list is empty. Set matrix_allow "
                    "(TNLBOT_MATRIX_ALLOW) to the homeservers or user ids allowed to use the bot, "
                    "e.g. agent.tchap.gouv.fr,@marie:exemple.org", room_id, inviter)
        answer = await client.room_leave(room_id)
    elif allow(inviter):
        answer = await client.join(room_id)
    else:
        log.info("invitation to %s from %s refused (not in the allow-list)", room_id, inviter)
        answer = await client.room_leave(room_id)
    if hasattr(answer, "status_code"):
        log.warning("invitation to %s: %s", room_id, answer)


async def timeline(client: AsyncClient, room_id: str, found: Any,
                   since: str | None) -> tuple[dict | None, list[dict]]:
    """The bot's own join in this room's timeline (None if not there), and the events after it."""
    events = [e.source for e in found.events]
    joined = own_join(events, client.user_id)
    if found.limited and since and joined < 0 and found.prev_batch:
        events = await backfill(client, room_id, found.prev_batch, since) + events
        joined = own_join(events, client.user_id)
    return (events[joined] if joined >= 0 else None), unique(events[joined + 1:])


def own_join(events: list[dict], me: str) -> int:
    """Index of the bot's latest join in these events, -1 if it is not among them."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("type") == "m.room.member" and event.get("state_key") == me:
            content = event.get("content") or {}
            before = ((event.get("unsigned") or {}).get("prev_content") or {}).get("membership")
            if content.get("membership") == "join" and before != "join":
                return index
    return -1


async def backfill(client: AsyncClient, room_id: str, start: str, since: str) -> list[dict]:
    """The events a limited timeline left out, oldest first."""
    events: list[dict] = []
    for _ in range(MAX_PAGES):
        page = await client.room_messages(room_id, start=start, end=since, limit=100)
        if isinstance(page, RoomMessagesError):
            raise BatchFailed(f"back-fill of {room_id}: {page}")
        events += [e.source for e in page.chunk]
        if not page.chunk or not page.end or page.end == start:
            break
        start = page.end
    else:
        log.warning("back-fill of %s stopped at %d events: older ones are skipped", room_id, len(events))
    log.info("back-filled %d events in %s", len(events), room_id)
    return list(reversed(events))


def unique(events: list[dict]) -> list[dict]:
    seen: set[str] = set()
    out = []
    for event in events:
        event_id = event.get("event_id", "")
        if event_id and event_id in seen:
            continue
        seen.add(event_id)
        out.append(event)
    return out


__all__ = ["BatchFailed", "Members", "answer_invitation", "backfill", "own_join", "timeline", "unique"]
