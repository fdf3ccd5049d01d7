"""An agent of a local government in a Matrix room: a second matrix-nio client.

It syncs in the background and keeps every timeline event, so a test can say
something and read what the bot answered, as a person would in Element.
"""
from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nio import (AsyncClient, AsyncClientConfig, MegolmEvent, RoomCreateResponse, RoomSendResponse,
                 SyncResponse, UploadResponse)

from tnlbot.transports.matrix_crypto import maintain

from .synapse import User

WAIT = 120.0    # bounds a hang only; nothing is timed
ENCRYPTION = {"type": "m.room.encryption", "state_key": "",
              "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


@dataclass
class Said:
    """One message of the bot as shown in the room (after its edits)."""
    event_id: str
    content: dict

    @property
    def body(self) -> str:
        return self.content.get("body", "")

    @property
    def html(self) -> str:
        return self.content.get("formatted_body", "")

    def __contains__(self, fragment: str) -> bool:
        return fragment in self.body

    def __repr__(self) -> str:
        return f"Said({self.body!r})"


class Agent:
    """A person in Element: end-to-end encryption on, every device trusted (Tchap's default)."""

    def __init__(self, url: str, user: User, store: Path):
        self.user = user
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(url, user.user_id, store_path=str(store), config=AsyncClientConfig(
            max_limit_exceeded=0, max_timeouts=0, encryption_enabled=True, store_sync_tokens=False))
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        self.events: dict[str, list[dict]] = {}
        self.wire: dict[str, str] = {}             # event id -> its type on the wire
        self.sessions: dict[str, str] = {}         # event id -> the Megolm session it used
        self.highlights: dict[str, int] = {}
        self.notifications: dict[str, int] = {}    # the unread counts Synapse reports
        self.changed = asyncio.Event()
        self.token: str | None = None
        self.task: asyncio.Task | None = None

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def start(self) -> "Agent":
        await maintain(self.client)                # publishes this device's keys
        first = await self.client.sync(timeout=0, sync_filter={"room": {"timeline": {"limit": 0}}})
        assert isinstance(first, SyncResponse), first
        self.token = first.next_batch
        self.task = asyncio.create_task(self._loop())
        return self

    async def _loop(self) -> None:
        while True:
            answer = await self.client.sync(timeout=1000, since=self.token)
            if not isinstance(answer, SyncResponse):
                await asyncio.sleep(0.1)
                continue
            self.token = answer.next_batch
            await maintain(self.client)
            for room_id, info in answer.rooms.join.items():
                for event in info.timeline.events:
                    self._keep(room_id, event)
                counts = info.unread_notifications
                self.highlights[room_id] = counts.highlight_count or 0
                self.notifications[room_id] = counts.notification_count or 0
            for room_id in answer.rooms.invite:
                await self.client.join(room_id)
            self.changed.set()

    def _keep(self, room_id: str, event) -> None:
        source = dict(event.source)
        encrypted = getattr(event, "decrypted", False) or isinstance(event, MegolmEvent)
        self.wire[source.get("event_id", "")] = "m.room.encrypted" if encrypted else source.get("type", "")
        if encrypted:
            self.sessions[source.get("event_id", "")] = getattr(event, "session_id", "")
        self.events.setdefault(room_id, []).append(source)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()

    # ------------------------------------------------------------ acting
    async def direct_room(self, bot_id: str, encrypted: bool = False) -> str:
        answer = await self.client.room_create(is_direct=True, invite=[bot_id],
                                               initial_state=[ENCRYPTION] if encrypted else [])
        assert isinstance(answer, RoomCreateResponse), answer
        return answer.room_id

    async def group_room(self, *invite: str, encrypted: bool = False) -> str:
        answer = await self.client.room_create(name="Candidature TNL", invite=list(invite),
                                               initial_state=[ENCRYPTION] if encrypted else [])
        assert isinstance(answer, RoomCreateResponse), answer
        return answer.room_id

    async def send(self, room_id: str, content: dict, event_type: str = "m.room.message") -> str:
        await self.until(lambda: room_id in self.client.rooms)     # encrypted or not: known
        answer = await self.client.room_send(room_id, event_type, content,
                                             ignore_unverified_devices=True)
        assert isinstance(answer, RoomSendResponse), answer
        return answer.event_id

    async def say(self, room_id: str, text: str, reply_to: str = "") -> str:
        content: dict = {"msgtype": "m.text", "body": text}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return await self.send(room_id, content)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        return await self.send(room_id, {"m.relates_to": {
            "rel_type": "m.annotation", "event_id": event_id, "key": key}}, "m.reaction")

    async def send_file(self, room_id: str, name: str, data: bytes, mime: str,
                        encrypted: bool = False) -> str:
        upload, keys = await self.client.upload(io.BytesIO(data), content_type=mime, filename=name,
                                                filesize=len(data), encrypt=encrypted)
        assert isinstance(upload, UploadResponse), upload
        where = {"file": {"url": upload.content_uri, **keys}} if encrypted else {"url": upload.content_uri}
        return await self.send(room_id, {"msgtype": "m.file", "body": name, "filename": name,
                                         "info": {"mimetype": mime, "size": len(data)}, **where})

    # ------------------------------------------------------------ reading
    def from_bot(self, room_id: str, bot_id: str) -> list[dict]:
        return [e for e in self.events.get(room_id, []) if e.get("sender") == bot_id]

    def messages(self, room_id: str, bot_id: str) -> list[Said]:
        """The bot's messages (not its edits or reactions), as currently shown."""
        events = self.from_bot(room_id, bot_id)
        shown: list[Said] = []
        for event in events:
            content = event.get("content", {})
            if event.get("type") != "m.room.message" or "m.new_content" in content:
                continue
            shown.append(Said(event["event_id"], self.current(room_id, event["event_id"])))
        return shown

    def current(self, room_id: str, event_id: str) -> dict:
        """The content of an event after its latest edit."""
        content: dict = {}
        for event in self.events.get(room_id, []):
            if event.get("event_id") == event_id:
                content = event.get("content", {})
            relates = event.get("content", {}).get("m.relates_to", {})
            if relates.get("rel_type") == "m.replace" and relates.get("event_id") == event_id:
                content = event["content"]["m.new_content"]
        return content

    def edits_of(self, room_id: str, event_id: str) -> list[dict]:
        return [e for e in self.events.get(room_id, [])
                if e.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.replace"
                and e["content"]["m.relates_to"].get("event_id") == event_id]

    def reactions_on(self, room_id: str, event_id: str, sender: str) -> list[str]:
        return [e["content"]["m.relates_to"]["key"] for e in self.events.get(room_id, [])
                if e.get("type") == "m.reaction" and e.get("sender") == sender
                and e["content"].get("m.relates_to", {}).get("event_id") == event_id]

    async def until(self, check: Callable[[], object], timeout: float = WAIT) -> object:
        """Wait until `check()` returns something truthy (fails after `timeout`)."""
        async def poll() -> object:
            while True:
                self.changed.clear()
                value = check()
                if value:
                    return value
                await self.changed.wait()
        return await asyncio.wait_for(poll(), timeout)

    async def replies(self, room_id: str, bot_id: str, count: int, after: int) -> list[Said]:
        """Wait for the bot's messages number after+1 .. after+count."""
        await self.until(lambda: len(self.messages(room_id, bot_id)) >= after + count)
        return self.messages(room_id, bot_id)[after:after + count]
