"""An attachment the homeserver does not hand over when it arrives is fetched again later
(real Synapse: the file is quarantined by an admin when the bot first reads it)."""
from __future__ import annotations

import io
import json
import urllib.request

import pytest
from nio import UploadResponse
from sqlalchemy import func, select

from tnlbot.store.attachments import content
from tnlbot.store.fetches import file_fetches

from .conftest import direct_room
from .test_direct_room import answers

pytestmark = pytest.mark.synapse
PDF = b"%PDF-1.4 deliberation du conseil municipal"


def admin_call(synapse, admin, path: str) -> dict:
    request = urllib.request.Request(synapse.url + path, data=b"{}", method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {admin.access_token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def next_try(store):
    with store.begin() as conn:
        return conn.execute(select(func.min(file_fetches.c.due_at))).scalar()


async def test_an_attachment_not_handed_over_at_first_is_fetched_again_and_kept(bot, agents, synapse, register):
    admin = register("admin", admin=True)
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot)
    await room.answer("/aller 2")
    for answer in ("oui", "non", "oui"):
        await room.answer(answer)
    upload = await room.answer("15/03/2022")
    assert "Envoyez le fichier en pièce jointe" in upload

    uploaded, _ = await agent.client.upload(io.BytesIO(PDF), content_type="application/pdf",
                                            filename="délibération.pdf", filesize=len(PDF))
    assert isinstance(uploaded, UploadResponse), uploaded
    media = uploaded.content_uri.removeprefix("mxc://")
    admin_call(synapse, admin, f"/_synapse/admin/v1/media/quarantine/{media}")   # the first read fails
    await agent.send(room.id, {"msgtype": "m.file", "body": "délibération.pdf", "filename": "délibération.pdf",
                               "info": {"mimetype": "application/pdf", "size": len(PDF)},
                               "url": uploaded.content_uri})
    await room.next_question()
    store = bot.app.store
    assert answers(bot)["deliberation"]["ref"] == uploaded.content_uri          # its handle, for now
    due = next_try(store)
    assert due is not None
    admin_call(synapse, admin, f"/_synapse/admin/v1/media/unquarantine/{media}")
    bot.app.clock.advance((due - bot.app.clock.now()).total_seconds())
    assert await bot.matrix.refetch_due() == 1
    stored = answers(bot)["deliberation"]
    assert stored["ref"].startswith("sha256:") and stored["size"] == len(PDF)
    with store.begin() as conn:
        assert content(conn, stored["ref"]) == PDF, "the file itself, for the jury"
    assert next_try(store) is None
