"""Export a flow to a workbook, import a workbook into the three YAML files."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.flow import Flow
from ..flows import FlowError, build_flow, load_flow, raw_flow_files
from .importer import Imported, read_workbook
from .ods import Sheet, read_ods, write_ods
from .workbook import WIDTHS, to_sheets
from .yamlout import structure_yaml, texts_yaml

_ECHO = "text for a question the flow does not have"


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: Imported
    sheets: tuple[Sheet, ...]
    flow_problems: tuple[str, ...]      # check-flows problems, still as `file: path: reason`
    flow: Flow | None                   # None when there is any problem

    @property
    def ok(self) -> bool:
        return self.flow is not None


def raw_flow(folder: Path, flow_id: str, locales: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A valid flow's structure and texts as their YAML mappings (FlowError if it is not valid)."""
    load_flow(folder / f"{flow_id}.yaml", locales)
    return raw_flow_files(folder, flow_id, locales)


def export_flow(folder: Path, flow_id: str, locales: tuple[str, ...]) -> bytes:
    structure, texts = raw_flow(folder, flow_id, locales)
    return write_ods(to_sheets(structure, texts), WIDTHS)


def import_workbook(path: Path, locales: tuple[str, ...]) -> ImportResult:
    """Read and check a workbook (ValueError when the file is not an ODS workbook)."""
    sheets = read_ods(path)
    imported = read_workbook(sheets, locales)
    flow: Flow | None = None
    problems: list[str] = []
    try:
        flow = build_flow(imported.name, imported.structure,
                          {lc: imported.texts.get(lc, {}) for lc in locales}, problems)
    except FlowError:
        pass
    except (TypeError, ValueError, AttributeError, KeyError) as exc:   # a shape the workbook forbids
        problems.append(f"{imported.name}.yaml: (root): {exc}")
    if imported.problems:
        flow = None
    # Every text sits on a question's row: a text "for a question the flow does not have" only
    # echoes that question's own problem (an unknown kind drops it), already reported.
    problems = [p for p in problems if not p.endswith(_ECHO)]
    return ImportResult(imported, tuple(sheets), tuple(problems), flow)


def yaml_files(imported: Imported, locales: tuple[str, ...]) -> dict[str, str]:
    """File name -> text, for the structure and one file per language."""
    files = {f"{imported.name}.yaml": structure_yaml(imported.structure)}
    for locale in locales:
        files[f"{imported.name}.{locale}.yaml"] = texts_yaml(imported.structure, imported.texts[locale])
    return files


def write_flow(imported: Imported, locales: tuple[str, ...], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in yaml_files(imported, locales).items():
        target = folder / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
