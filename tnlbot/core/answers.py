"""Parse and validate one answer for one question kind.

Every parser takes the text as typed (or a file reference) and returns either
the value to store or a `Problem` naming the locale message to show. Parsers
never raise on user input. Which parser reads which kind is declared in
`core.kinds`, whose `parse` cleans the text and calls it.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Mapping, Union

from .contacts import luhn  # noqa: F401 - re-exported: callers check SIREN digits through answers
from .events import FileRef
from .flow import JSON, Question
from .problem import Problem

MAX_TEXT = 4000


Result = Union[Problem, JSON]

_FORBIDDEN_CATEGORIES = {"Cc", "Cs", "Co", "Cn", "Cf", "Zl", "Zp"}
_UNDECODED = range(0xDC80, 0xDD00)   # bytes that were not UTF-8 (see transports/console.py)
_ZWJ = "\u200d"


def clean_text(raw: str, multiline: bool = False) -> Union[str, Problem]:
    """Refuse what no answer may hold: control, format (bidi marks and overrides, soft
    hyphen, tags, zero-width), line or paragraph separators, surrogates, unassigned."""
    if len(raw) > MAX_TEXT:
        return Problem("error.too_long", {"max": str(MAX_TEXT)})
    if raw.isprintable():   # no control, format, separator, surrogate or odd space
        text = raw.strip()
        return text if text else Problem("error.empty")
    if any(ord(c) in _UNDECODED for c in raw):
        return Problem("error.encoding")
    text = raw.strip()
    if not text or all(unicodedata.category(c) == "Cf" or c.isspace() for c in text):
        return Problem("error.empty")   # nothing visible: only zero-width or format characters
    if not multiline and ("\n" in text or "\r" in text):
        return Problem("error.one_line")
    for index, char in enumerate(text):
        if multiline and char in "\n\t":
            continue
        if char == _ZWJ and 0 < index < len(text) - 1 and not text[index - 1].isascii():
            continue   # joins emoji or letters of some scripts
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            return Problem("error.bad_characters")
    return text


@lru_cache(maxsize=4096)   # the same labels and commands are folded on every answer
def fold(text: str) -> str:
    """Case- and accent-insensitive form, for matching labels and words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


_YES = {"oui", "o", "yes", "y", "1", "vrai", "true", "ok"}
_NO = {"non", "n", "no", "2", "faux", "false"}


_SENTENCE_YES = {"oui", "yes", "vrai", "true"}
_SENTENCE_NO = {"non", "no", "faux", "false"}


def parse_yes_no(text: str, q: Question | None, labels: Mapping[str, str]) -> Result:
    """Oui or non, alone or opening a sentence ("Non, pas encore…")."""
    folded = fold(text)
    word = folded.rstrip(".!…")
    if word in _YES:
        return True
    if word in _NO:
        return False
    first = re.match(r"\w+", folded)
    if first and first.end() < len(folded) and folded[first.end()] in " ,;:.!…":
        if first[0] in _SENTENCE_YES:
            return True
        if first[0] in _SENTENCE_NO:
            return False
    return Problem("error.yes_no")


def _choice(token: str, q: Question, labels: Mapping[str, str]) -> str | None:
    """A choice by its text, else by its number: a label that is a number (a year) is
    taken as written."""
    token = token.strip()
    folded = fold(token)
    for choice in q.choices:
        if folded == fold(labels.get(choice, choice)) or folded == fold(choice):
            return choice
    if token.isdecimal():   # not isdigit(): int() refuses superscripts such as '²'
        index = int(token)
        if 1 <= index <= len(q.choices):
            return q.choices[index - 1]
    return None


def _choice_number(token: str, q: Question) -> str | None:
    if token.isdecimal() and len(token) < 6:
        index = int(token)
        if 1 <= index <= len(q.choices):
            return q.choices[index - 1]
    return None


def parse_single(text: str, q: Question, labels: Mapping[str, str]) -> Result:
    choice = _choice(text, q, labels)
    if choice is None:
        return Problem("error.choice", {"max": str(len(q.choices))})
    return choice


def choice_tokens(text: str) -> list[str]:
    """ "1, 3", "1 3", "Vélo; Train" -> tokens: split at , ; and line breaks, and before a
    word that starts with a digit. One pass over the text (no backtracking regex)."""
    tokens: list[str] = []
    for part in re.split(r"[,;\n]+", text):
        words = part.split()
        start = len(tokens)
        for word in words:
            if len(tokens) == start or "0" <= word[0] <= "9":
                tokens.append(word)
            else:
                tokens[-1] += " " + word
    return tokens


@lru_cache(maxsize=1024)   # a flow's labels, split once
def _label_pieces(label: str) -> tuple[str, ...]:
    """The folded pieces of a label that an answer would split (none for a one-piece label)."""
    tokens = choice_tokens(label)
    return tuple(fold(t) for t in tokens) if len(tokens) > 1 else ()


def parse_multi(text: str, q: Question, labels: Mapping[str, str]) -> Result:
    tokens = choice_tokens(text)
    by_name: dict[str, str] = {}
    for name in reversed(q.choices):      # the first choice wins a tie, as _choice does
        by_name[fold(name)] = name
        by_name[fold(labels.get(name, name))] = name
    # labels that hold a comma or a semicolon are split like the answer: matched piece by piece
    split_labels = [(pieces, c) for c in q.choices
                    if len(pieces := _label_pieces(labels.get(c, c))) > 1]
    chosen: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        step, choice = 1, by_name.get(fold(token)) or _choice_number(token, q)
        for pieces, candidate in split_labels:
            if tuple(fold(t) for t in tokens[index:index + len(pieces)]) == pieces:
                step, choice = len(pieces), candidate
                break
        if choice is None:
            return Problem("error.choices", {"token": token.strip()[:40], "max": str(len(q.choices))})
        if choice not in chosen:
            chosen.append(choice)
        index += step
    return check_selection(chosen, q)


def check_selection(chosen: list[str], q: Question) -> Result:
    if any(c not in q.choices for c in chosen):
        return Problem("error.choices", {"token": "?", "max": str(len(q.choices))})
    if not chosen or len(chosen) < q.min_choices:
        return Problem("error.min_choices", {"min": str(max(1, q.min_choices))})
    if q.max_choices and len(chosen) > q.max_choices:
        return Problem("error.max_choices", {"max": str(q.max_choices)})
    return [c for c in q.choices if c in chosen]


def parse_text(text: str, q: Question, labels: Mapping[str, str]) -> Result:
    if not any(c.isalnum() for c in text):     # "/", "...", "-": no answer at all
        return Problem("error.no_words")
    if len(text) < q.min_length:
        return Problem("error.too_short", {"min": str(q.min_length)})
    if len(text) > q.max_length:
        return Problem("error.too_long", {"max": str(q.max_length)})
    return text


_GROUPING = re.compile(r"(?<=[0-9])[ \u00a0\u202f'](?=[0-9]{3}\b)")


def _decimal(text: str) -> Decimal | None:
    compact = _GROUPING.sub("", text.strip().replace("\u2212", "-"))
    if compact.count(",") + compact.count(".") > 1:
        return None
    compact = compact.replace(",", ".")
    if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", compact):
        return None
    try:
        number = Decimal(compact)
    except InvalidOperation:
        return None
    return number if number else Decimal(0)    # "-0" is zero


def _bounded(number: Decimal, q: Question, low: Decimal | None, high: Decimal | None) -> Problem | None:
    if low is not None and number < low:
        return Problem("error.below", {"min": _show(low)})
    if high is not None and number > high:
        return Problem("error.above", {"max": _show(high)})
    return None


def _show(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text


def parse_integer(text: str, q: Question, labels: Mapping[str, str]) -> Result:
    number = _decimal(text)
    if number is None or number != number.to_integral_value() or "." in text or "," in text:
        return Problem("error.integer")
    return _bounded(number, q, q.minimum, q.maximum) or int(number)


def parse_decimal(text: str, q: Question, labels: Mapping[str, str]) -> Result:
    number = _decimal(text)
    if number is None:
        return Problem("error.decimal")
    return _bounded(number, q, q.minimum, q.maximum) or _show(number)


def parse_percent(text: str, q: Question, labels: Mapping[str, str]) -> Result:
    number = _decimal(text.strip().rstrip("%").strip())
    if number is None:
        return Problem("error.percent")
    low = q.minimum if q.minimum is not None else Decimal(0)
    high = q.maximum if q.maximum is not None else Decimal(100)
    return _bounded(number, q, low, high) or _show(number)


_DATE_FORMS = (
    (re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})"), (3, 2, 1)),
    (re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"), (1, 2, 3)),
)


def parse_date(text: str, q: Question, labels: Mapping[str, str]) -> Result:
    """A date; bounds are ISO dates here (those relative to the campaign are resolved by
    the dialog before), shown to the person as dates of their language."""
    for pattern, (y, m, d) in _DATE_FORMS:
        match = pattern.fullmatch(text.strip())
        if match:
            try:
                value = date(int(match[y]), int(match[m]), int(match[d])).isoformat()
            except ValueError:
                return Problem("error.date")
            if q.min_date and value < q.min_date:
                return Problem("error.date_before", {"min": q.min_date})
            if q.max_date and value > q.max_date:
                return Problem("error.date_after", {"max": q.max_date})
            return value
    return Problem("error.date")


def ascii_number(text: str) -> bool:
    """Digits 0-9 only and at most 9 of them ('²' and '٣' are digits to str.isdigit())."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def parse_file_text(text: str, q: Question, labels: Mapping[str, str]) -> Result:
    return Problem("error.file_expected", {"formats": ", ".join(q.formats)})


STORED = "sha256:"
_SAME_KIND = {"jpeg": "jpg", "tif": "tiff", "csv": "txt", "md": "txt", "text": "txt"}


def check_file(file: FileRef, q: Question) -> Result:
    if file.refused:
        return Problem(f"error.file_{file.refused}")
    for text in (file.name, file.mime):
        if text and isinstance(clean_text(text), Problem):
            return Problem("error.bad_characters")
    extension = file.name.rsplit(".", 1)[-1].lower() if "." in file.name else ""
    if q.formats and extension not in q.formats:
        return Problem("error.file_format", {"formats": ", ".join(q.formats)})
    if q.max_size and file.size > q.max_size:
        return Problem("error.file_size", {"max": str(q.max_size // 1_000_000)})
    if file.size <= 0:
        return Problem("error.file_empty")
    if file.ref.startswith(STORED) and q.formats and not _content_is(file.sniffed, extension):
        return Problem("error.file_content", {"formats": ", ".join(q.formats)})
    return {"name": file.name, "mime": file.mime, "size": file.size, "ref": file.ref}


def _content_is(sniffed: str, extension: str) -> bool:
    """Whether a stored file's content is what its name says (a text file named .odt is not)."""
    if not sniffed:
        return False
    return _SAME_KIND.get(sniffed, sniffed) == _SAME_KIND.get(extension, extension)
