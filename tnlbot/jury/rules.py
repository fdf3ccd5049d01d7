"""The jury's copy of a candidature: frozen snapshots and the exports built from them.

How this file works:
- A submission is frozen as a `Snapshot`: the applicable answers, the texts of
  the questions as they were asked (in the applicant's language), the flow id
  and version, who submitted and who confirmed, and the instants (ISO, UTC).
  People appear only as person ids, so erasing someone's identity never
  touches a frozen snapshot nor breaks its hash.
- `canonical` is the one serialisation (JSON, keys sorted, no spaces, UTF-8)
  and `digest` its SHA-256: the same bytes are stored and hashed, so anyone
  can check a snapshot with a JSON library and sha256sum.
- Exports use snapshots only. `columns` lays out one column per answer key in
  flow order: `volet:<id>` (concerned or not) opens an optional volet, `q.other`
  follows `q`, a repeat block `r` gives its item count `r` then `r[0].s`,
  `r[0].t`, `r[1].s`... up to the largest item count in the export.
- Text cells that a spreadsheet would read as a formula (= + - @ tab CR) get a
  leading apostrophe, in CSV and in ODS.
- Pure: no files, no SQL, no clock; data in, bytes or text out. The JSON,
  ODS and dossier documents are rendered by tnlbot/jury/documents.py and
  opendocument.py (pure as well) from the model defined here.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from enum import Enum
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ..core.flow import JSON, Flow, Kind, Question, QuestionText
from ..core.kinds import KINDS, Export
from ..core.walk import is_answered, slots

FORMAT = "tnlbot.submission/1"
EXPORT_FORMAT = "tnlbot.jury-export/1"
NAME_KEY = "nom_collectivite"
Labels = Callable[..., str]   # t(locale, key, **params), as i18n.Catalog


# ---------------------------------------------------------------- snapshot

@dataclass(frozen=True, slots=True)
class Snapshot:
    candidature: int
    version: int
    flow: str
    flow_version: int
    answers: Mapping[str, JSON]
    locale: str = "fr"
    title: str = ""
    volets: Mapping[str, str] = field(default_factory=dict)          # id -> title as shown
    questions: Mapping[str, QuestionText] = field(default_factory=dict)
    submitted_by: int | None = None    # the candidature's responsible
    confirmed_by: int | None = None    # who answered "yes" to the confirmation
    contributors: tuple[int, ...] = ()  # everyone whose answer is in the snapshot
    started_at: str = ""
    last_change_at: str = ""
    submitted_at: str = ""
    confirmed_at: str = ""
    # answers a change of the flow set aside before this submission: {key, reason, shown, on}
    aside: tuple[Mapping[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        questions = {qid: _text_json(text) for qid, text in self.questions.items()}
        return {"format": FORMAT, "candidature": self.candidature, "version": self.version,
                "flow": self.flow, "flow_version": self.flow_version, "locale": self.locale,
                "answers": dict(self.answers),
                "texts": {"title": self.title, "volets": dict(self.volets), "questions": questions},
                "submitted_by": self.submitted_by, "confirmed_by": self.confirmed_by,
                "contributors": list(self.contributors), "started_at": self.started_at,
                "last_change_at": self.last_change_at, "submitted_at": self.submitted_at,
                "confirmed_at": self.confirmed_at, **({"aside": [dict(a) for a in self.aside]} if self.aside else {})}

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> "Snapshot":
        """Read a stored snapshot (also the first, answers-only format)."""
        texts = raw.get("texts") or {}
        questions = {qid: QuestionText(t.get("text", ""), t.get("help", ""), t.get("unit", ""),
                                       t.get("other", ""), t.get("item", ""), t.get("choices") or {})
                     for qid, t in (texts.get("questions") or {}).items()}
        return Snapshot(int(raw.get("candidature") or 0), int(raw.get("version") or 0),
                        str(raw.get("flow", "")), int(raw.get("flow_version") or 0),
                        dict(raw.get("answers") or {}), str(raw.get("locale") or "fr"),
                        str(texts.get("title", "")), dict(texts.get("volets") or {}), questions,
                        raw.get("submitted_by"), raw.get("confirmed_by"),
                        tuple(raw.get("contributors") or ()), str(raw.get("started_at", "")),
                        str(raw.get("last_change_at", "")), str(raw.get("submitted_at", "")),
                        str(raw.get("confirmed_at", "")), tuple(raw.get("aside") or ()))


def _text_json(text: QuestionText) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text.text}
    for name in ("unit", "other", "item"):
        if getattr(text, name):
            out[name] = getattr(text, name)
    if text.choices:
        out["choices"] = dict(text.choices)
    return out


def split_key(key: str) -> tuple[str, str, int, bool]:
    """`r[2].s.other` -> ("s", "r", 2, True); `q` -> ("q", "", -1, False)."""
    other = key.endswith(".other")
    base = key[: -len(".other")] if other else key
    match = re.fullmatch(r"([^\[\]]+)\[(\d+)\]\.(.+)", base)
    if match:
        return match.group(3), match.group(1), int(match.group(2)), other
    return base, "", -1, other


def build_snapshot(flow: Flow, answers: Mapping[str, JSON], *, candidature: int, version: int,
                   locale: str, submitted_by: int | None, confirmed_by: int | None,
                   contributors: Iterable[int] = (), started_at: str = "",
                   last_change_at: str = "", submitted_at: str = "") -> Snapshot:
    """Freeze a submission with the texts of the questions as they were asked."""
    texts = flow.text(locale)
    ids: set[str] = set()
    for key in answers:
        if not key.startswith("volet:"):
            question, parent, _, _ = split_key(key)
            ids.update(i for i in (question, parent) if i)
    questions = {qid: texts.questions[qid] for qid in sorted(ids) if qid in texts.questions}
    return Snapshot(candidature, version, flow.id, flow.version, dict(answers),
                    locale if locale in flow.texts else "fr", texts.title,
                    {v.id: texts.volets[v.id].title for v in flow.volets if v.id in texts.volets},
                    questions, submitted_by, confirmed_by, tuple(sorted(set(contributors))),
                    started_at, last_change_at, submitted_at, submitted_at)


def canonical(snapshot: Snapshot | Mapping[str, Any]) -> bytes:
    raw = snapshot.to_json() if isinstance(snapshot, Snapshot) else snapshot
    return json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def intact(stored: str, sha256: str) -> bool:
    """True when the stored text still has the hash recorded with it."""
    return digest(stored) == sha256


# ---------------------------------------------------------------- order, diff

def _positions(flow: Flow) -> dict[str, int]:
    order: list[str] = []
    for volet in flow.volets:
        order.append("volet:" + volet.id)
        for q in volet.questions:
            order.append(q.id)
            order.extend(sub.id for sub in q.questions)
    return {name: index for index, name in enumerate(order)}


def key_order(flow: Flow) -> Callable[[str], tuple[Any, ...]]:
    """A sort key putting answer keys in flow order (items in order, other last)."""
    positions = _positions(flow)
    end = len(positions)

    def order(key: str) -> tuple[Any, ...]:
        if key.startswith("volet:"):
            return (positions.get(key, end), -1, -1, False, key)
        question, parent, item, other = split_key(key)
        if parent:
            return (positions.get(parent, end), item, positions.get(question, end), other, key)
        return (positions.get(question, end), -1, -1, other, key)
    return order


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    before: JSON
    after: JSON


def diff(flow: Flow, before: Mapping[str, JSON], after: Mapping[str, JSON]) -> tuple[Change, ...]:
    """What changed between two versions' answers, in flow order."""
    keys = sorted(set(before) | set(after), key=key_order(flow))
    return tuple(Change(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k))


# ---------------------------------------------------------------- display

def question_text(flow: Flow, snapshot: Snapshot | None, qid: str, locale: str,
                  as_asked: bool = False) -> QuestionText | None:
    """The text of a question: as asked (from the snapshot) or in `locale`."""
    asked = snapshot.questions.get(qid) if snapshot is not None else None
    current = flow.text(locale).questions.get(qid)
    return (asked or current) if as_asked else (current or asked)


def key_label(flow: Flow, snapshot: Snapshot | None, key: str, t: Labels, locale: str,
              as_asked: bool = False) -> str:
    if key.startswith("volet:"):
        vid = key[len("volet:"):]
        title = (snapshot.volets.get(vid, "") if snapshot and as_asked else "") or volet_title(flow, vid, locale)
        return t(locale, "jury.export.concerned", title=title)
    question, parent, item, other = split_key(key)
    text = question_text(flow, snapshot, question, locale, as_asked)
    label = (text.other or t(locale, "jury.export.other", question=text.text)) if text and other \
        else (text.text if text else key)
    if parent:
        holder = question_text(flow, snapshot, parent, locale, as_asked)
        label = f"{holder.item if holder and holder.item else parent} {item + 1} · {label}"
    return label


def volet_title(flow: Flow, volet_id: str, locale: str) -> str:
    found = flow.text(locale).volets.get(volet_id)
    return found.title if found else volet_id


def show(flow: Flow, snapshot: Snapshot | None, key: str, value: JSON, t: Labels, locale: str,
         as_asked: bool = False) -> str:
    """A value as a person reads it: labels for choices, oui/non, file names."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return t(locale, "common.yes" if value else "common.no")
    question, _, _, other = split_key(key)
    text = None if other or key.startswith("volet:") else question_text(flow, snapshot, question, locale, as_asked)
    q = flow.questions.get(question)
    if isinstance(value, dict):
        size = str(max(1, int(value.get("size", 0) or 0) // 1000))
        return t(locale, "jury.export.file", name=str(value.get("name", "")), size=size)
    if isinstance(value, list):
        return "; ".join(_choice(text, v) for v in value)
    if text is not None and text.choices:
        return _choice(text, value)
    unit = text.unit if text is not None and q is not None and q.unit else ""
    return f"{value} {unit}".strip() if unit and q is not None and q.kind is not Kind.REPEAT else str(value)


def _choice(text: QuestionText | None, value: JSON) -> str:
    return text.choices.get(str(value), str(value)) if text is not None else str(value)


_NUMBER = re.compile(r"-?\d+([.,]\d+)?")


def neutralise(text: str) -> str:
    """Keep a spreadsheet from reading a text cell as a formula."""
    if text and text[0] in "=+-@\t\r" and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


# ---------------------------------------------------------------- entries, table

@dataclass(frozen=True, slots=True)
class Version:
    version: int
    submitted_at: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One candidature in an export: its last snapshot before the closing."""
    candidature: int
    status: str
    sha256: str
    intact: bool
    snapshot: Snapshot
    names: Mapping[int, str] = field(default_factory=dict)   # person id -> name now ("" if erased)
    versions: tuple[Version, ...] = ()
    submitted_local: str = ""

    @property
    def name(self) -> str:
        return str(self.snapshot.answers.get(NAME_KEY) or f"#{self.candidature}")

    def person(self, person_id: int | None, t: Labels, locale: str) -> str:
        if person_id is None:
            return ""
        return self.names.get(person_id) or t(locale, "jury.export.erased", id=str(person_id))


@dataclass(frozen=True, slots=True)
class Meta:
    campaign: str
    year: int
    generated_at: str
    locale: str = "fr"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    volet: str
    label: str


Cell = str | int | float
META_KEYS = ("candidature", "status", "version", "submitted_at", "submitted_by", "sha256", "flow")


def columns(flow: Flow, entries: Iterable[Entry], t: Labels, locale: str) -> tuple[Column, ...]:
    entries = list(entries)
    out: list[Column] = []

    def add(key: str, volet: str) -> None:
        out.append(Column(key, volet, key_label(flow, None, key, t, locale)))

    for volet in flow.volets:
        if volet.optional:
            add("volet:" + volet.id, volet.id)
        for q in volet.questions:
            if KINDS[q.kind].export is Export.NONE:
                continue
            add(q.id, volet.id)
            if q.other:
                add(q.id + ".other", volet.id)
            if q.kind is Kind.REPEAT:
                _repeat_columns(q, entries, volet.id, add)
    known = {c.key for c in out}
    extra = {k for e in entries for k in e.snapshot.answers if k not in known and not _repeat_key(flow, k)}
    for key in sorted(extra, key=key_order(flow)):   # answers of an older flow version
        add(key, flow.questions[split_key(key)[0]].volet if split_key(key)[0] in flow.questions else "")
    return tuple(out)


def _repeat_key(flow: Flow, key: str) -> bool:
    question, parent, _, _ = split_key(key)
    return bool(parent) and parent in flow.questions and question in flow.questions


def _repeat_columns(q: Question, entries: list[Entry], volet: str, add: Callable[[str, str], None]) -> None:
    count = max((_count(e.snapshot.answers.get(q.id)) for e in entries), default=0)
    for index in range(count):
        for sub in q.questions:
            if KINDS[sub.kind].export is Export.NONE:
                continue
            add(f"{q.id}[{index}].{sub.id}", volet)
            if sub.other:
                add(f"{q.id}[{index}].{sub.id}.other", volet)


def _count(value: JSON) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def cell(flow: Flow, entry: Entry, key: str, t: Labels, locale: str, *, plain: bool = False) -> Cell:
    """The spreadsheet value of one answer: numbers stay numbers, text is neutralised for CSV
    (`plain`: as is, for typed spreadsheet cells that can never be formulas)."""
    value = entry.snapshot.answers.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    q = flow.questions.get(split_key(key)[0])
    if isinstance(value, str) and q is not None and KINDS[q.kind].export is Export.DECIMAL \
            and not key.endswith(".other") and _NUMBER.fullmatch(value):
        number = float(value.replace(",", "."))
        return int(number) if number.is_integer() else number
    shown = show(flow, entry.snapshot, key, value, t, locale)
    return shown if plain else neutralise(shown)


def meta_cells(entry: Entry, t: Labels, locale: str, *, plain: bool = False) -> list[Cell]:
    s = entry.snapshot
    person = entry.person(s.submitted_by, t, locale)
    return [entry.candidature, t(locale, f"jury.status.{entry.status}"), s.version, s.submitted_at,
            person if plain else neutralise(person), entry.sha256, f"{s.flow} v{s.flow_version}"]


def meta_labels(t: Labels, locale: str) -> list[str]:
    return [t(locale, f"jury.export.meta.{key}") for key in META_KEYS]


class CsvDialect(str, Enum):
    """SPREADSHEET (the default everywhere): UTF-8 with a BOM and semicolons, what a French
    spreadsheet (Excel, LibreOffice) opens right on a double-click. RFC4180: UTF-8 without a
    BOM, commas, for programs."""
    SPREADSHEET = "spreadsheet"
    RFC4180 = "rfc4180"


def to_csv(flow: Flow, entries: Iterable[Entry], meta: Meta, t: Labels, *,
           dialect: CsvDialect = CsvDialect.SPREADSHEET) -> bytes:
    """One row per candidature, one column per answer key (header: the keys)."""
    entries = list(entries)
    cols = columns(flow, entries, t, meta.locale)
    buffer = io.StringIO()
    bom = dialect is CsvDialect.SPREADSHEET
    writer = csv.writer(buffer, delimiter=";" if bom else ",", lineterminator="\r\n")
    writer.writerow([*META_KEYS, *(c.key for c in cols)])
    def comma(value: Cell) -> Cell:
        return str(value).replace(".", ",") if bom and isinstance(value, float) else value
    for entry in entries:           # a French spreadsheet reads 6,5 as a number, 6.5 as text
        writer.writerow([*meta_cells(entry, t, meta.locale),
                         *(comma(cell(flow, entry, c.key, t, meta.locale)) for c in cols)])
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


# ---------------------------------------------------------------- completeness

def completeness(flow: Flow, answers: Mapping[str, JSON]) -> dict[str, tuple[int, int] | None]:
    """Per volet: (answered, applicable) places, or None when not concerned."""
    out: dict[str, tuple[int, int] | None] = {}
    for slot in slots(flow, answers):
        if slot.part in ("adder", "concerned"):
            if slot.part == "concerned" and answers.get(slot.key) is False:
                out[slot.volet.id] = None
            continue
        if slot.question is not None and slot.question.kind is Kind.NOTICE:
            continue
        done, total = out.get(slot.volet.id) or (0, 0)
        out[slot.volet.id] = (done + is_answered(slot, answers), total + 1)
    return out


# ---------------------------------------------------------------- helpers

def volet_of(flow: Flow, key: str) -> str:
    if key.startswith("volet:"):
        return key[len("volet:"):]
    question, parent, _, _ = split_key(key)
    q = flow.questions.get(parent or question)
    return q.volet if q is not None else ""


def attachments(snapshot: Snapshot) -> list[tuple[str, dict[str, Any]]]:
    """File answers: (key, {name, mime, size}) in flow-independent key order."""
    return [(k, {"name": str(v.get("name", "")), "mime": str(v.get("mime", "")),
                 "size": int(v.get("size", 0) or 0)})
            for k, v in sorted(snapshot.answers.items()) if isinstance(v, dict)]


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe ASCII form of a name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()
    return cleaned[:limit].strip("-") or "candidature"
