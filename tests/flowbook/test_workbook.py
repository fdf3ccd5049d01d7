"""The questionnaire as a workbook: export, read back by other readers, import, every problem at once."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pyexcel_ods3 import get_data, save_data

from tnlbot.flowbook.book import export_flow, import_workbook, yaml_files
from tnlbot.flowbook.report import lines, operator_locale
from tnlbot.flows import BUNDLED, load_flow
from tnlbot.i18n import load_catalog

CATALOG = load_catalog()
LOCALES = CATALOG.locales
FLOWS = ("tnl-2022", "tnl-2025-badge")


def _bundled_files(flow_id: str) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8")
            for p in sorted(BUNDLED.glob(f"{flow_id}*.yaml")) if p.name.split(".")[0] == flow_id}


@pytest.mark.parametrize("flow_id", FLOWS)
def test_bundled_flow_round_trips_byte_for_byte(tmp_path: Path, flow_id: str) -> None:
    workbook = tmp_path / f"{flow_id}.ods"
    workbook.write_bytes(export_flow(BUNDLED, flow_id, LOCALES))
    result = import_workbook(workbook, LOCALES)
    assert result.ok, result.flow_problems
    assert yaml_files(result.imported, LOCALES) == _bundled_files(flow_id)
    assert result.flow == load_flow(BUNDLED / f"{flow_id}.yaml", LOCALES)


def test_an_independent_reader_sees_the_sheets_an_operator_expects(tmp_path: Path) -> None:
    workbook = tmp_path / "badge.ods"
    workbook.write_bytes(export_flow(BUNDLED, "tnl-2025-badge", LOCALES))
    data = get_data(str(workbook))
    assert list(data) == ["settings", "questions", "choices"]
    settings = {row[0]: row[1] for row in data["settings"][1:]}
    assert settings["id"] == "tnl-2025-badge" and settings["grading_values"] == "bronze, argent, or"
    header = data["questions"][0]
    assert header[:6] == ["id", "kind", "repeat", "required", "limits", "condition"]
    rows = {row[0]: dict(zip(header, row)) for row in data["questions"][1:]}
    assert rows["identification"]["kind"] == "volet"
    assert rows["departement"]["kind"] == "departement"
    assert rows["nom_collectivite"]["limits"] == "max_length: 200"
    assert rows["type_collectivite"]["limits"] == "other: autre"
    assert rows["siren"]["text::fr"] == "Quel est le numéro SIREN de votre structure ?"
    choices = [row for row in data["choices"][1:] if row[0] == "strategie_libre"]
    assert [row[1] for row in choices] == ["aucune", "en_reflexion", "informelle", "deliberee"]
    assert len(rows) == 2 + 15  # two volets, fifteen questions


def test_libreoffice_opens_and_saves_the_workbook_without_loss(tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        if os.environ.get("TNLBOT_REQUIRE_LIBREOFFICE"):
            pytest.fail("LibreOffice (soffice) is required here")
        pytest.skip("LibreOffice is not installed")
    for flow_id in FLOWS:
        (tmp_path / f"{flow_id}.ods").write_bytes(export_flow(BUNDLED, flow_id, LOCALES))
    saved = tmp_path / "saved"
    subprocess.run([soffice, "--headless", "--norestore", "--convert-to", "ods", "--outdir", str(saved),
                    *(str(tmp_path / f"{f}.ods") for f in FLOWS)],
                   check=True, capture_output=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)})
    for flow_id in FLOWS:
        result = import_workbook(saved / f"{flow_id}.ods", LOCALES)
        assert result.ok, result.flow_problems
        assert yaml_files(result.imported, LOCALES) == _bundled_files(flow_id)


def _ten_mistakes(tmp_path: Path) -> Path:
    """The badge workbook, rewritten by another writer with ten deliberate mistakes."""
    source = tmp_path / "badge.ods"
    source.write_bytes(export_flow(BUNDLED, "tnl-2025-badge", LOCALES))
    data = get_data(str(source))
    settings, questions, choices = data["settings"], data["questions"], data["choices"]
    header = questions[0]
    rows = {row[0]: row for row in questions[1:]}

    def put(qid: str, column: str, value: str) -> None:
        row = rows[qid]
        row.extend([""] * (len(header) - len(row)))
        row[header.index(column)] = value

    settings[2][1] = "deux"                                                   # 1 version
    put("nom_collectivite", "kind", "texte_court")                            # 2 unknown kind
    put("siren", "required", "peut-être")                                     # 3 neither yes nor no
    put("departement", "limits", "min_length: deux, max_length: 3")           # 4 not a number
    put("email_contact", "id", "siren")                                       # 5 duplicate id
    put("strategie_libre", "condition", "equals: {question: contributions_projets, value: true}")  # 6 later
    put("formats_ouverts", "condition", "one_of: {question: strategie_libre, values: [votee]}")    # 7 no such choice
    put("declaration_accessibilite", "text::fr", "")                          # 8 missing French text
    next(r for r in choices if r[:2] == ["donnees_ouvertes", "non"])[0] = "donnees_ouverte"       # 9 unknown question
    put("logiciels_metier_libres", "limits", "max_length 1000")               # 10 not a limit
    broken = tmp_path / "badge-broken.ods"
    save_data(str(broken), data)
    return broken


FRENCH_REPORT = [
    "settings 3 B (value) : « deux » n'est pas un nombre entier positif",
    ("questions 3 B (kind) : type de question « texte_court » inconnu (yes_no, single_choice, multiple_choice, "
     "short_text, long_text, integer, decimal, percentage, date, email, url, phone, siren, siret, departement, file, repeat, notice)"),
    "questions 5 D (required) : « peut-être » n'est ni oui ni non (laissez vide pour une question facultative)",
    "questions 6 E (limits) : « deux » n'est pas un nombre entier positif",
    "questions 7 A (id) : l'identifiant « siren » est déjà pris par une autre question",
    "questions 9 F (condition) : renvoie à « contributions_projets », qui n'est pas une question placée plus haut",
    "questions 10 F (condition) : « votee » n'est pas un choix de « strategie_libre »",
    "questions 11 G (text::fr) : texte manquant",
    ("questions 17 E (limits) : « max_length 1000 » n'est pas une limite (limites : other, min_length, max_length, "
     "min, max, min_choices, max_choices, formats, max_size_mb, unit, min_items, max_items)"),
    "choices 27 A (question) : pas de question « donnees_ouverte » dans la feuille questions",
]


def test_ten_mistakes_are_reported_all_at_once_in_the_operators_language(tmp_path: Path) -> None:
    result = import_workbook(_ten_mistakes(tmp_path), LOCALES)
    assert not result.ok
    report = lines(CATALOG, "fr", result.imported, list(result.flow_problems), list(result.sheets))
    assert report == FRENCH_REPORT
    english = lines(CATALOG, "en", result.imported, list(result.flow_problems), list(result.sheets))
    assert english[0] == "settings 3 B (value): “deux” is not a positive whole number"
    assert english[-1] == "choices 27 A (question): no question “donnees_ouverte” in the questions sheet"


def test_the_import_command_writes_nothing_when_the_workbook_has_problems(tmp_path: Path) -> None:
    broken = _ten_mistakes(tmp_path)
    out = tmp_path / "flows"
    run = subprocess.run([sys.executable, "-m", "tnlbot", "flow", "import", str(broken), "--to", str(out)],
                         capture_output=True, text=True, timeout=60, check=False,
                         env={**os.environ, "LANG": "fr_FR.UTF-8", "LC_ALL": ""})
    assert run.returncode == 1
    assert run.stderr.splitlines() == [f"10 problèmes dans {broken} ; rien n'a été écrit :", *FRENCH_REPORT]
    assert not out.exists()


def test_the_operators_language_comes_from_the_environment() -> None:
    assert operator_locale(LOCALES, {}) == "fr"
    assert operator_locale(LOCALES, {"LANG": "en_GB.UTF-8"}) == "en"
    assert operator_locale(LOCALES, {"LC_ALL": "fr_FR.UTF-8", "LANG": "en_GB.UTF-8"}) == "fr"
    assert operator_locale(LOCALES, {"LANG": "de_DE.UTF-8"}) == "en"
    assert operator_locale(LOCALES, {"LANG": "C.UTF-8"}) == "fr"
