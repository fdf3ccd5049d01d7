"""Two editions compared: the 2022 label against the 2025 badge, checked against a list made by hand."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tnlbot.flowbook.diff import compare
from tnlbot.flows import BUNDLED, load_all

FLOWS = load_all()
DIFF = compare(FLOWS["tnl-2022"], FLOWS["tnl-2025-badge"])


def _pairs(what: str) -> set[tuple[str, str, str]]:
    return {(c.question, c.old, c.new) for c in DIFF.of(what)}


def test_questions_added_removed_and_moved_between_volets() -> None:
    assert {c.question for c in DIFF.of("added")} == {
        "email_contact", "strategie_libre", "formats_ouverts", "sobriete_actions", "donnees_ouvertes",
        "contributions_projets"}
    removed = {c.question for c in DIFF.of("removed")}
    assert len(removed) == 97 and {"population", "elu_nom", "structures_mutualisation", "structure_nom",
                                   "opendata_strategie"} <= removed
    assert not removed & set(FLOWS["tnl-2025-badge"].questions)
    assert _pairs("moved") == {
        ("declaration_accessibilite", "bonnes_pratiques", "badge"),
        ("membre_structure_mutualisation", "strategie", "badge"),
        ("part_postes_linux", "logiciels", "badge"),
        ("logiciels_metier_libres", "logiciels", "badge"),
        ("actions_sensibilisation", "communication", "badge")}
    assert {c.new for c in DIFF.of("volet_added")} == {"badge"}
    assert {c.old for c in DIFF.of("volet_removed")} == {"strategie", "bonnes_pratiques", "logiciels",
                                                         "communication", "donnees"}


def test_kinds_requirements_choices_and_conditions_changed() -> None:
    assert _pairs("kind") == {("logiciels_metier_libres", "yes_no", "long_text"),
                              ("actions_sensibilisation", "yes_no", "multiple_choice")}
    assert _pairs("required") == {("declaration_accessibilite", "false", "true"),
                                  ("membre_structure_mutualisation", "false", "true"),
                                  ("part_postes_linux", "false", "true")}
    assert {c.new for c in DIFF.of("choice_added")} == {"elus", "agents", "habitants", "scolaires", "aucune", "autre"}
    assert DIFF.of("choice_removed") == [] and DIFF.of("limit") == []
    assert {c.question for c in DIFF.of("condition")} == {"part_postes_linux"}  # no longer under postes_linux_existe


def test_reworded_per_language() -> None:
    for locale in ("fr", "en"):
        reworded = {c.question: c.new for c in DIFF.of("reworded") if c.locale == locale}
        assert reworded == {"declaration_accessibilite": "text, help", "membre_structure_mutualisation": "text",
                            "part_postes_linux": "text, help", "logiciels_metier_libres": "text, help",
                            "actions_sensibilisation": "text, help, other"}


def test_what_copier_carries_over() -> None:
    verdicts = {c.question: (c.verdict, c.detail) for c in DIFF.carries if c.verdict != "not_copied"
                or c.detail != "removed"}
    assert verdicts == {
        "nom_collectivite": ("copied", ""), "type_collectivite": ("copied", ""), "siren": ("copied", ""),
        "departement": ("copied", ""), "declaration_accessibilite": ("copied", ""),
        "membre_structure_mutualisation": ("copied", ""), "part_postes_linux": ("copied", ""),
        "logiciels_metier_libres": ("not_copied", "kind"), "actions_sensibilisation": ("not_copied", "kind")}


def test_a_removed_choice_and_the_diff_command(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    for name in ("tnl-2025-badge.yaml", "tnl-2025-badge.fr.yaml", "tnl-2025-badge.en.yaml"):
        source = BUNDLED / name
        target = folder / name.replace("tnl-2025-badge", "tnl-2025-badge-v2")
        text = source.read_text(encoding="utf-8").replace("id: tnl-2025-badge", "id: tnl-2025-badge-v2")
        target.write_text(text.replace("choices: [commune, epci,", "choices: [epci,")
                          .replace("version: 1", "version: 2"), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "tnlbot", "flow", "diff", "tnl-2025-badge",
                          str(folder / "tnl-2025-badge-v2.yaml")], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "LANG": "en_GB.UTF-8", "LC_ALL": ""}, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "From tnl-2025-badge (version 1) to tnl-2025-badge-v2 (version 2):",
        "Choices removed (1):",
        "  type_collectivite: − commune",
        "/copier will carry over last year's answers to these questions, to check (14):",
        ("  nom_collectivite, siren, departement, email_contact, strategie_libre, formats_ouverts, "
        "declaration_accessibilite, sobriete_actions, membre_structure_mutualisation, donnees_ouvertes, "
        "contributions_projets, part_postes_linux, logiciels_metier_libres, actions_sensibilisation"),
        "/copier will carry them over, except the removed choices (1):",
        "  type_collectivite (except commune)"]
