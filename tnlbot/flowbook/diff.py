"""Two flows compared: what was added, removed, moved, reworded or changed, and what `/copier` carries over.

Questions are matched by id. A question in both flows may have moved to
another volet (or into or out of a repeat block), changed kind, become
required or optional, changed limits, choices or condition, and be reworded
in some languages. `/copier` (tnlbot.campaigns.lastyear) copies an answer
when its question id exists in the new flow as a top-level question and the
value still fits (a removed choice is left out, a value of another shape is
left out); every copied answer is marked "to check".
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.flow import Flow, Kind, Question
from ..core.kinds import CHOICE_KINDS, SPECS, shape_of
from ..flows import load_flow

LIMITS: dict[Kind, tuple[str, ...]] = {spec.kind: spec.limits for spec in SPECS if spec.limits}
_TEXT_FIELDS = ("text", "help", "unit", "item", "other")


@dataclass(frozen=True, slots=True)
class Change:
    what: str          # added, removed, moved, kind, required, limit, choice_added, choice_removed,
    question: str      # condition, reworded, volet_added, volet_removed
    old: str = ""
    new: str = ""
    locale: str = ""


@dataclass(frozen=True, slots=True)
class Carry:
    question: str
    verdict: str       # copied, copied_but (some choices removed: `detail`), not_copied (`detail`: why)
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FlowDiff:
    old: Flow
    new: Flow
    changes: tuple[Change, ...]
    carries: tuple[Carry, ...]

    def of(self, what: str) -> list[Change]:
        return [c for c in self.changes if c.what == what]


def _where(q: Question) -> str:
    return f"{q.volet}/{q.parent}" if q.parent else q.volet


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    return "" if value is None else str(value)


def _question_changes(a: Question, b: Question, old: Flow, new: Flow) -> list[Change]:
    out: list[Change] = []
    if _where(a) != _where(b):
        out.append(Change("moved", b.id, _where(a), _where(b)))
    if a.kind is not b.kind:
        out.append(Change("kind", b.id, a.kind.value, b.kind.value))
    else:
        for name in LIMITS.get(b.kind, ()):
            before, after = getattr(a, name), getattr(b, name)
            if before != after:
                out.append(Change("limit", b.id, f"{name}={_show(before)}", f"{name}={_show(after)}"))
    if a.required != b.required:
        out.append(Change("required", b.id, str(a.required).lower(), str(b.required).lower()))
    out += [Change("choice_added", b.id, new=c) for c in b.choices if c not in a.choices]
    out += [Change("choice_removed", b.id, old=c) for c in a.choices if c not in b.choices]
    if a.when != b.when:
        out.append(Change("condition", b.id))
    for locale in new.texts:
        if locale in old.texts:
            out += _reworded(a, b, old, new, locale)
    return out


def _reworded(a: Question, b: Question, old: Flow, new: Flow, locale: str) -> list[Change]:
    ta, tb = old.texts[locale].questions[a.id], new.texts[locale].questions[b.id]
    parts = [f for f in _TEXT_FIELDS if getattr(ta, f) != getattr(tb, f)]
    parts += [f"choices.{c}" for c in b.choices if c in ta.choices and ta.choices[c] != tb.choices.get(c)]
    return [Change("reworded", b.id, new=", ".join(parts), locale=locale)] if parts else []


def _carry(a: Question, b: Question) -> Carry:
    if b.parent != a.parent:
        return Carry(b.id, "not_copied", "repeat")
    if b.parent:
        return Carry(b.id, "copied")      # copied with its repeat block's items
    if b.kind is Kind.NOTICE:
        return Carry(b.id, "not_copied", "notice")
    if b.kind in CHOICE_KINDS and a.kind is not b.kind or shape_of(a.kind) != shape_of(b.kind):
        return Carry(b.id, "not_copied", "kind")   # as lastyear.copyable: the value must fit the kind
    gone = [c for c in a.choices if c not in b.choices]
    return Carry(b.id, "copied_but", ", ".join(gone)) if gone else Carry(b.id, "copied")


def compare(old: Flow, new: Flow) -> FlowDiff:
    changes: list[Change] = []
    carries: list[Carry] = []
    old_volets, new_volets = [v.id for v in old.volets], [v.id for v in new.volets]
    changes += [Change("volet_added", "", new=v) for v in new_volets if v not in old_volets]
    changes += [Change("volet_removed", "", old=v) for v in old_volets if v not in new_volets]
    for qid, b in new.questions.items():
        a = old.questions.get(qid)
        if a is None:
            changes.append(Change("added", qid, new=_where(b)))
            continue
        changes += _question_changes(a, b, old, new)
        carries.append(_carry(a, b))
    for qid, a in old.questions.items():
        if qid not in new.questions:
            changes.append(Change("removed", qid, old=_where(a)))
            carries.append(Carry(qid, "not_copied", "removed"))
    return FlowDiff(old, new, tuple(changes), tuple(carries))


def _section(t: Any, key: str, items: list[str]) -> list[str]:
    return [t(f"flowbook.diff.{key}", n=str(len(items)))] + [f"  {i}" for i in items] if items else []


def render(diff: FlowDiff, t: Any) -> list[str]:
    """The comparison as lines; `t(key, **params)` says a message in the operator's language."""
    lines = [t("flowbook.diff.title", old=diff.old.id, old_version=str(diff.old.version),
               new=diff.new.id, new_version=str(diff.new.version))]
    simple = {"volet_added": lambda c: c.new, "volet_removed": lambda c: c.old,
              "added": lambda c: f"{c.question} ({c.new})", "removed": lambda c: f"{c.question} ({c.old})",
              "moved": lambda c: f"{c.question}: {c.old} → {c.new}",
              "kind": lambda c: f"{c.question}: {c.old} → {c.new}",
              "required": lambda c: f"{c.question}: {t('flowbook.diff.req_' + c.old)} → {t('flowbook.diff.req_' + c.new)}",
              "limit": lambda c: f"{c.question}: {c.old} → {c.new}",
              "choice_added": lambda c: f"{c.question}: + {c.new}", "choice_removed": lambda c: f"{c.question}: − {c.old}",
              "condition": lambda c: c.question}
    for what, show in simple.items():
        lines += _section(t, what, [show(c) for c in diff.of(what)])
    for locale in diff.new.texts:
        items = [f"{c.question} ({c.new})" for c in diff.of("reworded") if c.locale == locale]
        lines += _section(lambda key, lc=locale, **p: t(key, language=lc, **p), "reworded", items)
    copied = [c.question for c in diff.carries if c.verdict == "copied"]
    if copied:
        lines += [t("flowbook.diff.copied", n=str(len(copied))), "  " + ", ".join(copied)]
    lines += _section(t, "copied_but", [t("flowbook.diff.copied_but_item", question=c.question, choices=c.detail)
                                        for c in diff.carries if c.verdict == "copied_but"])
    lines += _section(t, "not_copied", [t(f"flowbook.diff.why_{c.detail}", question=c.question)
                                        for c in diff.carries if c.verdict == "not_copied" and c.detail != "removed"])
    return lines


def _load(ref: str, folder: Path, locales: tuple[str, ...]) -> Flow:
    path = Path(ref) if ref.endswith(".yaml") else folder / f"{ref}.yaml"
    return load_flow(path, locales)


def run_diff(settings: Any, args: argparse.Namespace) -> int:
    import sys

    from ..i18n import load_catalog
    from .report import operator_locale
    catalog = load_catalog(Path(settings.locales_dir))
    locale = operator_locale(catalog.locales)
    folder = Path(args.folder or settings.flows_dir)
    for ref in (args.old, args.new):
        path = Path(ref) if ref.endswith(".yaml") else folder / f"{ref}.yaml"
        if not path.exists():
            print(catalog(locale, "flowbook.unknown_flow", flow=ref, folder=str(folder),
                          known=", ".join(p.stem for p in sorted(folder.glob("*.yaml")) if "." not in p.stem)),
                  file=sys.stderr)
            return 2
    diff = compare(_load(args.old, folder, catalog.locales), _load(args.new, folder, catalog.locales))
    print("\n".join(render(diff, lambda key, **p: catalog(locale, key, **p))))
    return 0

