"""Flow files: every shipped flow loads; broken flows give precise errors."""
import copy
import os
import subprocess
import sys

import pytest
import yaml

from tnlbot.core.flow import Kind
from tnlbot.flows import FlowError, flow_files, load_all, load_flow

STRUCTURE = {
    "id": "mini", "version": 1, "edition": 2024, "track": "label",
    "volets": [
        {"id": "identification", "questions": [
            {"id": "nom", "kind": "short_text", "required": True},
            {"id": "type", "kind": "single_choice", "choices": ["commune", "autre"], "other": "autre"},
            {"id": "population", "kind": "integer", "min": 0, "unit": True},
        ]},
        {"id": "logiciels", "optional": True, "questions": [
            {"id": "libre", "kind": "yes_no"},
            {"id": "metiers", "kind": "repeat", "when": {"equals": {"question": "libre", "value": True}},
             "questions": [{"id": "metier_nom", "kind": "short_text"}]},
        ]},
    ],
}
TEXTS = {
    "title": "Mini",
    "volets": {"identification": {"title": "Identification"}, "logiciels": {"title": "Logiciels"}},
    "questions": {
        "nom": {"text": "Nom ?"},
        "type": {"text": "Type ?", "choices": {"commune": "Commune", "autre": "Autre"}, "other": "Lequel ?"},
        "population": {"text": "Population ?", "unit": "habitants"},
        "libre": {"text": "Libre ?"},
        "metiers": {"text": "Logiciels métier", "item": "logiciel"},
        "metier_nom": {"text": "Nom du logiciel ?"},
    },
}


def write(folder, structure=STRUCTURE, fr=TEXTS, en=TEXTS):
    (folder / "mini.yaml").write_text(yaml.safe_dump(structure, allow_unicode=True), encoding="utf-8")
    for code, texts in (("fr", fr), ("en", en)):
        if texts is not None:
            (folder / f"mini.{code}.yaml").write_text(yaml.safe_dump(texts, allow_unicode=True), encoding="utf-8")
    return folder / "mini.yaml"


def problems(tmp_path, structure=STRUCTURE, fr=TEXTS, en=TEXTS) -> str:
    with pytest.raises(FlowError) as info:
        load_flow(write(tmp_path, structure, fr, en))
    return "\n".join(info.value.problems)


def mutated(change):
    structure = copy.deepcopy(STRUCTURE)
    change(structure)
    return structure


def test_every_shipped_flow_loads_with_both_languages():
    flows = load_all()
    assert set(flows) == {"tnl-2022", "tnl-2025-badge"}
    full = flows["tnl-2022"]
    assert len(full.questions) >= 60
    assert [v.id for v in full.volets] == ["identification", "strategie", "bonnes_pratiques",
                                           "logiciels", "communication", "donnees"]
    kinds = {q.kind for q in full.questions.values()}
    assert kinds >= {Kind.YES_NO, Kind.SINGLE, Kind.MULTI, Kind.SHORT_TEXT, Kind.LONG_TEXT,
                     Kind.INTEGER, Kind.DECIMAL, Kind.PERCENT, Kind.DATE, Kind.EMAIL, Kind.URL,
                     Kind.PHONE, Kind.SIREN, Kind.REPEAT, Kind.FILE, Kind.NOTICE}
    badge = flows["tnl-2025-badge"]
    assert len(badge.volet("badge").questions) == 10
    assert set(full.texts) == {"fr", "en"}


def test_a_valid_small_flow_loads(tmp_path):
    flow = load_flow(write(tmp_path))
    assert flow.questions["metier_nom"].parent == "metiers"


def test_unknown_kind_is_named_with_its_path(tmp_path):
    text = problems(tmp_path, mutated(lambda s: s["volets"][0]["questions"][0].update(kind="texte")))
    assert "mini.yaml: volets[0](identification).questions[0](nom).kind: unknown kind 'texte'" in text


def test_duplicate_question_id(tmp_path):
    text = problems(tmp_path, mutated(lambda s: s["volets"][1]["questions"][0].update(id="nom")))
    assert "duplicate question id 'nom'" in text
    assert "volets[1](logiciels).questions[0](nom)" in text


def test_condition_on_a_later_question(tmp_path):
    def change(s):
        s["volets"][0]["questions"][0]["when"] = {"answered": "population"}
    text = problems(tmp_path, mutated(change))
    assert "questions[0](nom).when.answered: refers to 'population', which is not an earlier question" in text


def test_condition_on_an_unknown_question(tmp_path):
    def change(s):
        s["volets"][1]["questions"][0]["when"] = {"equals": {"question": "budget", "value": 3}}
    assert "refers to 'budget', which is not an earlier question" in problems(tmp_path, mutated(change))


def test_condition_on_a_missing_choice(tmp_path):
    def change(s):
        s["volets"][1]["questions"][0]["when"] = {"one_of": {"question": "type", "values": ["region"]}}
    assert "'region' is not a choice of 'type'" in problems(tmp_path, mutated(change))


def test_unknown_condition_operator(tmp_path):
    def change(s):
        s["volets"][1]["questions"][0]["when"] = {"between": {"question": "population"}}
    assert "unknown condition operator 'between'" in problems(tmp_path, mutated(change))


def test_other_must_be_one_of_the_choices(tmp_path):
    text = problems(tmp_path, mutated(lambda s: s["volets"][0]["questions"][1].update(other="divers")))
    assert "questions[1](type).other: 'divers' is not one of the choices" in text


def test_missing_english_text(tmp_path):
    en = copy.deepcopy(TEXTS)
    del en["questions"]["population"]
    assert "mini.en.yaml: questions.population.text: missing text" in problems(tmp_path, en=en)


def test_missing_choice_label_and_unit(tmp_path):
    fr = copy.deepcopy(TEXTS)
    del fr["questions"]["type"]["choices"]["autre"]
    del fr["questions"]["population"]["unit"]
    text = problems(tmp_path, fr=fr)
    assert "mini.fr.yaml: questions.type.choices.autre: missing text" in text
    assert "mini.fr.yaml: questions.population.unit: missing text" in text


def test_missing_language_file(tmp_path):
    assert "mini.en.yaml: (file): missing" in problems(tmp_path, en=None)


def test_id_must_match_the_file_name(tmp_path):
    text = problems(tmp_path, mutated(lambda s: s.update(id="autre-nom")))
    assert "mini.yaml: id: must equal the file name 'mini'" in text


def test_choice_question_needs_two_choices(tmp_path):
    def change(s):
        s["volets"][0]["questions"][1].update(choices=["commune"], other="")
    assert "a choice question needs at least two choices" in problems(tmp_path, mutated(change))


def test_text_for_an_unknown_question(tmp_path):
    fr = copy.deepcopy(TEXTS)
    fr["questions"]["budget"] = {"text": "Budget ?"}
    assert "mini.fr.yaml: questions.budget: text for a question the flow does not have" in problems(tmp_path, fr=fr)


def test_yaml_syntax_error_names_the_file(tmp_path):
    write(tmp_path)
    (tmp_path / "mini.yaml").write_text("id: mini\nvolets: [\n", encoding="utf-8")
    with pytest.raises(FlowError) as info:
        load_flow(tmp_path / "mini.yaml")
    assert info.value.problems[0].startswith("mini.yaml: (file): cannot be read")


def test_all_problems_are_reported_at_once(tmp_path):
    def change(s):
        s["volets"][0]["questions"][0]["kind"] = "texte"
        s["volets"][0]["questions"][2]["min"] = "beaucoup"
    text = problems(tmp_path, mutated(change))
    assert "unknown kind 'texte'" in text and "not a number: 'beaucoup'" in text


def test_check_flows_command_reports_for_operators(tmp_path):
    """In the operator's language: French first, English when LANG says so."""
    def check_flows(lang: str, *folder: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "TNLBOT_"))}
        return subprocess.run([sys.executable, "-m", "tnlbot", "check-flows", *folder], capture_output=True,
                              text=True, env={**env, "LANG": lang})
    ok = check_flows("fr_FR.UTF-8")
    assert ok.returncode == 0
    assert "tnl-2022.yaml : valide (" in ok.stdout
    assert "tnl-2022.yaml: ok (" in check_flows("en_GB.UTF-8").stdout
    write(tmp_path, mutated(lambda s: s["volets"][0]["questions"][0].update(kind="texte")))
    bad = check_flows("en_GB.UTF-8", str(tmp_path))
    assert bad.returncode == 1
    assert "mini.yaml: volets[0](identification).questions[0](nom).kind: unknown question kind “texte” (" in bad.stderr
    bad = check_flows("fr_FR.UTF-8", str(tmp_path))
    assert bad.returncode == 1
    assert ("mini.yaml: volets[0](identification).questions[0](nom).kind : type de question « texte » inconnu ("
            in bad.stderr)
    assert [p.name for p in flow_files(tmp_path)] == ["mini.yaml"]


def test_yaml_booleans_as_choices_are_refused(tmp_path):
    def change(s):
        s["volets"][0]["questions"][1].update(choices=[True, False], other="")
    assert "choice True is not text: quote it" in problems(tmp_path, mutated(change))
