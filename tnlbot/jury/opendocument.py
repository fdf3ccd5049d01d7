"""OpenDocument exports with odfpy: the ODS workbook and the ODT dossier.

Pure like tnlbot/jury/rules.py: data in, bytes out (odfpy writes the zip into
memory). The workbook has a summary sheet, then one sheet per volet: row 1
holds the questions, row 2 the answer keys (the CSV header), then one row per
candidature. Numbers are number cells, instants date cells; every text cell
is a plain string, as typed (no formula attribute is ever written, so a text
starting with "=" stays text and needs no leading apostrophe). Sheet names
are the volets' full titles (ODS has no length limit).
"""
from __future__ import annotations

import io
from datetime import datetime
import re
import unicodedata
from typing import Iterable, Sequence

from odf import teletype
from odf.opendocument import OpenDocumentSpreadsheet, OpenDocumentText
from odf.style import ParagraphProperties, Style, TableColumnProperties, TextProperties
from odf.table import Table, TableCell, TableColumn, TableRow
from odf.text import H, List, ListItem, P

from ..core.flow import Flow
from .rules import (Cell, Entry, Labels, Meta, cell, columns, completeness, meta_cells,
                         meta_labels, volet_title)
from .documents import Dossier, Line


def _xml_safe(text: str) -> str:
    """Drop what XML 1.0 cannot hold (control characters other than tab and newline)."""
    return "".join(c for c in text if c in "\t\n" or unicodedata.category(c) not in ("Cc", "Cs"))


def _cell(value: Cell | datetime, style: Style | None = None) -> TableCell:
    extra = {"stylename": style} if style is not None else {}
    if isinstance(value, datetime):
        stamp = TableCell(valuetype="date", datevalue=value.strftime("%Y-%m-%dT%H:%M:%S"), **extra)
        stamp.addElement(P(text=value.strftime("%Y-%m-%d %H:%M:%S")))
        return stamp
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = TableCell(valuetype="float", value=value, **extra)
        number.addElement(P(text=str(value)))
        return number
    cell_ = TableCell(valuetype="string", **extra)
    paragraph = P()
    teletype.addTextToElement(paragraph, _xml_safe(str(value)))
    cell_.addElement(paragraph)
    return cell_


def _row(values: Iterable[Cell | datetime], style: Style | None = None) -> TableRow:
    row = TableRow()
    for value in values:
        row.addElement(_cell(value, style))
    return row


def _sheet_name(title: str, taken: set[str]) -> str:
    name = re.sub(r"[\[\]*?:/\\']", " ", title).strip() or "Volet"
    base, number = name, 2
    while name in taken:
        name = f"{base} {number}"
        number += 1
    taken.add(name)
    return name


def _sheet(doc: OpenDocumentSpreadsheet, name: str, header: Sequence[Sequence[Cell]],
           rows: Iterable[Sequence[Cell]], bold: Style, width: Style) -> None:
    table = Table(name=name)
    for _ in range(max((len(h) for h in header), default=0)):
        table.addElement(TableColumn(stylename=width))
    for values in header:
        table.addElement(_row(values, bold))
    for values in rows:
        table.addElement(_row(values))
    doc.spreadsheet.addElement(table)


def _styles(doc: OpenDocumentSpreadsheet | OpenDocumentText) -> tuple[Style, Style]:
    bold = Style(name="Header", family="table-cell")
    bold.addElement(TextProperties(fontweight="bold"))
    width = Style(name="Wide", family="table-column")
    width.addElement(TableColumnProperties(columnwidth="5cm"))
    doc.automaticstyles.addElement(bold)
    doc.automaticstyles.addElement(width)
    return bold, width


def to_ods(flow: Flow, entries: Iterable[Entry], meta: Meta, t: Labels) -> bytes:
    """A summary sheet, then one sheet per volet (repeat blocks flattened like the CSV)."""
    entries, loc = list(entries), meta.locale
    doc = OpenDocumentSpreadsheet()
    bold, width = _styles(doc)
    taken: set[str] = set()
    titles = [volet_title(flow, v.id, loc) for v in flow.volets]
    summary_header = [*meta_labels(t, loc), t(loc, "jury.export.name"), *titles,
                      t(loc, "jury.export.intact")]
    summary_rows = [[*_typed_meta(meta_cells(e, t, loc, plain=True)), e.name,
                     *(_progress(completeness(flow, e.snapshot.answers).get(v.id, (0, 0)), t, loc)
                       for v in flow.volets),
                     t(loc, "common.yes" if e.intact else "common.no")] for e in entries]
    _sheet(doc, _sheet_name(t(loc, "jury.export.summary"), taken), [summary_header], summary_rows,
           bold, width)
    cols = columns(flow, entries, t, loc)
    for volet, title in zip(flow.volets, titles):
        own = [c for c in cols if c.volet == volet.id]
        header = [[t(loc, "jury.export.meta.candidature"), t(loc, "jury.export.name"), *(c.label for c in own)],
                  ["candidature", "name", *(c.key for c in own)]]
        rows = [[e.candidature, e.name, *(cell(flow, e, c.key, t, loc, plain=True) for c in own)]
                for e in entries]
        _sheet(doc, _sheet_name(title, taken), header, rows, bold, width)
    buffer = io.BytesIO()
    doc.write(buffer)
    return buffer.getvalue()


def _typed_meta(cells: list[Cell]) -> list[Cell | datetime]:
    """The submission instant (4th meta cell, ISO 8601 in UTC) as a date cell."""
    out: list[Cell | datetime] = list(cells)
    try:
        out[3] = datetime.fromisoformat(str(cells[3]).replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        pass
    return out


def _progress(done: tuple[int, int] | None, t: Labels, locale: str) -> str:
    if done is None:
        return t(locale, "jury.export.not_concerned")
    return f"{done[0]}/{done[1]}"


def to_odt(model: Dossier, meta: Meta, t: Labels) -> bytes:
    """The dossier of one candidature as an ODT document."""
    doc = OpenDocumentText()
    bold, width = _styles(doc)
    note = Style(name="Note", family="paragraph")
    note.addElement(ParagraphProperties(marginbottom="0.2cm"))
    note.addElement(TextProperties(fontstyle="italic"))
    doc.automaticstyles.addElement(note)
    doc.text.addElement(H(outlinelevel=1, text=_xml_safe(model.title)))
    doc.text.addElement(_lines_table("facts", model.facts, bold, width))
    for number, section in enumerate(model.sections, 1):
        doc.text.addElement(H(outlinelevel=2, text=_xml_safe(section.title)))
        if section.note:
            doc.text.addElement(P(stylename=note, text=_xml_safe(section.note)))
        if section.lines:
            doc.text.addElement(_lines_table(f"volet{number}", section.lines, bold, width))
    doc.text.addElement(H(outlinelevel=2, text=t(meta.locale, "jury.dossier.attachments")))
    if not model.attachments:
        doc.text.addElement(P(stylename=note, text=t(meta.locale, "jury.dossier.no_attachment")))
    items = List()
    for line in model.attachments:
        item = ListItem()
        item.addElement(P(text=_xml_safe(f"{line.label} : {line.value}")))
        items.addElement(item)
    if model.attachments:
        doc.text.addElement(items)
    buffer = io.BytesIO()
    doc.write(buffer)
    return buffer.getvalue()


def _lines_table(name: str, lines: Sequence[Line], bold: Style, width: Style) -> Table:
    table = Table(name=name)
    table.addElement(TableColumn(numbercolumnsrepeated=2, stylename=width))
    for line in lines:
        row = TableRow()
        row.addElement(_cell(line.label, bold))
        row.addElement(_cell(line.value))
        table.addElement(row)
    return table
