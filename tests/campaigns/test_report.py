"""`tnlbot campaign report`: the page and the picture of where every body stands.

Four bodies through the bot: one submitted, one amended after submitting,
one quiet draft, one active draft; reminders sent by the scheduler. The page
is read with the standard HTML parser and its numbers compared with the
store (counted here with SQL); it is rendered in headless Chromium and the
screenshot must not be blank. The PNG is checked the same way.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from PIL import Image
from sqlalchemy import func, select

from tnlbot.campaigns.report import for_campaign
from tnlbot.campaigns.report_page import files
from tnlbot.store import campaign_tables as C
from tnlbot.store import tables as T
from tnlbot.store.campaigns import campaign_by_slug

from ..autofill import fill
from .conftest import Agent, elu_by_operator, identify, siren
from .sim import run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Cells(HTMLParser):
    """The summary's `data-n` cells, the per-body rows and whether any script is there."""
    def __init__(self) -> None:
        super().__init__()
        self.numbers: dict[str, str] = {}
        self.rows: dict[str, list[str]] = {}
        self.scripts = 0
        self._key = self._row = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        self.scripts += tag == "script"
        if tag == "tr" and "data-candidature" in attrs:
            self._row = attrs["data-candidature"]
            self.rows[self._row] = []
        if tag == "td":
            self._key, self._cell = attrs.get("data-n"), []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag) -> None:
        if tag == "td" and self._cell is not None:
            text = "".join(self._cell).strip()
            if self._key:
                self.numbers[self._key] = text
            if self._row:
                self.rows[self._row].append(text)
            self._cell = None
        if tag == "tr":
            self._row = None


def not_blank(png: bytes) -> int:
    """How many distinct colours the picture has (a blank page has one)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return len(image.resize((200, 200)).getcolors(maxcolors=40000) or ())


@pytest.fixture
def edition(camp, clock, flows):
    """Four bodies at different stages, and the reminders of 14 days before closing."""
    flow = flows["tnl-2022"]
    alice, bob, carol, dave = (Agent(camp, n) for n in ("alice", "bob", "carol", "dave"))
    for agent, number in ((alice, 30000001), (bob, 30000002)):
        fill(agent, flow, overrides={"siren": siren(number), "nom_collectivite": f"Ville de {agent.user}"})
        elu_by_operator(camp, agent)
        agent.say("/deposer")
        assert "Votre candidature est déposée" in agent.say("oui")
    bob.say("/modifier 5")
    bob.say("4321")                                           # amended, not submitted again
    identify(carol, siren(30000003), nom_collectivite="Bourg de Carol")
    identify(dave, siren(30000004), nom_collectivite="Village de Dave")
    closes = campaign_by_slug_of(camp).closes_at
    run(camp, clock, closes - timedelta(days=14) + timedelta(hours=12), step=timedelta(days=1))
    dave.say("/recap")
    dave.say("/aller 2")
    dave.say("oui")                                           # dave keeps working; carol is quiet
    return camp


def campaign_by_slug_of(app):
    with app.store.begin() as conn:
        return campaign_by_slug(conn, "tnl-2024")


def store_counts(app) -> dict[str, int]:
    """The same numbers, counted straight from the tables."""
    k, log = T.candidatures, C.reminder_log
    with app.store.begin() as conn:
        rows = conn.execute(select(k.c.status, k.c.amended)).all()
        sent = conn.execute(select(func.count()).select_from(log).where(log.c.sent.is_(True))).scalar()
    return {"started": len(rows), "submitted": sum(s == "submitted" and not a for s, a in rows),
            "amended": sum(s == "submitted" and a for s, a in rows),
            "draft": sum(s == "draft" for s, _ in rows), "frozen": sum(s == "frozen" for s, _ in rows),
            "reminders_sent": sent}


def test_the_report_page_shows_what_the_store_holds_and_renders_in_chromium(edition, clock, flows,
                                                                           tmp_path, catalog):
    campaign = campaign_by_slug_of(edition)
    with edition.store.begin() as conn:
        report = for_campaign(conn, campaign, flows["tnl-2022"], clock.now(), "fr")
    made = {name: data for name, _, data in files(report, lambda k, **p: catalog("fr", k, **p), "fr")}
    page = made["rapport-tnl-2024.html"].decode("utf-8")
    cells = Cells()
    cells.feed(page)
    expected = store_counts(edition)
    assert expected == {"started": 4, "submitted": 1, "amended": 1, "draft": 2, "frozen": 0,
                        "reminders_sent": expected["reminders_sent"]} and expected["reminders_sent"] >= 2
    assert {k: int(v) for k, v in cells.numbers.items() if k != "left"} == expected
    assert cells.numbers["left"] == "14"
    assert cells.scripts == 0 and "src=" not in page and 'href="http' not in page   # self-contained
    by_name = {row[0]: row for row in cells.rows.values()}
    assert by_name["Ville de bob"][1] == "modifiée, non redéposée"
    assert by_name["Bourg de Carol"][-1] == "Stratégie et mutualisation"      # stuck at volet 2
    assert "Bourg de Carol" in page.split("Sans activité depuis 10 jours")[1]
    assert "Village de Dave" not in page.split("Sans activité depuis 10 jours")[1]
    path = tmp_path / "rapport-tnl-2024.html"
    path.write_text(page, encoding="utf-8")
    (tmp_path / "rapport-tnl-2024.png").write_bytes(made["rapport-tnl-2024.png"])
    assert not_blank(made["rapport-tnl-2024.png"]) > 8
    shot = screenshot(path, tmp_path)
    colours = not_blank(shot.read_bytes())
    assert colours > 8, "the page renders as something, not a blank screen"
    print(f"\nreport screenshot: {shot} ({colours} colours); page numbers checked against the store: "
          f"{cells.numbers}")


def screenshot(page, folder):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    shot = folder / "screenshot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={folder / 'chromium-profile'}", "--window-size=1280,1600",
                    f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    return shot


def test_operators_get_the_picture_in_their_chat(edition):
    from tnlbot.jury import queries as Q
    campaign_id = campaign_by_slug_of(edition).id
    with edition.store.begin() as conn:         # the organiser, registered with `tnlbot jury add`
        Q.add_member(conn, campaign_id, "console", "user", "orga", "Orga", edition.clock.now())
    reply = Agent(edition, "orga", chat="salle-orga").say("/jury rapport")
    docs = [i for i in reply.items if i.filename]
    assert [d.filename for d in docs] == ["rapport-tnl-2024.png", "rapport-tnl-2024.html"]
    assert docs[0].text == "Où en est chaque collectivité (campagne tnl-2024)"
    assert "réservées aux membres du jury" in Agent(edition, "eve").say("/jury rapport")
