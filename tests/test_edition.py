"""The welcome names the questionnaire's edition from the flow itself (its `edition`), never a
year written in each language's title; check-flows points at a title naming another year."""
from __future__ import annotations

from pathlib import Path

import yaml

from tnlbot.app import App
from tnlbot.flows import BUNDLED, load_all
from tnlbot.settings import Settings

from .conftest import open_campaign
from .harness import Chat
from .test_startup import flows_copy, tnlbot


def test_every_bundled_title_names_the_edition_from_the_flow():
    for path in sorted(BUNDLED.glob("*.*.yaml")):
        title = yaml.safe_load(path.read_text(encoding="utf-8"))["title"]
        assert "{edition}" in title and not any(c.isdigit() for c in title), (path.name, title)


def test_the_welcome_names_the_edition_the_flow_says(tmp_path: Path, sqlite_store, catalog, clock) -> None:
    folder = flows_copy(tmp_path, "tnl-2022")
    structure = folder / "tnl-2022.yaml"
    structure.write_text(structure.read_text(encoding="utf-8").replace("edition: 2022\n", "edition: 2026\n"),
                         encoding="utf-8")
    french = tnlbot(tmp_path, "chat", TNLBOT_FLOWS_DIR=str(folder))
    assert french.returncode == 0, french.stderr
    assert "remplir le questionnaire « Label Territoire Numérique Libre 2026 »" in french.stdout
    assert "2022" not in french.stdout.split("\n\n")[0]
    flows = load_all(folder, catalog.locales)
    open_campaign(sqlite_store)
    app = App(Settings(database_url=sqlite_store.url), clock=clock, store=sqlite_store, flows=flows,
              catalog=catalog)
    try:
        english = Chat(app, "alice", language="en").say("hello").text
    finally:
        app.close()
    assert 'through the questionnaire "Territoire Numérique Libre label 2026"' in english


def test_check_flows_names_a_title_that_names_another_year(tmp_path: Path) -> None:
    folder = flows_copy(tmp_path, "tnl-2022")
    french = folder / "tnl-2022.fr.yaml"
    french.write_text(french.read_text(encoding="utf-8").replace("{edition}", "2024", 1), encoding="utf-8")
    checked = tnlbot(tmp_path, "check-flows", str(folder))
    assert checked.returncode == 0, checked.stderr
    assert ("tnl-2022.yaml : attention : le titre (fr) nomme 2024 alors que l'édition du questionnaire est "
            "2022 (écrivez {edition} pour l'édition)") in checked.stdout.splitlines()
    checked = tnlbot(tmp_path, "check-flows", str(folder), lang="en_GB.UTF-8")
    assert ("tnl-2022.yaml: warning: title (fr) names 2024, the flow's edition is 2022 (write {edition} "
            "for the edition)") in checked.stdout.splitlines()
