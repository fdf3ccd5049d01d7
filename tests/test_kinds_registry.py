"""Question kinds are declared once (core.kinds.SPECS): every kind a flow or the flow format
names is declared, and every declared kind has a parser, a rendering on each transport
(terminal, Telegram, Matrix) and an export. The check that says so fails on a registry
that lacks one of them."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from tnlbot.core.events import Option, Outgoing, OutKind
from tnlbot.core.flow import Kind
from tnlbot.core.kinds import KINDS, KNOWN, SPECS, Export, Form, form_of, problems
from tnlbot.flows import BUNDLED, FlowError, build_flow, flow_files
from tnlbot.transports import console, matrix_render, telegram_render

ROOT = Path(__file__).resolve().parent.parent
RENDERINGS = {"terminal": console.FORMS, "telegram": telegram_render.FORMS, "matrix": matrix_render.FORMS}


def _kinds_in(questions: Any, where: str, found: dict[str, str]) -> None:
    for q in questions or ():
        if isinstance(q, dict) and "kind" in q:
            found.setdefault(str(q["kind"]), where)
            _kinds_in(q.get("questions"), where, found)


def kinds_in_flows() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in flow_files(BUNDLED):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        for volet in raw.get("volets") or ():
            _kinds_in(volet.get("questions"), path.name, found)
    return found


def kinds_in_flow_format() -> dict[str, str]:
    """The kinds docs/flow-format.md describes (its table 'Kinds and their options')."""
    text = (ROOT / "docs" / "flow-format.md").read_text(encoding="utf-8")
    table = text.split("### Kinds and their options", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name: "docs/flow-format.md" for row in rows
            for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}


def test_the_flows_and_the_flow_format_use_kinds_that_exist():
    in_flows, in_docs = kinds_in_flows(), kinds_in_flow_format()
    assert len(in_flows) >= 15 and "multiple_choice" in in_flows
    assert problems(SPECS, RENDERINGS, {**in_docs, **in_flows}) == []


def test_every_kind_is_declared_once_and_described_in_the_flow_format():
    assert [spec.kind for spec in SPECS] == list(Kind)
    assert set(kinds_in_flow_format()) == set(KNOWN)


def test_a_kind_missing_its_parser_rendering_or_export_is_reported():
    specs = list(SPECS)
    at = {spec.kind: i for i, spec in enumerate(specs)}
    specs[at[Kind.SIREN]] = replace(KINDS[Kind.SIREN], parse=None)
    specs[at[Kind.PERCENT]] = replace(KINDS[Kind.PERCENT], export=None)
    specs[at[Kind.NOTICE]] = replace(KINDS[Kind.NOTICE], form=None)
    matrix_without_toggles = {f: key for f, key in matrix_render.FORMS.items() if f is not Form.SEVERAL}
    found = problems(tuple(specs), {**RENDERINGS, "matrix": matrix_without_toggles},
                     {"texte_court": "mini.yaml", "yes_no": "mini.yaml"})
    assert found == [
        "texte_court: used in mini.yaml but not declared",
        "multiple_choice: no rendering of the form 'several' on matrix",
        "percentage: no export",
        "siren: no parser",
        "notice: no form",
    ]


def test_each_transport_renders_every_form():
    for name, table in RENDERINGS.items():
        assert set(table) == set(Form), name


@pytest.mark.parametrize("form, item", [
    (Form.TYPED, Outgoing(OutKind.PROMPT, "Nom ?", ref="nom")),
    (Form.YES_NO, Outgoing(OutKind.PROMPT, "?", ref="q", options=(Option("yes", "Oui"), Option("no", "Non")))),
    (Form.ONE, Outgoing(OutKind.PROMPT, "?", ref="q", options=(Option("a", "A"), Option("b", "B")))),
    (Form.SEVERAL, Outgoing(OutKind.PROMPT, "?", ref="q", options=(Option("a", "A"), Option("b", "B")),
                            multi=True, selected=("b",))),
])
def test_each_transport_shows_a_form_through_its_table(form, item):
    assert form_of(item) is form
    assert console.render(item).count("[x]") == (form is Form.SEVERAL)
    keys = telegram_render.keyboard(item, telegram_render._Keys(b"k" * 32, "1", "1"), telegram_render.WORDS)
    assert len(keys) == {Form.TYPED: 0, Form.YES_NO: 1, Form.ONE: 1, Form.SEVERAL: 3}[form]
    assert matrix_render.hint_key(item) == matrix_render.FORMS[form]


def test_hints_and_their_transport_wordings_exist_in_every_language(catalog):
    keys = {spec.hint for spec in SPECS if spec.hint}
    keys |= {said for spec in SPECS for table in spec.wording.values() for said in table.values()}
    keys |= {key for key in matrix_render.FORMS.values() if key}
    for code in catalog.locales:
        assert keys <= set(catalog.keys(code)), code


def test_exports_match_what_is_stored():
    for spec in SPECS:
        if spec.export is Export.INTEGER:
            assert spec.shape is int, spec.kind
        if spec.export is Export.NONE:
            assert spec.shape is None, spec.kind


def test_the_flow_loader_names_the_known_kinds_when_a_kind_is_unknown():
    raw = {"id": "mini", "volets": [{"id": "v", "questions": [{"id": "nom", "kind": "texte_court"}]}]}
    texts = {"fr": {"title": "Mini", "volets": {"v": {"title": "V"}}, "questions": {"nom": {"text": "Nom ?"}}}}
    with pytest.raises(FlowError) as failed:
        build_flow("mini", raw, texts)
    assert failed.value.problems[0] == (
        "mini.yaml: volets[0](v).questions[0](nom).kind: unknown kind 'texte_court' (known kinds: "
        + ", ".join(KNOWN) + ")")
    assert "yes_no, single_choice, multiple_choice, short_text" in failed.value.problems[0]
