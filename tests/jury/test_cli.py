"""`tnlbot jury ...` as an operator uses it, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timezone

import pytest

from tnlbot.cli import main

from ..conftest import open_campaign
from ..harness import Chat


@pytest.fixture
def operator(badge, monkeypatch, capsys):
    """Runs `tnlbot ...` against the badge campaign's database; returns (exit code, output)."""
    monkeypatch.setenv("TNLBOT_DATABASE_URL", badge.store.url)

    def run(*argv: str) -> tuple[int, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out + captured.err
    return run


def test_the_operator_registers_lists_and_removes_jury_members(operator, badge, monkeypatch):
    slug = "tnl-2025-badge-test"
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")            # the operator's language, from locales/
    assert operator("jury", "add", "--campaign", slug, "--console", "juge", "--name", "Camille") == (
        0, f"ajouté au jury : console personne juge ({slug})\n")
    assert operator("jury", "add", "--campaign", slug, "--console", "juge") == (
        0, f"déjà membre du jury : console personne juge ({slug})\n")
    assert operator("jury", "add", "--campaign", slug, "--matrix", "!jury:example.org")[0] == 0
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    assert operator("jury", "add", "--campaign", slug, "--telegram", "-100200300") == (
        0, f"added to the jury: telegram room -100200300 ({slug})\n")
    code, out = operator("jury", "list", "--campaign", slug)
    assert code == 0 and out.splitlines() == [
        f"{slug}\tconsole\tuser\tjuge\tCamille",
        f"{slug}\tmatrix\troom\t!jury:example.org\t",
        f"{slug}\ttelegram\troom\t-100200300\t"]
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    assert operator("jury", "list", "--campaign", slug)[1].splitlines()[1] == (
        f"{slug}\tmatrix\tsalon\t!jury:example.org\t")
    assert "Ville d'Alice" in Chat(badge.app, "juge").say("/jury liste")
    assert operator("jury", "remove", "--campaign", slug, "--console", "juge") == (
        0, f"retiré du jury : console personne juge ({slug})\n")
    assert operator("jury", "remove", "--campaign", slug, "--console", "juge") == (
        1, f"pas membre du jury : console personne juge ({slug})\n")
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    assert operator("jury", "remove", "--campaign", slug, "--console", "juge") == (
        1, f"not on the jury: console user juge ({slug})\n")
    assert operator("jury", "remove", "--campaign", slug, "--telegram", "-100200300") == (
        0, f"removed from the jury: telegram room -100200300 ({slug})\n")
    assert operator("jury", "remove", "--campaign", slug, "--matrix", "!jury:example.org")[0] == 0
    assert operator("jury", "list", "--campaign", slug) == (0, "no jury member\n")
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    assert operator("jury", "list") == (0, "aucun membre du jury\n")
    assert "réservées aux membres du jury" in Chat(badge.app, "juge").say("/jury liste")


def test_an_unknown_campaign_is_named(operator, monkeypatch):
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    told = "aucune campagne « nulle-part » : tapez tnlbot campaign list pour voir les campagnes\n"
    assert operator("jury", "add", "--campaign", "nulle-part", "--console", "juge") == (1, told)
    assert operator("jury", "export", "--campaign", "nulle-part") == (1, told)
    assert operator("jury", "purge-drafts", "--campaign", "nulle-part") == (1, told)
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    assert operator("jury", "list", "--campaign", "nulle-part") == (
        1, 'no campaign "nulle-part": type tnlbot campaign list to see the campaigns\n')


def test_the_operator_exports_every_format_into_a_folder(operator, tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    code, out = operator("jury", "export", "--campaign", "tnl-2025-badge-test", "--out", str(tmp_path))
    assert code == 0 and all(line.endswith(" octets") for line in out.splitlines())
    written = {line.split("\t")[0].rsplit("/", 1)[-1]: int(line.split("\t")[1].split()[0])
               for line in out.splitlines()}
    assert sorted(written) == ["candidature.schema.json", "candidatures-tnl-2025-badge-test.csv",
                               "candidatures-tnl-2025-badge-test.json", "candidatures-tnl-2025-badge-test.ods",
                               "dossiers-tnl-2025-badge-test.zip"]
    for name, size in written.items():
        assert (tmp_path / name).stat().st_size == size > 0
    text = (tmp_path / "candidatures-tnl-2025-badge-test.csv").read_bytes().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:]), delimiter=";"))
    assert sorted(r["nom_collectivite"] for r in rows) == ["Bourg de Bob", "Ville d'Alice"]
    assert len(json.loads((tmp_path / "candidatures-tnl-2025-badge-test.json").read_text())["candidatures"]) == 2
    assert len(zipfile.ZipFile(tmp_path / "dossiers-tnl-2025-badge-test.zip").namelist()) == 4


def test_one_format_in_english(operator, tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    code, out = operator("jury", "export", "--campaign", "tnl-2025-badge-test", "--format", "ods",
                         "--locale", "en", "--out", str(tmp_path))
    assert code == 0 and out.count("\n") == 1 and out.endswith(" bytes\n")
    from odf.opendocument import load
    from odf.table import Table
    sheets = [t.getAttribute("name") for t in load(str(tmp_path / "candidatures-tnl-2025-badge-test.ods"))
              .spreadsheet.getElementsByType(Table)]
    assert sheets[0] == "Summary"


def test_purging_drafts_of_finished_campaigns_only(operator, badge, tmp_path, monkeypatch):
    open_campaign(badge.store, "tnl-2022", slug="future", closes=datetime(2100, 1, 1, tzinfo=timezone.utc))
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")            # the operator's language, from locales/
    code, out = operator("jury", "purge-drafts")           # the badge campaign closed in 2024
    assert code == 0 and out.splitlines() == ["tnl-2025-badge-test\t2 brouillons de candidature effacés",
                                              "future\t0 brouillon de candidature effacé"]
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    assert operator("jury", "purge-drafts", "--campaign", "future") == (0, "future\t0 draft applications purged\n")
    assert badge.chats["alice"].answers() == {}
    code, out = operator("jury", "export", "--campaign", "tnl-2025-badge-test", "--format", "csv",
                         "--csv", "rfc4180", "--out", str(tmp_path))
    text = (tmp_path / "candidatures-tnl-2025-badge-test.csv").read_text(encoding="utf-8")
    assert code == 0 and "Ville d'Alice" in text and text.startswith("candidature,status,")
