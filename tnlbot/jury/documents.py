"""The jury's documents, rendered from snapshots: the JSON export and the dossier.

Pure like tnlbot/jury/rules.py (data in, bytes or text out); kept apart only
to keep modules small. The JSON export carries every snapshot exactly as
stored, so `sha256(canonical(snapshot))` can be checked by anyone; its JSON
Schema ships beside this file (candidature.schema.json).
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..core.flow import Flow
from ..core.kinds import KINDS, Export
from .rules import (EXPORT_FORMAT, Entry, Labels, Meta, attachments, completeness, key_label,
                         key_order, show, split_key, volet_of, volet_title)

SCHEMA_PATH = Path(__file__).resolve().parent / "candidature.schema.json"


# ---------------------------------------------------------------- JSON

def to_json(flow: Flow, entries: Iterable[Entry], meta: Meta, t: Labels) -> bytes:
    """The complete export: every snapshot as stored, plus readable answers."""
    doc = {"format": EXPORT_FORMAT, "campaign": meta.campaign, "year": meta.year,
           "generated_at": meta.generated_at, "locale": meta.locale,
           "flow": {"id": flow.id, "version": flow.version, "edition": flow.edition,
                    "track": flow.track, "grading": {"kind": flow.grading_kind,
                                                     "values": list(flow.grading_values)}},
           "candidatures": [_entry_json(flow, e, t, meta.locale) for e in entries]}
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")


def _entry_json(flow: Flow, entry: Entry, t: Labels, locale: str) -> dict:
    s = entry.snapshot
    order = key_order(flow)
    answers = [{"key": k, "volet": volet_of(flow, k), "question": key_label(flow, s, k, t, locale, True),
                "value": s.answers[k], "display": show(flow, s, k, s.answers[k], t, locale, True)}
               for k in sorted(s.answers, key=order)]
    people = {str(p): entry.person(p, t, locale) for p in {s.submitted_by, s.confirmed_by, *s.contributors}
              if p is not None}
    return {"candidature": entry.candidature, "name": entry.name, "status": entry.status,
            "version": s.version, "submitted_at": s.submitted_at, "sha256": entry.sha256,
            "intact": entry.intact, "people": people,
            "versions": [{"version": v.version, "submitted_at": v.submitted_at, "sha256": v.sha256}
                         for v in entry.versions],
            "completeness": {vid: (list(c) if c else None) for vid, c in completeness(flow, s.answers).items()},
            "attachments": [dict(a, key=k) for k, a in attachments(s)],
            "answers": answers, "snapshot": s.to_json()}


# ---------------------------------------------------------------- dossier

@dataclass(frozen=True, slots=True)
class Line:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    lines: tuple[Line, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Dossier:
    title: str
    facts: tuple[Line, ...]
    sections: tuple[Section, ...]
    attachments: tuple[Line, ...]


def dossier(flow: Flow, entry: Entry, meta: Meta, t: Labels) -> Dossier:
    """A candidature as a person reads it: identity, then each volet's questions and answers."""
    s, loc = entry.snapshot, meta.locale
    facts = [Line(t(loc, "jury.dossier.campaign"), meta.campaign),
             Line(t(loc, "jury.dossier.candidature"), str(entry.candidature)),
             Line(t(loc, "jury.dossier.version"), str(s.version)),
             Line(t(loc, "jury.dossier.flow"), f"{s.flow} v{s.flow_version}"),
             Line(t(loc, "jury.dossier.submitted_at"), entry.submitted_local or s.submitted_at),
             Line(t(loc, "jury.dossier.submitted_by"), entry.person(s.submitted_by, t, loc)),
             Line(t(loc, "jury.dossier.confirmed_by"), entry.person(s.confirmed_by, t, loc)),
             Line(t(loc, "jury.dossier.sha256"), entry.sha256)]
    order = key_order(flow)
    sections = []
    for volet in flow.volets:
        title = s.volets.get(volet.id) or volet_title(flow, volet.id, loc)
        if volet.optional and s.answers.get("volet:" + volet.id) is False:
            sections.append(Section(title, (), t(loc, "jury.dossier.not_concerned")))
            continue
        keys = sorted((k for k in s.answers if volet_of(flow, k) == volet.id
                       and not k.startswith("volet:")), key=order)
        lines = tuple(Line(key_label(flow, s, k, t, loc, True), show(flow, s, k, s.answers[k], t, loc, True))
                      for k in keys if _shown(flow, k))
        sections.append(Section(title, lines, "" if lines else t(loc, "jury.dossier.empty")))
    if s.aside:   # answers a change of the flow set aside, as they were shown then
        sections.append(Section(t(loc, "jury.dossier.aside_title"), tuple(
            Line(t(loc, f"jury.dossier.aside.{a.get('reason', 'withdrawn')}", on=str(a.get("on", ""))),
                 str(a.get("shown", ""))) for a in s.aside)))
    files = tuple(Line(key_label(flow, s, k, t, loc, True),
                       t(loc, "jury.dossier.attachment", name=a["name"], mime=a["mime"] or "?",
                         size=str(max(1, a["size"] // 1000))))
                  for k, a in attachments(s))
    return Dossier(entry.name, tuple(facts), tuple(sections), files)


def _shown(flow: Flow, key: str) -> bool:
    q = flow.questions.get(split_key(key)[0])
    return q is None or KINDS[q.kind].export is not Export.NONE


_CSS = ("body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.4}"
        "th{text-align:left;vertical-align:top;padding-right:1em;width:45%}"
        "td{white-space:pre-wrap}h2{border-bottom:1px solid #888}")


def dossier_html(model: Dossier, locale: str, t: Labels) -> str:
    e = html.escape
    out = [f'<!DOCTYPE html>\n<html lang="{e(locale)}"><head><meta charset="utf-8">',
           f"<title>{e(model.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{e(model.title)}</h1>", _html_table(model.facts)]
    for section in model.sections:
        out.append(f"<h2>{e(section.title)}</h2>")
        if section.note:
            out.append(f"<p><em>{e(section.note)}</em></p>")
        if section.lines:
            out.append(_html_table(section.lines))
    out.append(f"<h2>{e(t(locale, 'jury.dossier.attachments'))}</h2>")
    if model.attachments:
        out.append("<ul>" + "".join(f"<li>{e(a.label)} : {e(a.value)}</li>" for a in model.attachments) + "</ul>")
    else:
        out.append(f"<p><em>{e(t(locale, 'jury.dossier.no_attachment'))}</em></p>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _html_table(lines: Iterable[Line]) -> str:
    e = html.escape
    rows = "".join(f"<tr><th>{e(line.label)}</th><td>{e(line.value)}</td></tr>" for line in lines)
    return f"<table>{rows}</table>"
