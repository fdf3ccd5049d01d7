"""Read a questionnaire workbook back into the YAML mappings of a flow.

The reader checks what only a workbook can get wrong (a missing sheet or
column, a `required` cell that is neither yes nor no, limits or a condition
that cannot be read, a choice for an unknown question); everything else is
checked by the same code as `tnlbot check-flows`, whose problems name a path
in the YAML (`volets[0](identification).questions[3](departement).max_length`)
that `where` leads back to the cell it came from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .ods import Sheet
from .workbook import (
    BASE_COLUMNS,
    CHOICES,
    FLOW_TEXTS,
    LIMIT_KEYS,
    QUESTIONS,
    SETTING_KEYS,
    SETTINGS,
    TEXT_COLUMNS,
)

FLOW_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_YES = {"yes", "oui", "true", "vrai", "x", "1"}
_NO = {"", "no", "non", "false", "faux", "0"}


@dataclass(frozen=True, slots=True)
class Cell:
    sheet: str
    row: int            # 1-based; 0: the workbook as a whole
    column: int = 0     # 1-based; 0: the whole row


@dataclass(frozen=True, slots=True)
class Problem:
    cell: Cell
    key: str                                   # a message of flowbook.import.*
    params: tuple[tuple[str, str], ...] = ()


@dataclass
class Imported:
    name: str = ""
    structure: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, dict[str, Any]] = field(default_factory=dict)
    where: dict[str, Cell] = field(default_factory=dict)      # "file: path" -> cell
    problems: list[Problem] = field(default_factory=list)


class _Reader:
    def __init__(self, sheets: list[Sheet], locales: tuple[str, ...]):
        self.sheets = {s.name: s for s in sheets}
        self.locales = locales
        self.out = Imported()
        self.questions: dict[str, dict[str, Any]] = {}
        self.paths: dict[str, str] = {}          # question id -> its YAML path

    def fail(self, cell: Cell, key: str, **params: Any) -> None:
        self.out.problems.append(Problem(cell, key, tuple((k, str(v)) for k, v in params.items())))

    def columns(self, sheet: Sheet, known: tuple[str, ...], needed: tuple[str, ...]) -> dict[str, int]:
        header = sheet.rows[0] if sheet.rows else ()
        found: dict[str, int] = {}
        for index, title in enumerate(header):
            title = title.strip()
            if title in known and title not in found:
                found[title] = index
            elif title:
                self.fail(Cell(sheet.name, 1, index + 1), "unknown_column", column=title)
        for title in needed:
            if title not in found:
                self.fail(Cell(sheet.name, 1), "missing_column", column=title)
        return found

    def texts(self, locale: str) -> dict[str, Any]:
        return self.out.texts.setdefault(locale, {"volets": {}, "questions": {}})

    def note(self, file: str, path: str, cell: Cell) -> None:
        self.out.where.setdefault(f"{file}: {path}", cell)

    # ------------------------------------------------------------ settings

    def settings(self, sheet: Sheet) -> None:
        cols = self.columns(sheet, ("setting", "value"), ("setting", "value"))
        structure = self.out.structure
        for number, row in enumerate(sheet.rows[1:], start=2):
            key = _get(row, cols, "setting").strip()
            value = _get(row, cols, "value").strip()
            where = Cell(SETTINGS, number, cols.get("value", 1) + 1)
            if not key:
                continue
            if key in SETTING_KEYS:
                self._setting(structure, key, value, where)
                self.note("structure", {"grading": "grading.kind"}.get(key, key), where)
            elif "::" in key and key.split("::")[0] in FLOW_TEXTS and key.split("::")[1] in self.locales:
                name, locale = key.split("::")
                if value:
                    self.texts(locale)[name] = value
                self.note(locale, name, where)
            else:
                self.fail(Cell(SETTINGS, number, cols.get("setting", 0) + 1), "unknown_setting", setting=key)
        fid = str(structure.get("id", ""))
        if not FLOW_ID.fullmatch(fid):
            self.fail(self.out.where.get("structure: id", Cell(SETTINGS, 0)), "bad_flow_id", value=fid)
        self.out.name = fid if FLOW_ID.fullmatch(fid) else "flow"

    @staticmethod
    def _setting(structure: dict[str, Any], key: str, value: str, where: Cell) -> None:
        if key in ("version", "edition"):
            structure[key] = int(value) if value.isdigit() else value
        elif key == "grading":
            structure.setdefault("grading", {})["kind"] = value
        elif key == "grading_values":
            structure.setdefault("grading", {})["values"] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            structure[key] = value

    # ------------------------------------------------------------ questions

    def question_sheet(self, sheet: Sheet) -> None:
        known = BASE_COLUMNS + tuple(f"{c}::{lc}" for lc in self.locales for c in TEXT_COLUMNS)
        cols = self.columns(sheet, known, ("id", "kind") + tuple(f"text::{lc}" for lc in self.locales))
        volets: list[dict[str, Any]] = self.out.structure.setdefault("volets", [])
        for number, row in enumerate(sheet.rows[1:], start=2):
            if not any(c.strip() for c in row):
                continue
            if _get(row, cols, "kind").strip() == "volet":
                self._volet(row, cols, number, volets)
            elif not volets:
                self.fail(Cell(QUESTIONS, number), "before_volet")
            else:
                self._question(row, cols, number, volets)

    def _mapping(self, text: str, cell: Cell, key: str) -> dict[str, Any] | None:
        if not text.strip():
            return {}
        try:
            value = yaml.safe_load("{" + text + "}")
        except yaml.YAMLError:
            value = None
        if not isinstance(value, dict):
            self.fail(cell, key, value=text)
            return None
        return value

    def _volet(self, row: tuple[str, ...], cols: dict[str, int], number: int,
               volets: list[dict[str, Any]]) -> None:
        vid = _get(row, cols, "id").strip()
        volet: dict[str, Any] = {"id": vid, "questions": []}
        limits = self._mapping(_get(row, cols, "limits"), _at(QUESTIONS, cols, number, "limits"), "limits_unreadable") or {}
        for key, value in limits.items():
            if key == "optional":
                volet["optional"] = bool(value)
            else:
                self.fail(_at(QUESTIONS, cols, number, "limits"), "not_a_volet_limit", name=key)
        self._condition(volet, row, cols, number)
        path = f"volets[{len(volets)}]"
        volets.append(volet)
        for suffix in ("", ".id", f"({vid})", f"({vid}).questions"):
            self.note("structure", path + suffix, _at(QUESTIONS, cols, number, "id"))
        self.note("structure", f"{path}({vid}).when", _at(QUESTIONS, cols, number, "condition"))
        for locale in self.locales:
            vtext = {"title": _get(row, cols, f"text::{locale}").strip(),
                     "intro": _get(row, cols, f"help::{locale}").strip()}
            self.texts(locale)["volets"][vid] = {k: v for k, v in vtext.items() if v}
            self.note(locale, f"volets.{vid}.title", _at(QUESTIONS, cols, number, f"text::{locale}"))

    def _condition(self, raw: dict[str, Any], row: tuple[str, ...], cols: dict[str, int], number: int) -> None:
        text = _get(row, cols, "condition")
        when = self._mapping(text, _at(QUESTIONS, cols, number, "condition"), "condition_unreadable")
        if when:
            raw["when"] = when

    def _question(self, row: tuple[str, ...], cols: dict[str, int], number: int,
                  volets: list[dict[str, Any]]) -> None:
        qid = _get(row, cols, "id").strip()
        raw: dict[str, Any] = {"id": qid, "kind": _get(row, cols, "kind").strip()}
        required = _get(row, cols, "required").strip().lower()
        if required in _YES:
            raw["required"] = True
        elif required not in _NO:
            self.fail(_at(QUESTIONS, cols, number, "required"), "not_yes_no", value=_get(row, cols, "required"))
        limits = self._mapping(_get(row, cols, "limits"), _at(QUESTIONS, cols, number, "limits"), "limits_unreadable")
        for key, value in (limits or {}).items():
            if key in LIMIT_KEYS:
                raw[key] = value
            else:
                self.fail(_at(QUESTIONS, cols, number, "limits"), "not_a_limit", name=key)
        self._condition(raw, row, cols, number)
        path = self._place(raw, row, cols, number, volets)
        self._register(path, qid, cols, number)
        self._question_texts(qid, row, cols)

    def _place(self, raw: dict[str, Any], row: tuple[str, ...], cols: dict[str, int], number: int,
               volets: list[dict[str, Any]]) -> str:
        volet = volets[-1]
        parent_id = _get(row, cols, "repeat").strip()
        parent = self.questions.get(parent_id) if parent_id else None
        if parent_id and (parent is None or parent.get("kind") != "repeat"):
            self.fail(_at(QUESTIONS, cols, number, "repeat"), "not_a_repeat", value=parent_id)
            parent = None
        if parent is not None:
            parent.setdefault("questions", []).append(raw)
            path = f"{self.paths[parent_id]}.questions[{len(parent['questions']) - 1}]"
        else:
            volet["questions"].append(raw)
            path = f"volets[{len(volets) - 1}]({volet['id']}).questions[{len(volet['questions']) - 1}]"
        if raw["id"] and raw["id"] not in self.questions:
            self.questions[raw["id"]] = raw
            self.paths[raw["id"]] = f"{path}({raw['id']})"
        return path

    def _register(self, path: str, qid: str, cols: dict[str, int], number: int) -> None:
        for suffix in ("", ".id", f"({qid})", f"({qid}).questions", f"({qid}).choices"):
            self.note("structure", path + suffix, _at(QUESTIONS, cols, number, "id"))
        for key in ("kind", "required"):
            self.note("structure", f"{path}({qid}).{key}", _at(QUESTIONS, cols, number, key))
        self.note("structure", f"{path}({qid}).when", _at(QUESTIONS, cols, number, "condition"))
        for key in LIMIT_KEYS:
            self.note("structure", f"{path}({qid}).{key}", _at(QUESTIONS, cols, number, "limits"))
        for locale in self.locales:
            self.note(locale, f"questions.{qid}", _at(QUESTIONS, cols, number, "id"))
            for column in TEXT_COLUMNS:
                self.note(locale, f"questions.{qid}.{column}", _at(QUESTIONS, cols, number, f"{column}::{locale}"))

    def _question_texts(self, qid: str, row: tuple[str, ...], cols: dict[str, int]) -> None:
        for locale in self.locales:
            texts = {c: _get(row, cols, f"{c}::{locale}").strip() for c in TEXT_COLUMNS}
            texts = {k: v for k, v in texts.items() if v}
            if texts:
                self.texts(locale)["questions"][qid] = texts

    # ------------------------------------------------------------ choices

    def choice_sheet(self, sheet: Sheet) -> None:
        labels = tuple(f"label::{lc}" for lc in self.locales)
        cols = self.columns(sheet, ("question", "choice") + labels, ("question", "choice") + labels)
        for number, row in enumerate(sheet.rows[1:], start=2):
            qid, choice = _get(row, cols, "question").strip(), _get(row, cols, "choice").strip()
            if not qid and not choice:
                continue
            question = self.questions.get(qid)
            if question is None:
                self.fail(_at(CHOICES, cols, number, "question"), "unknown_question", value=qid)
                continue
            if not choice:
                self.fail(_at(CHOICES, cols, number, "choice"), "empty_choice")
                continue
            if not question.get("choices"):
                self.note("structure", f"{self.paths[qid]}.choices", _at(CHOICES, cols, number, "choice"))
            question.setdefault("choices", []).append(choice)
            for locale in self.locales:
                label = _get(row, cols, f"label::{locale}").strip()
                qtexts = self.texts(locale)["questions"].setdefault(qid, {})
                if label:
                    qtexts.setdefault("choices", {})[choice] = label
                self.note(locale, f"questions.{qid}.choices.{choice}", _at(CHOICES, cols, number, f"label::{locale}"))


def _get(row: tuple[str, ...], cols: dict[str, int], name: str) -> str:
    index = cols.get(name)
    return row[index] if index is not None and index < len(row) else ""


def _at(sheet: str, cols: dict[str, int], number: int, name: str) -> Cell:
    return Cell(sheet, number, cols[name] + 1 if name in cols else 0)


def read_workbook(sheets: list[Sheet], locales: tuple[str, ...]) -> Imported:
    """The flow a workbook holds, with the cells of its problems (not yet the flow rules')."""
    reader = _Reader(sheets, locales)
    for name, step in ((SETTINGS, reader.settings), (QUESTIONS, reader.question_sheet),
                       (CHOICES, reader.choice_sheet)):
        sheet = reader.sheets.get(name)
        if sheet is None:
            reader.fail(Cell(name, 0), "missing_sheet", sheet=name)
        else:
            step(sheet)
    return reader.out
