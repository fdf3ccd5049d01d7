"""A flow as a workbook in the XLSForm spirit, and back.

Three sheets:
- `settings`: one row per setting (id, version, edition, track, grading,
  grading_values), then the flow's title and intro per language
  (`title::fr`, `intro::fr`, ...).
- `questions`: one row per volet (kind `volet`: its title and intro in the
  text and help columns) followed by its questions, in order. Columns: id,
  kind, repeat (the repeat block a sub-question belongs to), required,
  limits (`min: 0, max: 100`), condition (`equals: {question: q, value: true}`),
  then per language text, help, unit, item and other (the prompt of the
  "other" choice).
- `choices`: question, choice, then one label column per language.

Export reads the flow's own YAML (so a condition is written as its author
wrote it); import builds the same YAML mappings and remembers, for every path
`check-flows` may name, the cell it came from.
"""
from __future__ import annotations

from typing import Any

from .ods import Sheet
from .yamlout import QUESTION_KEYS, flow_style

SETTINGS, QUESTIONS, CHOICES = "settings", "questions", "choices"
BASE_COLUMNS = ("id", "kind", "repeat", "required", "limits", "condition")
TEXT_COLUMNS = ("text", "help", "unit", "item", "other")
LIMIT_KEYS = tuple(k for k in QUESTION_KEYS if k not in ("id", "kind", "required", "choices", "when"))
SETTING_KEYS = ("id", "version", "edition", "track", "grading", "grading_values")
FLOW_TEXTS = ("title", "intro")
WIDTHS = {"id": 5.5, "kind": 3.5, "repeat": 3.0, "required": 2.2, "limits": 5.0, "condition": 7.0,
          "text": 10.0, "help": 10.0, "unit": 3.0, "item": 3.0, "other": 5.0, "setting": 4.0,
          "value": 14.0, "question": 5.5, "choice": 4.0, "label": 8.0, "title": 8.0, "intro": 10.0}


def _inline(value: dict[str, Any]) -> str:
    """A mapping as one cell: flow style without the outer braces."""
    return flow_style(value)[1:-1] if value else ""


def _settings(structure: dict[str, Any], texts: dict[str, dict[str, Any]]) -> Sheet:
    grading = structure.get("grading") or {}
    rows: list[tuple[str, ...]] = [("setting", "value")]
    rows += [("id", str(structure["id"])), ("version", str(structure.get("version", 1))),
             ("edition", str(structure.get("edition", 0))), ("track", str(structure.get("track", "label"))),
             ("grading", str(grading.get("kind", "levels"))),
             ("grading_values", ", ".join(str(v) for v in grading.get("values", ())))]
    for locale, raw in texts.items():
        rows += [(f"{key}::{locale}", str(raw.get(key) or "")) for key in FLOW_TEXTS]
    return Sheet(SETTINGS, tuple(rows))


def _text_cells(texts: dict[str, dict[str, Any]], qid: str) -> tuple[str, ...]:
    cells: list[str] = []
    for raw in texts.values():
        qtext = (raw.get("questions") or {}).get(qid) or {}
        cells += [str(qtext.get(key) or "") for key in TEXT_COLUMNS]
    return tuple(cells)


def _question_rows(raw: dict[str, Any], parent: str, texts: dict[str, dict[str, Any]],
                   choices: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    qid = str(raw["id"])
    limits = {k: raw[k] for k in LIMIT_KEYS if k in raw}
    when = _inline(raw["when"]) if "when" in raw else ""
    rows = [(qid, str(raw.get("kind", "")), parent, "yes" if raw.get("required") else "",
             _inline(limits), when) + _text_cells(texts, qid)]
    for choice in raw.get("choices") or []:
        labels = tuple(str(((t.get("questions") or {}).get(qid) or {}).get("choices", {}).get(str(choice)) or "")
                       for t in texts.values())
        choices.append((qid, str(choice)) + labels)
    for sub in raw.get("questions") or []:
        rows += _question_rows(sub, qid, texts, choices)
    return rows


def to_sheets(structure: dict[str, Any], texts: dict[str, dict[str, Any]]) -> list[Sheet]:
    """The workbook of a flow, from its structure and its texts per language (French first)."""
    header = BASE_COLUMNS + tuple(f"{c}::{locale}" for locale in texts for c in TEXT_COLUMNS)
    questions: list[tuple[str, ...]] = [header]
    choices: list[tuple[str, ...]] = [("question", "choice") + tuple(f"label::{lc}" for lc in texts)]
    for volet in structure.get("volets") or []:
        vid = str(volet["id"])
        limits = {"optional": True} if volet.get("optional") else {}
        cells: list[str] = []
        for raw in texts.values():
            vtext = (raw.get("volets") or {}).get(vid) or {}
            cells += [str(vtext.get("title") or ""), str(vtext.get("intro") or ""), "", "", ""]
        questions.append((vid, "volet", "", "", _inline(limits),
                          _inline(volet["when"]) if "when" in volet else "") + tuple(cells))
        for question in volet.get("questions") or []:
            questions += _question_rows(question, "", texts, choices)
    return [_settings(structure, texts), Sheet(QUESTIONS, tuple(questions)), Sheet(CHOICES, tuple(choices))]
