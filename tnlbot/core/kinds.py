"""Question kinds, each declared once: how its answer is read, how it is asked, how it
is shown and how it is exported.

A kind's declaration (`Spec`) holds:
- `parse`: typed text -> the value to store, or the `Problem` to show;
- `form`: how a person gives the answer (typed, sent as a file, yes/no, one option,
  several options, nothing), which is all a transport needs to know: each transport
  renders every `Form` in a small table of its own (console, telegram_render,
  matrix_render) and `problems()` checks those tables cover every kind;
- `hint`: the locale key of the line under the question, with its parameters, and the
  wording a transport says otherwise (a file is sent with /fichier on the terminal);
- `shape` and `show`: the type the answer is stored as, and how a stored value is
  written in the person's language (dates, numbers);
- `export`: what the jury's spreadsheets hold for it (a number cell, text as shown,
  or no column at all).

Adding a kind: a member of `core.flow.Kind`, its parser in `answers`/`contacts`, one
`Spec` below, a line in docs/flow-format.md; tests/test_kinds_registry.py says what
is missing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Mapping

from . import answers as a
from .contacts import parse_departement, parse_email, parse_phone, parse_siren, parse_siret, parse_url
from .events import Outgoing
from .flow import JSON, Kind, Question
from .problem import Problem
from .shown import show_date, show_number, show_percent

Parser = Callable[[str, Question, Mapping[str, str]], a.Result]
Shown = Callable[[str, str], str]          # (stored value as text, locale) -> as written


class Form(str, Enum):
    """How a person gives an answer: what a transport renders differently."""
    TYPED = "typed"        # a text typed: words, numbers, dates, addresses
    FILE = "file"          # a document sent
    YES_NO = "yes_no"      # yes or no
    ONE = "one"            # one option out of several
    SEVERAL = "several"    # options toggled, then validated
    NOTHING = "nothing"    # nothing to answer: a notice is said, a repeat block asks for items


class Export(str, Enum):
    """What the jury's spreadsheets (CSV, ODS) hold for an answer; JSON keeps the value."""
    INTEGER = "integer"    # a whole number cell (the stored int)
    DECIMAL = "decimal"    # a number cell read from the stored decimal text
    TEXT = "text"          # the value as a person reads it: labels, oui/non, file name
    NONE = "none"          # no column: nothing is stored


def _max_length(q: Question) -> dict[str, str]:
    return {"max": str(q.max_length)}


def _file_limits(q: Question) -> dict[str, str]:
    return {"formats": ", ".join(q.formats), "max": str(q.max_size // 1_000_000)}


def parse_nothing(text: str, q: Question, labels: Mapping[str, str]) -> a.Result:
    """A notice asks nothing: text sent while it shows answers nothing."""
    return Problem("error.unrecognised")


@dataclass(frozen=True, slots=True)
class Spec:
    """One question kind. `None` marks what a kind lacks (see `problems`)."""
    kind: Kind
    parse: Parser | None
    form: Form | None
    export: Export | None
    hint: str = ""                                   # locale key of the line under the question
    hint_params: Callable[[Question], dict[str, str]] = _max_length
    wording: Mapping[str, Mapping[str, str]] = field(default_factory=dict)   # transport -> key -> key
    shape: type | tuple[type, ...] | None = str      # how the answer is stored (None: nothing)
    show: Shown | None = None                        # a stored value in the person's language
    number: bool = False                             # compared in conditions; "1,250" in English
    multiline: bool = False                          # line breaks are part of the answer
    max_length: int = 200                            # a flow's default max_length
    limits: tuple[str, ...] = ()                     # the Question fields its options set

    def key(self, transport: str, key: str) -> str:
        """A locale key as this transport says it (the terminal sends files otherwise)."""
        said = self.wording.get(transport)
        return said.get(key, key) if said else key


_TEXT_LIMITS = ("min_length", "max_length")
_NUMBER_LIMITS = ("minimum", "maximum", "unit")


SPECS: tuple[Spec, ...] = (
    Spec(Kind.YES_NO, a.parse_yes_no, Form.YES_NO, Export.TEXT, shape=bool),
    Spec(Kind.SINGLE, a.parse_single, Form.ONE, Export.TEXT, limits=("other",)),
    Spec(Kind.MULTI, a.parse_multi, Form.SEVERAL, Export.TEXT, "hint.multi", shape=list,
         wording={"telegram": {"hint.multi": "hint.multi_buttons"}},
         limits=("min_choices", "max_choices", "other")),
    Spec(Kind.SHORT_TEXT, a.parse_text, Form.TYPED, Export.TEXT, limits=_TEXT_LIMITS),
    Spec(Kind.LONG_TEXT, a.parse_text, Form.TYPED, Export.TEXT, "hint.long_text", multiline=True,
         max_length=a.MAX_TEXT, limits=_TEXT_LIMITS),
    Spec(Kind.INTEGER, a.parse_integer, Form.TYPED, Export.INTEGER, "hint.integer", shape=int,
         show=show_number, number=True, limits=_NUMBER_LIMITS),
    Spec(Kind.DECIMAL, a.parse_decimal, Form.TYPED, Export.DECIMAL, "hint.decimal",
         show=show_number, number=True, limits=_NUMBER_LIMITS),
    Spec(Kind.PERCENT, a.parse_percent, Form.TYPED, Export.DECIMAL, "hint.percent",
         show=show_percent, number=True),
    Spec(Kind.DATE, a.parse_date, Form.TYPED, Export.TEXT, "hint.date", show=show_date, limits=("min_date", "max_date")),
    Spec(Kind.EMAIL, parse_email, Form.TYPED, Export.TEXT, "hint.email"),
    Spec(Kind.URL, parse_url, Form.TYPED, Export.TEXT, "hint.url"),
    Spec(Kind.PHONE, parse_phone, Form.TYPED, Export.TEXT, "hint.phone"),
    Spec(Kind.SIREN, parse_siren, Form.TYPED, Export.TEXT, "hint.siren"),
    Spec(Kind.SIRET, parse_siret, Form.TYPED, Export.TEXT, "hint.siret"),
    Spec(Kind.DEPARTEMENT, parse_departement, Form.TYPED, Export.TEXT, "hint.departement"),
    Spec(Kind.FILE, a.parse_file_text, Form.FILE, Export.TEXT, "hint.file", _file_limits, shape=dict,
         wording={"console": {"hint.file": "hint.file_terminal",
                              "error.file_expected": "error.file_expected_terminal"}},
         limits=("formats", "max_size")),
    # a repeat block stores how many items it has; its own question is "another item?"
    Spec(Kind.REPEAT, a.parse_yes_no, Form.NOTHING, Export.INTEGER, shape=int,
         limits=("min_items", "max_items")),
    Spec(Kind.NOTICE, parse_nothing, Form.NOTHING, Export.NONE, shape=None),
)
KINDS: Mapping[Kind, Spec] = {spec.kind: spec for spec in SPECS}
KNOWN: tuple[str, ...] = tuple(spec.kind.value for spec in SPECS)

CHOICE_KINDS = frozenset(s.kind for s in SPECS if s.form in (Form.ONE, Form.SEVERAL))
NUMBER_KINDS = frozenset(s.kind for s in SPECS if s.number)


def kind_named(name: object) -> Kind | None:
    """The kind a flow names, or None when no kind has that name (see `unknown`)."""
    try:
        kind = Kind(name)
    except ValueError:
        return None
    return kind if kind in KINDS else None


def unknown(name: object) -> str:
    """Why a flow's kind is refused, naming the kinds there are."""
    return f"unknown kind {name!r} (known kinds: {', '.join(KNOWN)})"


# ---------------------------------------------------------------- answers

_ENGLISH_GROUPING = re.compile(r"(?<=[0-9]),(?=[0-9]{3}(?![0-9]))")


def parse(text: str, q: Question, labels: Mapping[str, str], locale: str = "fr") -> a.Result:
    """A typed answer to question `q`: the value to store, or the problem to show."""
    spec = KINDS[q.kind]
    cleaned = a.clean_text(text, multiline=spec.multiline)
    if isinstance(cleaned, Problem):
        return cleaned
    if spec.number and locale == "en":
        cleaned = _ENGLISH_GROUPING.sub("", cleaned)   # "1,250" is a thousand and more in English
    assert spec.parse is not None
    return spec.parse(cleaned, q, labels)


def show_kind(kind: Kind, value: JSON, locale: str) -> str | None:
    """A date, number or percentage in the person's language; None for other kinds."""
    shown = KINDS[kind].show
    if shown is None or isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    return shown(str(value), locale)


def shape_of(kind: Kind) -> type | tuple[type, ...] | None:
    """The Python type a kind's answers are stored as (None: nothing is stored)."""
    return KINDS[kind].shape


# ---------------------------------------------------------------- transports

YES_NO_VALUES = ("yes", "no")


def form_of(item: Outgoing) -> Form:
    """How the question an outgoing item asks is answered, as far as its transport can tell
    from what the item carries (a file is asked as a typed answer is: no options)."""
    if item.multi:
        return Form.SEVERAL
    if item.options:
        return Form.YES_NO if tuple(o.value for o in item.options) == YES_NO_VALUES else Form.ONE
    return Form.TYPED


Renderings = Mapping[str, Mapping[Form, object]]    # transport -> its table keyed by form


def problems(specs: tuple[Spec, ...], renderings: Renderings, used: Mapping[str, str]) -> list[str]:
    """What keeps kinds from working everywhere: a kind used (name -> where) but not
    declared, a declared kind without a parser, a form, an export, or a form some
    transport's table does not render."""
    found: list[str] = []
    declared = {spec.kind.value for spec in specs}
    for name, where in sorted(used.items()):
        if name not in declared:
            found.append(f"{name}: used in {where} but not declared")
    for spec in specs:
        name = spec.kind.value
        if spec.parse is None:
            found.append(f"{name}: no parser")
        if spec.export is None:
            found.append(f"{name}: no export")
        if spec.form is None:
            found.append(f"{name}: no form")
            continue
        for transport, table in sorted(renderings.items()):
            if spec.form not in table:
                found.append(f"{name}: no rendering of the form {spec.form.value!r} on {transport}")
    return found
