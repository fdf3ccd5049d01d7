"""The receiving loop's acknowledgement rule, on a recorded batch (no homeserver)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from nio import SyncResponse
from sqlalchemy.exc import OperationalError

from tnlbot.transports.matrix_render import Allow
from tnlbot.transports.matrix_sync import TOKEN, BatchFailed, Members, Receiver

RECORDED = json.loads((Path(__file__).with_name("recorded_events.json")).read_text())
ROOM = RECORDED["room_id"]


class Offline:
    """A client that is never asked anything here but who it is."""
    user_id = RECORDED["bot"]
    rooms: dict = {}
    olm = None                  # no crypto store: no keys to look after

    async def joined_members(self, room_id: str) -> None:
        return None


def batch(*names: str) -> SyncResponse:
    events = [{k: v for k, v in RECORDED[n].items() if k not in ("room_id", "user_id", "age")}
              for n in names]
    return SyncResponse.from_dict({"next_batch": "s2", "rooms": {"join": {ROOM: {
        "timeline": {"events": events, "limited": False, "prev_batch": "p1"},
        "state": {"events": []}}}}})


def receiver(store, catalog, clock, sink) -> Receiver:
    async def quiet() -> None:
        return None
    return Receiver(Offline(), store, catalog, Allow(), sink, lambda: None, clock,
                    Members(Offline()), quiet)


async def test_a_store_outage_leaves_the_batch_unacknowledged_and_it_is_handled_later(
        sqlite_store, catalog, clock):
    handed: list[str] = []

    async def sink(inbound):
        handed.append(inbound.text)
        if len(handed) == 2:
            raise OperationalError("INSERT", {}, Exception("the database is restarting"))

    loop = receiver(sqlite_store, catalog, clock, sink)
    with pytest.raises(BatchFailed):
        await loop.handle(batch("text", "command"), "s1")
    assert sqlite_store.checkpoint(TOKEN) is None           # not acknowledged: fetched again
    await loop.handle(batch("text", "command"), "s1")
    assert sqlite_store.checkpoint(TOKEN) == "s2"
    assert handed == ["Mairie de Saint-Libre", "3", "Mairie de Saint-Libre", "3"]   # "/modifier 3"


async def test_a_bug_on_one_event_does_not_stop_the_others(sqlite_store, catalog, clock):
    handed: list[str] = []

    async def sink(inbound):
        handed.append(inbound.external_id)
        if inbound.external_id == RECORDED["text"]["event_id"]:
            raise ValueError("a bug")

    await receiver(sqlite_store, catalog, clock, sink).handle(batch("text", "emote"), "s1")
    assert handed.count(RECORDED["text"]["event_id"]) == 3  # tried, then left out
    assert handed[-1] == RECORDED["emote"]["event_id"]
    assert sqlite_store.checkpoint(TOKEN) == "s2"


class Inviting(Offline):
    """A client that records whether the bot joins or leaves a room it is invited to."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []

    async def join(self, room_id: str) -> object:
        self.calls.append(("join", room_id))
        return object()

    async def room_leave(self, room_id: str) -> object:
        self.calls.append(("leave", room_id))
        return object()


def invite_from(sender: str) -> list:
    from nio.events import InviteMemberEvent
    return [InviteMemberEvent.from_dict({"type": "m.room.member", "sender": sender,
                                         "state_key": RECORDED["bot"], "content": {"membership": "invite"}})]


async def test_an_empty_allow_list_refuses_every_invitation_and_says_how_to_allow(
        sqlite_store, catalog, clock, caplog):
    async def quiet() -> None:
        return None

    for allow, expected in ((Allow(), "leave"), (Allow.parse("mairie.fr"), "join")):
        client = Inviting()
        loop = Receiver(client, sqlite_store, catalog, allow, None, lambda: None, clock,  # type: ignore[arg-type]
                        Members(client), quiet)
        with caplog.at_level("WARNING"):
            await loop._invited("!salle:mairie.fr", invite_from("@agent:mairie.fr"))
        assert client.calls == [(expected, "!salle:mairie.fr")]
    assert "the allow-list is empty. Set matrix_allow (TNLBOT_MATRIX_ALLOW)" in caplog.text


async def test_an_event_from_a_room_with_more_people_is_marked_as_from_a_group(sqlite_store, catalog, clock):
    handed: list = []

    async def sink(inbound):
        handed.append(inbound)

    for people, group in ((("@agent:localhost",), False), (("@agent:localhost", "@autre:localhost"), True)):
        loop = receiver(sqlite_store, catalog, clock, sink)
        loop.members.rooms[ROOM] = {RECORDED["bot"]: "bot", **{p: p for p in people}}
        await loop.handle(batch("command"), None)
        assert handed[-1].group is group        # /mes_donnees and /jury answer only outside groups
