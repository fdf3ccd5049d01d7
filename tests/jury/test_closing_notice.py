"""The campaign's closing attaches the jury's exports to its notice (once per jury destination)."""
from __future__ import annotations

import base64
import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from tnlbot.core.events import Outgoing, OutKind
from tnlbot.store import tables as T

from ..conftest import START
from ..harness import Chat
from .conftest import badge_answers, build

closing = pytest.importorskip("tnlbot.campaigns.closing")


def test_the_closing_notice_carries_every_export(any_store, flows, catalog, clock):
    room = {"transport": "console", "chat_id": "salle-du-jury"}
    sample = build(any_store, flows, catalog, clock, "tnl-2025-badge", {})
    with any_store.begin() as conn:
        conn.execute(T.campaigns.update().where(T.campaigns.c.id == sample.campaign_id)
                     .values(config=json.dumps({"jury": [room]})))
    from .builders import quick
    quick(sample.app, "alice", sample.campaign_id, flows["tnl-2025-badge"], badge_answers("Ville d'Alice"))
    quick(sample.app, "bob", sample.campaign_id, flows["tnl-2025-badge"], badge_answers("Bourg de Bob"))
    after = START + timedelta(days=121)
    closer = closing.Closer(any_store, flows, catalog)
    assert closer.close(sample.campaign_id, after) is not None
    assert closer.close(sample.campaign_id, after) is None          # closed once
    o = T.outbox
    with any_store.begin() as conn:
        rows = conn.execute(select(o.c.payload).where(o.c.chat_id == "salle-du-jury").order_by(o.c.id)).all()
    items = [Outgoing.from_json(json.loads(r.payload)) for r in rows]
    files = {i.filename: base64.b64decode(i.data) for i in items if i.kind is OutKind.DOCUMENT}
    assert sorted(files) == ["candidature.schema.json", "candidatures-tnl-2025-badge-test.csv",
                             "candidatures-tnl-2025-badge-test.json", "candidatures-tnl-2025-badge-test.ods",
                             "dossiers-tnl-2025-badge-test.zip"]
    rows = list(csv.DictReader(io.StringIO(files["candidatures-tnl-2025-badge-test.csv"].decode("utf-8-sig")), delimiter=";"))
    assert sorted(r["nom_collectivite"] for r in rows) == ["Bourg de Bob", "Ville d'Alice"]
    sample.clock.set(after)
    guest = Chat(sample.app, "juge", chat="salle-du-jury")
    assert "réservées aux membres du jury" in guest.say("/jury liste")   # being in the room is no seat
