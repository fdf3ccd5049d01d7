"""Read flows/*.yaml, validate them and build the frozen `core.flow` model.

Every problem is reported as `file: path: reason`, all at once, so an
operator fixes a flow in one pass (`tnlbot check-flows`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import yaml

from .core.flow import (All, Answered, AnyOf, Compare, Condition, Equals, Flow, FlowTexts, Kind, Not,
                        OneOf, Question, QuestionText, Volet, VoletText)
from .core.kinds import CHOICE_KINDS, KINDS, NUMBER_KINDS, kind_named, unknown
from .bundled import bundled
from .i18n import SAFE_LOADER

BUNDLED = bundled("flows")
_ID = re.compile(r"[a-z][a-z0-9_]{0,62}")
_QUESTION_KEYS = {"id", "kind", "required", "when", "choices", "other", "min_length",
                  "max_length", "min", "max", "min_choices", "max_choices", "formats",
                  "max_size_mb", "unit", "min_items", "max_items", "questions"}


class FlowError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class _Checker:
    file: str
    problems: list[str] = field(default_factory=list)

    def fail(self, path: str, reason: str) -> None:
        self.problems.append(f"{self.file}: {path}: {reason}")


_PARSED: dict[Path, tuple[str, Any]] = {}    # path -> (text, its YAML); never changed by readers


def _parsed(path: Path) -> Any:
    """A file's YAML, parsed once per content: the flow versions noted at start read the
    files the flows were just loaded from."""
    text = path.read_text(encoding="utf-8")
    found = _PARSED.get(path)
    if found is not None and found[0] == text:
        return found[1]
    data = yaml.load(text, Loader=SAFE_LOADER)
    _PARSED[path] = (text, data)
    return data


def _read_yaml(path: Path, problems: list[str]) -> Any:
    try:
        return _parsed(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{path.name}: (file): cannot be read: {str(exc).splitlines()[0]}")
        return None


def _number(check: _Checker, path: str, raw: Any) -> Decimal | None:
    if raw is None:
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        check.fail(path, f"not a number: {raw!r}")
        return None


def _int(check: _Checker, path: str, raw: dict, key: str, default: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        check.fail(f"{path}.{key}" if path else key, f"not a whole number: {value!r}")
        return default
    return value


class _Builder:
    """Builds questions in order, knowing which ids came earlier."""

    def __init__(self, check: _Checker):
        self.check = check
        self.seen: dict[str, Question] = {}

    def condition(self, raw: Any, path: str, local: dict[str, Question]) -> Condition | None:
        if not isinstance(raw, dict) or len(raw) != 1:
            self.check.fail(path, "a condition is a mapping with exactly one operator")
            return None
        (op, arg), = raw.items()
        if op in ("all", "any"):
            if not isinstance(arg, list) or not arg:
                self.check.fail(f"{path}.{op}", "expects a non-empty list of conditions")
                return None
            read = [self.condition(c, f"{path}.{op}[{i}]", local) for i, c in enumerate(arg)]
            items = tuple(c for c in read if c is not None)
            if len(items) != len(read):
                return None
            return All(items) if op == "all" else AnyOf(items)
        if op == "not":
            inner = self.condition(arg, f"{path}.not", local)
            return Not(inner) if inner else None
        if op == "answered":
            return Answered(arg) if self._ref(arg, f"{path}.answered", local) else None
        if op in ("equals", "one_of", "greater_than", "less_than"):
            return self._compare(op, arg, f"{path}.{op}", local)
        self.check.fail(path, f"unknown condition operator {op!r}")
        return None

    def _ref(self, qid: Any, path: str, local: dict[str, Question]) -> Question | None:
        q = local.get(qid) if isinstance(qid, str) else None
        q = q or (self.seen.get(qid) if isinstance(qid, str) else None)
        if q is None:
            self.check.fail(path, f"refers to {qid!r}, which is not an earlier question")
        return q

    def _compare(self, op: str, arg: Any, path: str, local: dict[str, Question]) -> Condition | None:
        if not isinstance(arg, dict) or "question" not in arg:
            self.check.fail(path, "expects {question: ..., value(s): ...}")
            return None
        q = self._ref(arg["question"], f"{path}.question", local)
        if q is None:
            return None
        if op == "one_of":
            values = arg.get("values")
            if not isinstance(values, list) or not values:
                self.check.fail(f"{path}.values", "expects a non-empty list")
                return None
            for v in values:
                self._choice_exists(q, v, f"{path}.values")
            return OneOf(q.id, tuple(str(v) for v in values))
        if "value" not in arg:
            self.check.fail(path, "missing 'value'")
            return None
        value = arg["value"]
        if op == "equals":
            if q.kind in CHOICE_KINDS:
                self._choice_exists(q, value, f"{path}.value")
            return Equals(q.id, value)
        number = _number(self.check, f"{path}.value", value)
        if number is None:
            return None
        if q.kind not in NUMBER_KINDS:
            self.check.fail(path, f"compares {q.id!r}, which is not a number question")
        return Compare(q.id, number, greater=(op == "greater_than"))

    def _choice_exists(self, q: Question, value: Any, path: str) -> None:
        if q.kind in CHOICE_KINDS and value not in q.choices:
            self.check.fail(path, f"{value!r} is not a choice of {q.id!r}")

    def question(self, raw: Any, path: str, volet: str, parent: str,
                 local: dict[str, Question]) -> Question | None:
        if not isinstance(raw, dict):
            self.check.fail(path, "a question is a mapping")
            return None
        qid = raw.get("id")
        if not isinstance(qid, str) or not _ID.fullmatch(qid):
            self.check.fail(f"{path}.id", f"missing or invalid id {qid!r} (lower-case letters, digits, _)")
            return None
        path = f"{path}({qid})"
        if qid in self.seen or qid in local:
            self.check.fail(path, f"duplicate question id {qid!r}")
        for key in raw:
            if key not in _QUESTION_KEYS:
                self.check.fail(f"{path}.{key}", "unknown key")
        kind = kind_named(raw.get("kind"))
        if kind is None:
            self.check.fail(f"{path}.kind", unknown(raw.get("kind")))
            return None
        when = self.condition(raw["when"], f"{path}.when", local) if "when" in raw else None
        q = self._build(raw, path, qid, kind, volet, parent, when)
        if parent:
            local[qid] = q
        else:
            self.seen[qid] = q
        return q

    def _build(self, raw: dict, path: str, qid: str, kind: Kind, volet: str,
               parent: str, when: Condition | None) -> Question:
        raw_choices = raw.get("choices") or ()
        for c in raw_choices:
            if isinstance(c, bool) or c is None:
                self.check.fail(f"{path}.choices", f"choice {c!r} is not text: quote it (YAML reads yes/no/on/off as true/false)")
        choices = tuple(str(c) for c in raw_choices)
        if kind in CHOICE_KINDS and len(choices) < 2:
            self.check.fail(f"{path}.choices", "a choice question needs at least two choices")
        if len(set(choices)) != len(choices):
            self.check.fail(f"{path}.choices", "duplicate choice")
        other = str(raw.get("other") or "")
        if other and other not in choices:
            self.check.fail(f"{path}.other", f"{other!r} is not one of the choices")
        subs: tuple[Question, ...] = ()
        if kind is Kind.REPEAT:
            if parent:
                self.check.fail(path, "a repeat block cannot be inside another")
            local: dict[str, Question] = {}
            items = raw.get("questions") or []
            if not items:
                self.check.fail(f"{path}.questions", "a repeat block needs sub-questions")
            built = [self.question(s, f"{path}.questions[{i}]", volet, qid, local) for i, s in enumerate(items)]
            subs = tuple(s for s in built if s is not None)
            for sub in subs:
                self.seen[sub.id] = sub
        if kind is Kind.DATE:
            for key in ("min", "max"):
                if key in raw and not _date_bound(raw[key]):
                    self.check.fail(f"{path}.{key}", f"not a date (YYYY-MM-DD) nor {' or '.join(CAMPAIGN_BOUNDS)}: "
                                    f"{raw[key]!r}")
        default_max = KINDS[kind].max_length
        return Question(
            id=qid, kind=kind, volet=volet, required=bool(raw.get("required", False)), when=when,
            choices=choices, other=other, min_length=_int(self.check, path, raw, "min_length", 1),
            max_length=min(_int(self.check, path, raw, "max_length", default_max), 4000),
            minimum=_number(self.check, f"{path}.min", raw.get("min")) if kind is not Kind.DATE else None,
            maximum=_number(self.check, f"{path}.max", raw.get("max")) if kind is not Kind.DATE else None,
            min_date=str(raw.get("min", "")) if kind is Kind.DATE else "",
            max_date=str(raw.get("max", "")) if kind is Kind.DATE else "",
            min_choices=_int(self.check, path, raw, "min_choices", 0),
            max_choices=_int(self.check, path, raw, "max_choices", 0),
            formats=tuple(str(f).lower() for f in raw.get("formats") or ()),
            max_size=int(Decimal(str(raw.get("max_size_mb", 10))) * 1_000_000) if kind is Kind.FILE else 0,
            unit=bool(raw.get("unit", False)), min_items=_int(self.check, path, raw, "min_items", 0),
            max_items=_int(self.check, path, raw, "max_items", 50), questions=subs, parent=parent)


CAMPAIGN_BOUNDS = ("campaign.opens", "campaign.closes")
EDITION = "{edition}"      # in a title or intro: the flow's edition (its year)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def _date_bound(raw: Any) -> bool:
    """A date bound is an ISO date, or the day the campaign opens or closes."""
    if str(raw) in CAMPAIGN_BOUNDS or isinstance(raw, date):
        return True
    try:
        date.fromisoformat(str(raw))
    except ValueError:
        return False
    return True


class FlowWarning(NamedTuple):
    """Something `check-flows` points out without refusing the flow: a catalog key
    (flowbook.check.*) and its values."""
    key: str
    values: tuple[tuple[str, str], ...]


def dated_warnings(flow: Flow, today: date) -> list[FlowWarning]:
    """Bounds that were right for a past edition: a fixed latest date already past (write
    `max: campaign.closes`), year choices that stop before last year, a title naming
    another year than the flow's edition (write {edition})."""
    found = []
    for locale, texts in flow.texts.items():
        stale = sorted({y for y in _YEAR.findall(texts.title) if int(y) != flow.edition})
        if stale and flow.edition:
            found.append(FlowWarning("flowbook.check.title_year", (("language", locale), ("years", ", ".join(stale)),
                                                               ("edition", str(flow.edition)), ("marker", EDITION))))
    for q in flow.questions.values():
        if q.kind is Kind.DATE and q.max_date and q.max_date not in CAMPAIGN_BOUNDS \
                and q.max_date < today.isoformat():
            found.append(FlowWarning("flowbook.check.date_passed", (("question", q.id), ("date", q.max_date))))
        years = [int(c) for c in q.choices if c.isascii() and c.isdigit() and len(c) == 4]
        if years and len(years) == len(q.choices) and max(years) < today.year - 1:
            found.append(FlowWarning("flowbook.check.years_stop", (("question", q.id), ("year", str(max(years))))))
    return found


def _structure(path: Path, raw: Any, check: _Checker) -> tuple[dict, list[Volet], dict[str, Question]]:
    if not isinstance(raw, dict):
        check.fail("(root)", "the file must hold a mapping")
        return {}, [], {}
    if raw.get("id") != path.stem:
        check.fail("id", f"must equal the file name {path.stem!r}, not {raw.get('id')!r}")
    for key in ("version", "edition"):
        _int(check, "", raw, key, 1)
    builder = _Builder(check)
    volets: list[Volet] = []
    volet_ids: set[str] = set()
    for vi, vraw in enumerate(raw.get("volets") or []):
        vpath = f"volets[{vi}]"
        vid = vraw.get("id") if isinstance(vraw, dict) else None
        if not isinstance(vid, str) or not _ID.fullmatch(vid):
            check.fail(f"{vpath}.id", f"missing or invalid volet id {vid!r}")
            continue
        if vid in volet_ids:
            check.fail(f"{vpath}.id", f"duplicate volet id {vid!r}")
        volet_ids.add(vid)
        when = builder.condition(vraw["when"], f"{vpath}({vid}).when", {}) if "when" in vraw else None
        qs = [builder.question(q, f"{vpath}({vid}).questions[{qi}]", vid, "", {})
              for qi, q in enumerate(vraw.get("questions") or [])]
        if not qs:
            check.fail(f"{vpath}({vid}).questions", "a volet needs at least one question")
        volets.append(Volet(vid, tuple(q for q in qs if q), bool(vraw.get("optional", False)), when))
    if not volets:
        check.fail("volets", "a flow needs at least one volet")
    return raw, volets, builder.seen


def _texts(path: Path, raw: Any, volets: list[Volet], questions: dict[str, Question],
           problems: list[str]) -> FlowTexts | None:
    check = _Checker(path.name, problems)
    if not isinstance(raw, dict):
        check.fail("(root)", "the file must hold a mapping")
        return None
    for key in ("title",):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            check.fail(key, "missing text")
    vtexts: dict[str, VoletText] = {}
    for volet in volets:
        vraw = (raw.get("volets") or {}).get(volet.id)
        if not isinstance(vraw, dict) or not vraw.get("title"):
            check.fail(f"volets.{volet.id}.title", "missing text")
            continue
        vtexts[volet.id] = VoletText(str(vraw["title"]), str(vraw.get("intro") or "").strip())
    qtexts: dict[str, QuestionText] = {}
    for qid, q in questions.items():
        qraw = (raw.get("questions") or {}).get(qid)
        if not isinstance(qraw, dict) or not qraw.get("text"):
            check.fail(f"questions.{qid}.text", "missing text")
            continue
        qtexts[qid] = _question_text(check, qid, q, qraw)
    for extra in set(raw.get("questions") or {}) - set(questions):
        check.fail(f"questions.{extra}", "text for a question the flow does not have")
    return FlowTexts(str(raw.get("title", "")), str(raw.get("intro") or "").strip(),
                     MappingProxyType(vtexts), MappingProxyType(qtexts))


def _named(texts: FlowTexts, edition: Any) -> FlowTexts:
    """The title and intro name the flow's edition where they say {edition}: the year is
    written once, in the flow, never in each language's title."""
    def named(text: str) -> str:
        return text.replace(EDITION, str(edition)) if EDITION in text else text
    return replace(texts, title=named(texts.title), intro=named(texts.intro))


def _question_text(check: _Checker, qid: str, q: Question, qraw: dict) -> QuestionText:
    choices = qraw.get("choices") or {}
    for choice in q.choices:
        if not isinstance(choices, dict) or not choices.get(choice):
            check.fail(f"questions.{qid}.choices.{choice}", "missing text")
    needed = [("other", bool(q.other)), ("unit", q.unit), ("item", q.kind is Kind.REPEAT)]
    for key, wanted in needed:
        if wanted and not qraw.get(key):
            check.fail(f"questions.{qid}.{key}", "missing text")
    return QuestionText(str(qraw["text"]).strip(), str(qraw.get("help") or "").strip(),
                        str(qraw.get("unit") or ""), str(qraw.get("other") or ""),
                        str(qraw.get("item") or ""),
                        MappingProxyType({str(k): str(v) for k, v in (choices or {}).items()}))


def load_flow(path: Path, locales: tuple[str, ...] = ("fr", "en")) -> Flow:
    """Load one flow (structure + one text file per locale) or raise FlowError."""
    problems: list[str] = []
    raw = _read_yaml(path, problems)
    texts: dict[str, Any] = {}
    for locale in locales:
        tpath = path.with_name(f"{path.stem}.{locale}.yaml")
        if not tpath.exists():
            problems.append(f"{tpath.name}: (file): missing: every flow needs a text file per language")
            continue
        texts[locale] = _read_yaml(tpath, problems)
    return build_flow(path.stem, raw, texts, problems)


def build_flow(name: str, raw: Any, raw_texts: dict[str, Any], problems: list[str] | None = None) -> Flow:
    """Build one flow from its parsed structure and texts (per locale) or raise FlowError.

    Problems name the files `<name>.yaml` and `<name>.<locale>.yaml`.
    """
    problems = [] if problems is None else problems
    path = Path(f"{name}.yaml")
    raw, volets, questions = _structure(path, raw, _Checker(path.name, problems))
    texts: dict[str, FlowTexts] = {}
    for locale, traw in raw_texts.items():
        built = _texts(path.with_name(f"{name}.{locale}.yaml"), traw, volets, questions, problems)
        if built is not None:
            texts[locale] = _named(built, raw.get("edition", 0))
    if problems:
        raise FlowError(problems)
    grading = raw.get("grading") or {}
    return Flow(id=str(raw["id"]), version=int(raw.get("version", 1)),
                edition=int(raw.get("edition", 0)), track=str(raw.get("track", "label")),
                grading_kind=str(grading.get("kind", "levels")),
                grading_values=tuple(str(v) for v in grading.get("values", ("1", "2", "3", "4", "5"))),
                volets=tuple(volets), texts=MappingProxyType(texts),
                questions=MappingProxyType(dict(questions)))


def flow_files(folder: Path = BUNDLED) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.stem.count(".") == 0)


def load_all(folder: Path = BUNDLED, locales: tuple[str, ...] = ("fr", "en")) -> dict[str, Flow]:
    flows: dict[str, Flow] = {}
    problems: list[str] = []
    for path in flow_files(folder):
        try:
            flows[path.stem] = load_flow(path, locales)
        except FlowError as exc:
            problems.extend(exc.problems)
    if problems:
        raise FlowError(problems)
    return flows


def raw_flow_files(folder: Path, flow_id: str,
                   locales: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A flow's structure and texts as their YAML mappings, read as `load_flow` reads them
    (libyaml's loader), without checking them (OSError or yaml.YAMLError when unreadable).
    The mappings may be shared with other readers: never change them."""
    path = folder / f"{flow_id}.yaml"
    return _parsed(path), {lc: _parsed(path.with_name(f"{flow_id}.{lc}.yaml")) for lc in locales}
