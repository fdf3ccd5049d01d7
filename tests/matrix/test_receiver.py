"""The receiving loop's acknowledgement rule, on a recorded batch (no homeserver)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from nio import SyncResponse
from sqlalchemy.exc import OperationalError

from tnlbot.transports.matrix_render import Allow
from tnlbot.transports.matrix_rooms import answer_invitation
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


def batch_of(*names: str) -> SyncResponse:
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
        await loop.handle(batch_of("text", "command"), "s1")
    assert sqlite_store.checkpoint(TOKEN) is None           # not acknowledged: fetched again
    await loop.handle(batch_of("text", "command"), "s1")
    assert sqlite_store.checkpoint(TOKEN) == "s2"
    assert handed == ["Mairie de Saint-Libre", "3", "Mairie de Saint-Libre", "3"]   # "/modifier 3"


async def test_a_bug_on_one_event_does_not_stop_the_others(sqlite_store, catalog, clock):
    handed: list[str] = []

    async def sink(inbound):
        handed.append(inbound.external_id)
        if inbound.external_id == RECORDED["text"]["event_id"]:
            raise ValueError("a bug")

    await receiver(sqlite_store, catalog, clock, sink).handle(batch_of("text", "emote"), "s1")
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
    for allow, expected in ((Allow(), "leave"), (Allow.parse("mairie.fr"), "join")):
        client = Inviting()
        with caplog.at_level("WARNING"):
            await answer_invitation(client, allow, "!salle:mairie.fr", invite_from("@agent:mairie.fr"))
        assert client.calls == [(expected, "!salle:mairie.fr")]
    assert "the allow-list is empty. Set matrix_allow (TNLBOT_MATRIX_ALLOW)" in caplog.text


async def test_an_event_from_a_room_with_more_people_is_marked_as_from_a_group(sqlite_store, catalog, clock):
    handed: list = []

    async def sink(inbound):
        handed.append(inbound)

    for people, group in ((("@agent:localhost",), False), (("@agent:localhost", "@autre:localhost"), True)):
        loop = receiver(sqlite_store, catalog, clock, sink)
        loop.members.rooms[ROOM] = {RECORDED["bot"]: "bot", **{p: p for p in people}}
        await loop.handle(batch_of("command"), None)
        assert handed[-1].group is group        # /mes_donnees and /jury answer only outside groups


async def test_a_batch_is_one_commit_with_its_token_and_a_poisoned_event_alone_is_retried(app):
    """Group commit through the runner's sink: the events and the sync token in one
    transaction; an event that fails rolls back alone, is tried again by itself, then set
    aside, and the others stay committed with the token stored after them."""
    store, text, command = app.store, RECORDED["text"]["event_id"], RECORDED["command"]["event_id"]
    handle, tried = app.dispatcher._handle, []

    def poisoned(conn, inbound, now, *rest):
        if inbound.external_id == text:
            tried.append(text)
            raise ValueError("a bug on this event alone")
        return handle(conn, inbound, now, *rest)
    app.dispatcher._handle = poisoned
    commits: list[int] = []
    batch = app.runner.sink("matrix").batch

    async def counted(inbounds, then=None):
        commits.append(len(inbounds))
        return await batch(inbounds, then)
    sink = app.runner.sink("matrix")
    sink.batch = counted                       # counts the commits

    loop = receiver(store, app.catalog, app.clock, sink)
    await loop.handle(batch_of("text", "command"), "s1")
    assert commits == [2]                                   # both events in one transaction
    assert len(tried) == 3                                  # in the batch, then twice alone
    assert store.was_handled("matrix", command) and not store.was_handled("matrix", text)
    assert store.checkpoint(TOKEN) == "s2"                  # acknowledged once all were tried
