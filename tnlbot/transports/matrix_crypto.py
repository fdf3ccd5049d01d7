"""Matrix end-to-end encryption (Tchap): the crypto store, keys, rooms, attachments.

How this file works:
- matrix-nio's own E2E support (vodozemac) does the cryptography; this file
  keeps its store durable and its state consistent with tnlbot's SQL store.
- The crypto store is a folder next to the database (`store_dir`), owner-only
  (0700, files 0600). It holds the device's keys: the device id kept in SQL
  ("matrix.login") is only reused while its crypto store is there; without
  it the bot logs in as a new device (agents then re-share their keys).
- nio writes what a /sync brings (room keys sent to this device, Olm
  sessions) into the crypto store while it reads the answer, before the
  batch's events reach the dispatcher; the sync token is stored in SQL only
  after them. A crash in between replays the batch: keys already stored are
  kept, and to-device messages not yet read are delivered again.
- After each /sync, `maintain` uploads one-time keys, queries the devices of
  users whose device lists changed (a second device of an agent: the room's
  outbound session is then rotated by nio), claims keys and sends queued
  to-device messages. A member joining or leaving rotates the session (nio).
- `Rooms.encrypted` answers "is this room encrypted?" from the homeserver's
  state the first time a room is met in a process, so a reminder to a room
  with no activity since the restart is encrypted too: never clear text into
  an encrypted room.
- An event the bot cannot decrypt: the keys are requested from the sender's
  device and from the bot's own devices, once per session.
"""
from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    Event,
    MegolmEvent,
    RoomGetStateEventError,
    RoomGetStateEventResponse,
)
from nio.crypto import ENCRYPTION_ENABLED
from nio.crypto.attachments import decrypt_attachment
from nio.exceptions import EncryptionError, LocalProtocolError
from nio.rooms import MatrixRoom

from ..settings import crypto_store_dir as store_dir

log = logging.getLogger(__name__)
ENCRYPTION = "m.room.encryption"


class CryptoUnavailable(Exception):
    """matrix-nio was installed without its `e2e` extra."""


def prepare(path: Path) -> Path:
    """The crypto store folder, created if needed, readable by its owner only."""
    if not ENCRYPTION_ENABLED:
        raise CryptoUnavailable("end-to-end encryption needs matrix-nio[e2e]")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    secure(path)
    return path


def secure(path: Path) -> None:
    """Owner-only files (SQLite gives its side files the database's mode)."""
    for entry in path.iterdir():
        if entry.is_file() and stat.S_IMODE(entry.stat().st_mode) != 0o600:
            os.chmod(entry, 0o600)


def store_file(path: Path, user_id: str, device_id: str) -> Path:
    """nio's file for one device (its default name)."""
    return path / f"{user_id}_{device_id}.db"


def client_config() -> AsyncClientConfig:
    """No sleeping inside nio on 429 or timeouts (the outbox and the sync loop retry);
    E2E on; the sync token is kept in SQL, not in nio's store."""
    return AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0, request_timeout=60,
                             encryption_enabled=True, store_sync_tokens=False)


async def maintain(client: AsyncClient) -> None:
    """Keys after a /sync: upload, query changed devices, claim, send to-device messages."""
    if client.olm is None:
        return
    answers: list[Any] = []
    if client.should_upload_keys:
        answers.append(await client.keys_upload())
    if client.should_query_keys:
        answers.append(await client.keys_query())
    if client.should_claim_keys:
        answers.append(await client.keys_claim(client.get_users_for_key_claiming()))
    answers += await client.send_to_device_messages()
    for answer in answers:
        if hasattr(answer, "status_code") and answer.status_code:
            log.warning("Matrix key maintenance: %s", answer)


class RoomStateUnknown(Exception):
    """The homeserver did not say whether a room is encrypted: do not send yet."""


class Rooms:
    """Which rooms are encrypted, checked with the homeserver once per room and process."""

    def __init__(self, client: AsyncClient):
        self.client = client
        self.checked: set[str] = set()

    async def encrypted(self, room_id: str) -> bool:
        client = self.client
        room = client.rooms.get(room_id)
        if room is None:
            room = client.rooms[room_id] = MatrixRoom(room_id, client.user_id,
                                                      room_id in client.encrypted_rooms)
        if room.encrypted or room_id in self.checked:
            return bool(room.encrypted)
        answer = await client.room_get_state_event(room_id, ENCRYPTION)
        if isinstance(answer, RoomGetStateEventResponse) and answer.content.get("algorithm"):
            room.encrypted = True
            client.encrypted_rooms.add(room_id)
            if client.store is not None:
                client.store.save_encrypted_rooms([room_id])
        elif not (isinstance(answer, RoomGetStateEventError) and answer.status_code == "M_NOT_FOUND"):
            raise RoomStateUnknown(f"encryption state of {room_id}: {answer}")
        self.checked.add(room_id)
        return bool(room.encrypted)


@dataclass(frozen=True, slots=True)
class Undecryptable:
    """An encrypted event this device has no key for."""
    sender: str
    session_id: str


async def request_keys(client: AsyncClient, room_id: str, source: dict) -> Undecryptable | None:
    """Ask the sender's device and the bot's own devices for the key of `source`."""
    event = Event.parse_event(source) if isinstance(source.get("content"), dict) else None
    if not isinstance(event, MegolmEvent):
        return None
    event.room_id = room_id
    found = Undecryptable(event.sender, event.session_id)
    if client.olm is None or event.session_id in client.outgoing_key_requests:
        return found
    try:
        await client.request_room_key(event)          # the bot's own other devices
    except LocalProtocolError:
        return found
    message = event.as_key_request(event.sender, client.device_id, event.session_id, event.device_id)
    answer = await client.to_device(message)          # the device that wrote it
    if hasattr(answer, "status_code"):
        log.warning("key request to %s: %s", event.sender, answer)
    return found


def encrypted_file(content: dict) -> dict | None:
    """The `file` of an encrypted attachment (url, key, iv, hashes), if well formed."""
    found = content.get("file")
    if not isinstance(found, dict) or not isinstance(found.get("url"), str):
        return None
    key = found.get("key") if isinstance(found.get("key"), dict) else {}
    hashes = found.get("hashes") if isinstance(found.get("hashes"), dict) else {}
    if not all(isinstance(x, str) for x in (key.get("k"), found.get("iv"), hashes.get("sha256"))):
        return None
    return found


def decrypt_file(found: dict, ciphertext: bytes) -> bytes | None:
    """The plaintext of an encrypted attachment, or None when it does not check out."""
    try:
        return decrypt_attachment(ciphertext, found["key"]["k"], found["hashes"]["sha256"], found["iv"])
    except (EncryptionError, ValueError, KeyError):
        return None


# The types the questionnaires accept, by their first bytes (an OpenDocument file is a
# zip whose first entry, "mimetype", is stored uncompressed and names its type).
_SIGNATURES = ((b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"),
               (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def sniff(data: bytes) -> str:
    """The real type of some bytes ("" when not recognised)."""
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    if data.startswith(b"PK\x03\x04") and data[30:38] == b"mimetype":
        end = data.find(b"PK", 38)
        return data[38:end if end > 0 else 38 + 80].decode("ascii", "replace")
    return "application/zip" if data.startswith(b"PK\x03\x04") else ""


def file_handle(found: dict) -> str:
    """What is stored as the file's reference: the url and what decrypts it."""
    keep = {k: found[k] for k in ("url", "key", "iv", "hashes", "v") if k in found}
    return json.dumps(keep, separators=(",", ":"), sort_keys=True)


__all__ = ["CryptoUnavailable", "RoomStateUnknown", "Rooms", "Undecryptable", "client_config",
           "decrypt_file", "encrypted_file", "file_handle", "maintain", "prepare", "request_keys",
           "secure", "sniff", "store_dir", "store_file"]
