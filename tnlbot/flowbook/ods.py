"""A workbook as plain sheets of text cells, read and written as ODS with odfpy.

Only what a questionnaire workbook needs: named sheets, a header row, text
cells (a number typed into a cell reads back as its value, 2016 not "2 016").
Repeated rows and columns, as LibreOffice compresses them, are expanded;
trailing empty rows and cells are dropped.
"""
from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from odf import teletype
from odf.namespaces import TABLENS
from odf.opendocument import OpenDocumentSpreadsheet, load
from odf.style import Style, TableColumnProperties, TextProperties
from odf.table import Table, TableCell, TableColumn, TableRow
from odf.text import P

_MAX_REPEAT = 10_000   # a repeated run longer than this is padding, not data


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str
    rows: tuple[tuple[str, ...], ...]   # rows[0] is the header


def _xml_safe(text: str) -> str:
    return "".join(c for c in text if c in "\t\n" or unicodedata.category(c) not in ("Cc", "Cs"))


def write_ods(sheets: list[Sheet], widths: dict[str, float] | None = None) -> bytes:
    """The workbook as ODS bytes; `widths` gives a column width in cm per header name."""
    doc = OpenDocumentSpreadsheet()
    bold = Style(name="header", family="table-cell")
    bold.addElement(TextProperties(fontweight="bold"))
    doc.automaticstyles.addElement(bold)
    column_styles: dict[float, Style] = {}
    for sheet in sheets:
        table = Table(name=sheet.name)
        for title in sheet.rows[0] if sheet.rows else ():
            width = (widths or {}).get(title.split("::")[0], 4.0)
            if width not in column_styles:
                style = Style(name=f"col{len(column_styles)}", family="table-column")
                style.addElement(TableColumnProperties(columnwidth=f"{width}cm"))
                doc.automaticstyles.addElement(style)
                column_styles[width] = style
            table.addElement(TableColumn(stylename=column_styles[width]))
        for index, values in enumerate(sheet.rows):
            row = TableRow()
            for value in values:
                cell = TableCell(valuetype="string", **({"stylename": bold} if index == 0 else {}))
                if value:
                    paragraph = P()
                    teletype.addTextToElement(paragraph, _xml_safe(value))
                    cell.addElement(paragraph)
                row.addElement(cell)
            table.addElement(row)
        doc.spreadsheet.addElement(table)
    out = io.BytesIO()
    doc.write(out)
    return out.getvalue()


def _cell_text(cell: Any) -> str:        # odfpy elements carry no type information
    kind = cell.getAttrNS("urn:oasis:names:tc:opendocument:xmlns:office:1.0", "value-type")
    if kind in ("float", "percentage", "currency"):
        raw = cell.getAttrNS("urn:oasis:names:tc:opendocument:xmlns:office:1.0", "value")
        try:
            number = Decimal(raw)
        except (InvalidOperation, TypeError):
            number = None
        if number is not None:
            return str(number.quantize(Decimal(1))) if number == number.to_integral() else str(number.normalize())
    lines = [teletype.extractText(p) for p in cell.childNodes if p.qname[1] == "p"]
    return "\n".join(lines)


def _repeat(node: Any, attr: str) -> int:
    raw = node.getAttrNS(TABLENS, attr)
    return min(int(raw), _MAX_REPEAT) if raw else 1


def _rows(table: Any) -> tuple[tuple[str, ...], ...]:
    rows: list[tuple[str, ...]] = []
    for node in table.getElementsByType(TableRow):
        cells: list[str] = []
        for cell in node.childNodes:
            if cell.qname[1] not in ("table-cell", "covered-table-cell"):
                continue
            cells.extend([_cell_text(cell)] * _repeat(cell, "number-columns-repeated"))
        while cells and not cells[-1].strip():
            cells.pop()
        rows.extend([tuple(cells)] * _repeat(node, "number-rows-repeated"))
    while rows and not rows[-1]:
        rows.pop()
    return tuple(rows)


def read_ods(path: Path) -> list[Sheet]:
    """Every sheet of an ODS file, as text; raises ValueError when it is not one."""
    try:
        doc = load(str(path))
    except Exception as exc:  # odfpy raises zipfile, KeyError or XML errors on non-ODS files
        raise ValueError(str(exc) or type(exc).__name__) from exc
    return [Sheet(str(t.getAttrNS(TABLENS, "name")), _rows(t))
            for t in doc.spreadsheet.getElementsByType(Table)]
