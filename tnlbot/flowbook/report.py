"""Problems said in the operator's language: `sheet row column: reason`.

`check-flows` words its reasons in English for developers; here each known
reason is matched and said again through the catalog (`flowbook.reason.*`),
its quoted values kept. A reason this table does not know is shown as it is.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ..core.kinds import KNOWN
from ..i18n import Catalog
from .importer import Cell, Imported
from .ods import Sheet
from .workbook import CHOICES, QUESTIONS, SETTINGS

_V = r"(?P<value>.+?)"
REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p + "$"), k) for p, k in (
    (rf"not a number: {_V}", "not_a_number"),
    (rf"not a whole number: {_V}", "not_a_whole_number"),
    (r"a condition is a mapping with exactly one operator", "condition_one_operator"),
    (r"expects a non-empty list of conditions", "condition_list"),
    (rf"unknown condition operator {_V}", "unknown_operator"),
    (rf"refers to {_V}, which is not an earlier question", "not_earlier"),
    (r"expects \{question: \.\.\., value\(s\): \.\.\.\}", "condition_shape"),
    (r"expects a non-empty list", "values_list"),
    (r"missing 'value'", "missing_value"),
    (rf"compares {_V}, which is not a number question", "not_number_question"),
    (rf"{_V} is not a choice of (?P<question>.+)", "not_a_choice"),
    (rf"missing or invalid id {_V} \(lower-case letters, digits, _\)", "bad_id"),
    (rf"duplicate question id {_V}", "duplicate_id"),
    (r"unknown key", "unknown_key"),
    (rf"unknown kind {_V} \(known kinds: .+\)", "unknown_kind"),
    (r"a choice question needs at least two choices", "two_choices"),
    (r"duplicate choice", "duplicate_choice"),
    (rf"{_V} is not one of the choices", "other_not_choice"),
    (r"a repeat block cannot be inside another", "nested_repeat"),
    (r"a repeat block needs sub-questions", "empty_repeat"),
    (rf"missing or invalid volet id {_V}", "bad_volet_id"),
    (rf"duplicate volet id {_V}", "duplicate_volet"),
    (r"a volet needs at least one question", "empty_volet"),
    (r"a flow needs at least one volet", "no_volet"),
    (r"missing text", "missing_text"),
    (r"text for a question the flow does not have", "orphan_text"),
    (r"missing: every flow needs a text file per language", "missing_language_file"),
    (rf"not a date \(YYYY-MM-DD\) nor (?P<bounds>.+?): {_V}", "not_a_date"),
    (rf"cannot be read: {_V}", "unreadable_file"),
))
_SHEETS = (SETTINGS, QUESTIONS, CHOICES)
_PATH_TAIL = re.compile(r"(\.[^.\[(]+|\[\d+\]|\([^)]*\))$")


def operator_locale(locales: tuple[str, ...], env: Mapping[str, str] | None = None) -> str:
    """The operator's language from LC_ALL, LC_MESSAGES or LANG; French when none is set."""
    env = os.environ if env is None else env
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            code = value[:2].lower()
            return code if code in locales else ("en" if "en" in locales else locales[0])
    return "fr" if "fr" in locales else locales[0]


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"" else value


def reason(catalog: Catalog, locale: str, text: str) -> str:
    """A `check-flows` reason said in `locale` (as it is when unknown)."""
    for pattern, key in REASONS:
        found = pattern.match(text)
        if found:
            params = {k: _unquote(v) for k, v in found.groupdict().items()}
            kinds = ", ".join(KNOWN)
            return catalog(locale, f"flowbook.reason.{key}", kinds=kinds, **params)
    return text


def locate(imported: Imported, problem: str) -> tuple[Cell, str]:
    """The cell a `check-flows` problem (`file: path: reason`) came from, and its reason."""
    file, _, rest = problem.partition(": ")
    path, _, why = rest.partition(": ")
    marker = "structure" if file == f"{imported.name}.yaml" else file.split(".")[-2]
    while path:
        cell = imported.where.get(f"{marker}: {path}")
        if cell is not None:
            return cell, why
        shorter = _PATH_TAIL.sub("", path)
        path = "" if shorter == path else shorter
    return Cell(QUESTIONS if marker == "structure" else SETTINGS, 0), why


def _column(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def where(catalog: Catalog, locale: str, cell: Cell, sheets: Mapping[str, Sheet]) -> str:
    if cell.row == 0:
        return catalog(locale, "flowbook.where.sheet", sheet=cell.sheet)
    if cell.column == 0:
        return catalog(locale, "flowbook.where.row", sheet=cell.sheet, row=str(cell.row))
    sheet = sheets.get(cell.sheet)
    header = sheet.rows[0] if sheet and sheet.rows else ()
    title = header[cell.column - 1] if cell.column <= len(header) else ""
    column = _column(cell.column) + (f" ({title})" if title else "")
    return catalog(locale, "flowbook.where.cell", sheet=cell.sheet, row=str(cell.row), column=column)


def lines(catalog: Catalog, locale: str, imported: Imported, flow_problems: list[str],
          sheets: list[Sheet]) -> list[str]:
    """Every problem of an import, one line each, in the order of the workbook."""
    found: list[tuple[Cell, str]] = []
    for problem in imported.problems:
        found.append((problem.cell, catalog(locale, f"flowbook.import.{problem.key}", **dict(problem.params))))
    for text in flow_problems:
        cell, why = locate(imported, text)
        found.append((cell, reason(catalog, locale, why)))
    by_name = {s.name: s for s in sheets}
    order = {name: index for index, name in enumerate(_SHEETS)}
    found.sort(key=lambda item: (order.get(item[0].sheet, 9), item[0].row, item[0].column))
    unique = dict.fromkeys(catalog(locale, "flowbook.line", where=where(catalog, locale, cell, by_name),
                                   reason=why) for cell, why in found)
    return list(unique)
