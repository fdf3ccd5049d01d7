"""Exports of a campaign with 3 candidatures, read back with real parsers.

The sample campaign (2022 flow) was filled through the bot: a syndicate with
repeat blocks, "other" answers and formula-like texts, a commune concerned by
one volet, and a communauté that answered every volet.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import ezodf
import jsonschema
import pytest
from odf import teletype
from odf.opendocument import load
from odf.text import H
from pyexcel_ods3 import get_data

from tnlbot.jury.rules import CsvDialect, canonical
from tnlbot.jury.documents import SCHEMA_PATH
from tnlbot.jury.exports import closing_attachments, exports

FORMULA_TEXTS = ("=1+2 démarche engagée depuis 2018", "@SUM(A1) Adullact", "-Gip régional",
                 "+Membre observateur")


def files(sample, *formats, **options) -> dict[str, bytes]:
    with sample.store.begin() as conn:
        found = exports(conn, sample.campaign_id, formats, sample.app.flows, sample.app.catalog,
                        now=sample.clock.now(), **options)
    return {name: data for name, _, data in found}


def csv_rows(sample, **options) -> list[dict[str, str]]:
    """Read as a spreadsheet user's file by default (BOM, semicolons), with the csv module."""
    [data] = files(sample, "csv", **options).values()
    plain = options.get("dialect") is CsvDialect.RFC4180
    text = data.decode("utf-8" if plain else "utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter="," if plain else ";"))


def by_name(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["nom_collectivite"]: row for row in rows}


# ---------------------------------------------------------------- CSV

def test_csv_has_one_row_per_candidature_and_one_column_per_question(sample):
    rows = by_name(csv_rows(sample))
    assert set(rows) == {"Syndicat mixte du Numérique Libre", "Commune de Testbourg",
                         "Communauté de communes du Lez"}
    syndicat = rows["Syndicat mixte du Numérique Libre"]
    assert syndicat["candidature"] == str(sample.ids["syndicat"])
    assert syndicat["version"] == "1" and len(syndicat["sha256"]) == 64
    assert syndicat["type_collectivite"] == "Autre"
    assert syndicat["type_collectivite.other"] == "Syndicat mixte ouvert"
    assert syndicat["strategie_enjeux.other"] == "Autonomie des services"
    assert syndicat["volet:bonnes_pratiques"] == "Non"
    assert rows["Commune de Testbourg"]["volet:strategie"] == "Non"
    assert rows["Commune de Testbourg"]["strategie_existe"] == ""


def test_csv_flattens_repeat_blocks_predictably(sample):
    rows = csv_rows(sample)
    header = list(rows[0])
    repeat = [h for h in header if h.startswith("structures_mutualisation")]
    assert repeat == ["structures_mutualisation",
                      "structures_mutualisation[0].structure_nom", "structures_mutualisation[0].structure_role",
                      "structures_mutualisation[0].structure_role.other",
                      "structures_mutualisation[1].structure_nom", "structures_mutualisation[1].structure_role",
                      "structures_mutualisation[1].structure_role.other"]
    syndicat = by_name(rows)["Syndicat mixte du Numérique Libre"]
    assert syndicat["structures_mutualisation"] == "2"
    assert syndicat["structures_mutualisation[1].structure_role"] == "Autre"
    assert [syndicat[f"logiciels_metier[{i}].logiciel_metier_nom"] for i in (0, 1)] == ["openCimetière", "QGIS"]
    assert by_name(rows)["Commune de Testbourg"]["structures_mutualisation[1].structure_nom"] == ""


def test_csv_neutralises_formula_injection(sample):
    syndicat = by_name(csv_rows(sample))["Syndicat mixte du Numérique Libre"]
    cells = [v for v in syndicat.values() if v.lstrip("'") in FORMULA_TEXTS]
    assert sorted(cells) == sorted("'" + t for t in FORMULA_TEXTS)
    assert all(not v or v[0] not in "=+-@\t\r" for v in syndicat.values())


def test_csv_opens_right_in_french_spreadsheets_and_the_plain_dialect_is_an_option(sample):
    [data] = files(sample, "csv").values()
    assert data.startswith("\ufeffcandidature;status;version;".encode("utf-8"))   # accents, columns
    assert csv.Sniffer().sniff(data.decode("utf-8-sig")[:2000]).delimiter == ";"
    [plain] = files(sample, "csv", dialect=CsvDialect.RFC4180).values()
    assert plain.startswith(b"candidature,status,version,")
    rows, french = csv_rows(sample, dialect=CsvDialect.RFC4180), csv_rows(sample)
    assert len(rows) == 3 and rows[0]["candidature"] == str(sample.ids["syndicat"])
    lez = "Communauté de communes du Lez"
    assert by_name(french)[lez]["duree_vie_equipements"] == "5,5"      # a number to French Excel
    assert by_name(rows)[lez]["duree_vie_equipements"] == "5.5"
    assert [{k: v for k, v in r.items() if k != "duree_vie_equipements"} for r in rows] \
        == [{k: v for k, v in r.items() if k != "duree_vie_equipements"} for r in french]


# ---------------------------------------------------------------- ODS

def sheets(sample, tmp_path) -> dict[str, list[list[tuple[str, object]]]]:
    """Every sheet as rows of (value type, value), read with ezodf (the fork pyexcel-ods3 installs),
    not with odfpy, the writer's library."""
    [data] = files(sample, "ods").values()
    path = tmp_path / "export.ods"
    path.write_bytes(data)
    out = {}
    for sheet in ezodf.opendoc(str(path)).sheets:
        out[sheet.name] = [[(c.value_type or "", c.value) for c in row] for row in sheet.rows()]
    return out


def test_ods_has_a_summary_sheet_and_one_sheet_per_volet(sample, tmp_path):
    found = sheets(sample, tmp_path)
    assert list(found)[0] == "Synthèse"
    assert list(found)[1:] == ["Identification de la collectivité", "Stratégie et mutualisation",
                               "Bonnes pratiques numériques", "Logiciels et systèmes libres",
                               "Communication et écosystème", "Gestion des données"]
    summary = found["Synthèse"]
    assert len(summary) == 4
    commune = next(r for r in summary if r[7][1] == "Commune de Testbourg")
    assert commune[0] == ("float", sample.ids["commune"]) and commune[2] == ("float", 1)
    assert commune[3] == ("date", "2024-06-12T08:10:00")                 # a date cell, in UTC
    assert commune[6] == ("string", "tnl-2022 v1")                     # the flow version it was submitted on
    assert [v for _, v in commune[8:14]].count("non concerné") == 4
    strategie = found["Stratégie et mutualisation"]
    assert strategie[0][2][1].startswith("Concernée par le volet")
    keys = [v for _, v in strategie[1]]
    assert keys[:3] == ["candidature", "name", "volet:strategie"]
    syndicat = next(r for r in strategie[2:] if r[1][1] == "Syndicat mixte du Numérique Libre")
    row = dict(zip(keys, syndicat))
    assert row["structures_mutualisation"] == ("float", 2)
    assert row["structures_mutualisation[1].structure_role.other"] == ("string", "+Membre observateur")


def test_ods_text_cells_are_never_formulas_and_carry_no_apostrophe(sample, tmp_path):
    [data] = files(sample, "ods").values()
    content = zipfile.ZipFile(io.BytesIO(data)).read("content.xml").decode("utf-8")
    assert "table:formula" not in content
    values = [v for rows in sheets(sample, tmp_path).values() for row in rows for _, v in row]
    assert sorted(v for v in values if isinstance(v, str) and v.lstrip("'") in FORMULA_TEXTS) \
        == sorted(FORMULA_TEXTS)
    (tmp_path / "again.ods").write_bytes(data)                   # a second independent reader
    book = get_data(str(tmp_path / "again.ods"))
    assert list(book)[1] == "Identification de la collectivité"
    cells = [c for rows in book.values() for row in rows for c in row]
    assert "+Membre observateur" in cells and "'+Membre observateur" not in cells
    assert sample.ids["syndicat"] in cells                         # numbers come back as numbers


# ---------------------------------------------------------------- JSON

def test_json_is_complete_and_valid_against_the_shipped_schema(sample):
    found = files(sample, "json")
    assert set(found) == {"candidatures-tnl-2022-test.json", "candidature.schema.json"}
    doc = json.loads(found["candidatures-tnl-2022-test.json"])
    schema = json.loads(found["candidature.schema.json"])
    assert schema == json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema, format_checker=jsonschema.FormatChecker())
    assert doc["flow"]["grading"] == {"kind": "levels", "values": ["1", "2", "3", "4", "5"]}
    assert len(doc["candidatures"]) == 3
    for entry in doc["candidatures"]:   # anyone can check the fingerprint
        assert hashlib.sha256(canonical(entry["snapshot"])).hexdigest() == entry["sha256"]
        assert entry["intact"] is True
    syndicat = next(e for e in doc["candidatures"] if e["candidature"] == sample.ids["syndicat"])
    answers = {a["key"]: a for a in syndicat["answers"]}
    assert answers["structures_mutualisation[0].structure_nom"]["value"] == "@SUM(A1) Adullact"
    assert answers["type_collectivite"]["value"] == "autre" and answers["type_collectivite"]["display"] == "Autre"
    assert [a["name"] for a in syndicat["attachments"]] == ["deliberation.pdf", "plan_action.pdf"]
    assert syndicat["completeness"]["bonnes_pratiques"] is None


def test_json_that_breaks_the_schema_is_caught(sample):
    doc = json.loads(files(sample, "json")["candidatures-tnl-2022-test.json"])
    doc["candidatures"][0]["sha256"] = "not a hash"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- dossiers

def test_each_dossier_is_rendered_in_html_and_odt(sample):
    [(name, data)] = files(sample, "dossiers").items()
    assert name == "dossiers-tnl-2022-test.zip"
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = sorted(archive.namelist())
    number = f"{sample.ids['syndicat']:03d}"
    assert f"dossier-{number}-syndicat-mixte-du-numerique-libre.html" in names
    assert len(names) == 6
    page = archive.read(f"dossier-{number}-syndicat-mixte-du-numerique-libre.html").decode("utf-8")
    assert "<h1>Syndicat mixte du Numérique Libre</h1>" in page
    assert "<h2>Identification de la collectivité</h2>" in page and "Camille Élu" in page
    assert "Précisez le type de structure :" in page and "Syndicat mixte ouvert" in page
    assert "Chef de projet &lt;DSI&gt; &amp; co" in page          # escaped, never markup
    assert "deliberation.pdf (application/pdf, 120 ko)" in page
    assert "La collectivité s&#x27;est déclarée non concernée par ce volet." in page
    odt = load(io.BytesIO(archive.read(f"dossier-{number}-syndicat-mixte-du-numerique-libre.odt")))
    headings = [teletype.extractText(h) for h in odt.text.getElementsByType(H)]
    assert headings[:3] == ["Syndicat mixte du Numérique Libre", "Identification de la collectivité",
                            "Stratégie et mutualisation"]
    assert headings[-1] == "Pièces jointes"
    body = teletype.extractText(odt.text)
    assert "structure 2 · Précisez votre rôle :" in body and "+Membre observateur" in body


def test_the_closing_notice_gets_every_export(sample):
    with sample.store.begin() as conn:
        found = closing_attachments(conn, sample.campaign_id, sample.app.flows, sample.app.catalog)
    sizes = {name: (mime, len(data)) for name, mime, data in found}
    assert list(sizes) == ["candidatures-tnl-2022-test.csv", "candidatures-tnl-2022-test.ods",
                           "candidatures-tnl-2022-test.json", "candidature.schema.json",
                           "dossiers-tnl-2022-test.zip"]
    assert sizes["candidatures-tnl-2022-test.ods"][0] == "application/vnd.oasis.opendocument.spreadsheet"
    assert found[0][2].startswith(b"\xef\xbb\xbf")      # the CSV opens right in spreadsheets
    assert all(size > 0 for _, size in sizes.values())
