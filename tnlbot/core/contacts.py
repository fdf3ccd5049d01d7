"""Parsers for contact details and official identifiers: e-mail, web address, phone,
SIREN, SIRET, département. Each takes the cleaned text and returns the value to store
or a `Problem`; well-kept libraries do the hard parts (email-validator, idna,
phonenumbers)."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from .flow import JSON, Question
from .problem import Problem


def _problem(key: str) -> Problem:
    return Problem(key)


def _scripts(label: str) -> set[str]:
    """The writing systems of a label's letters (LATIN, CYRILLIC, GREEK...)."""
    found = set()
    for char in label:
        if char.isalpha():
            name = unicodedata.name(char, "")
            found.add(name.split(" ")[0] if name else "?")
    return found


@lru_cache(maxsize=1024)   # people of one body share its domain; checking one costs tens of µs
def _host(host: str) -> str | None:
    """A host name as typed, if it is a real one: labels valid under IDNA 2008, a top-level
    domain of letters, no label mixing writing systems (homographs such as 'pаypal' with a
    Cyrillic 'а')."""
    if not host or len(host) > 253 or "." not in host.strip("."):
        return None
    labels = host.split(".")
    if any(not label for label in labels) or not labels[-1].isalpha() and not labels[-1].startswith("xn--"):
        return None
    import idna     # here, not at the top: the terminal's first prompt does not wait for it
    try:
        idna.encode(host, uts46=True)
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    if any(len(_scripts(label)) > 1 for label in labels):
        return None
    return host


def parse_email(text: str, q: Question, labels: Mapping[str, str]) -> JSON | Problem:
    from email_validator import EmailNotValidError, validate_email   # imported when first needed
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return _problem("error.email")
    domain = checked.domain
    if _host(domain) is None:
        return _problem("error.email")
    return checked.normalized


def parse_url(text: str, q: Question, labels: Mapping[str, str]) -> JSON | Problem:
    if "@" in text.split("/")[0] and "://" not in text:
        return _problem("error.url_is_email")
    candidate = text if "://" in text else "https://" + text
    try:
        parts = urlsplit(candidate)
        port = parts.port           # raises on a port that is not 0-65535
    except ValueError:
        return _problem("error.url")
    if (parts.scheme not in ("http", "https") or any(c.isspace() for c in candidate)
            or len(candidate) > 2000 or parts.username is not None or parts.password is not None
            or port == 0 or _host(parts.hostname or "") is None):
        return _problem("error.url")
    netloc = parts.netloc.lower() if parts.netloc.isascii() else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_phone(text: str, q: Question, labels: Mapping[str, str]) -> JSON | Problem:
    """A phone number, French by default ('01 23 45 67 89', '+33 (0)1 23 45 67 89'),
    stored in the international E.164 form."""
    if len(text) > 40 or re.search(r"[^0-9+().\-\s/]", text):
        return _problem("error.phone")
    national = _FRENCH_NATIONAL(_SEPARATORS("", text))
    if national is not None:     # what phonenumbers gives for these, without its parse
        return "+33" + national[1]
    return _phone_by_library(text)


# '01 23 45 67 89', '06.12.34.56.78': a French number in its national form, the usual answer
_SEPARATORS = re.compile(r"[ .\-]").sub
_FRENCH_NATIONAL = re.compile(r"0([1-9][0-9]{8})").fullmatch


def _phone_by_library(text: str) -> JSON | Problem:
    import phonenumbers     # imported when first needed (its metadata takes a while)
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException:
        return _problem("error.phone")
    # a number of the right length for its country (number ranges change: not checked)
    if not phonenumbers.is_possible_number(number):
        return _problem("error.phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def parse_siren(text: str, q: Question, labels: Mapping[str, str]) -> JSON | Problem:
    compact = re.sub(r"[ .\u00a0\u202f]", "", text)
    if not re.fullmatch(r"[0-9]{9}", compact) or not luhn(compact) or compact == "0" * 9:
        return _problem("error.siren")
    return compact


def parse_siret(text: str, q: Question, labels: Mapping[str, str]) -> JSON | Problem:
    compact = re.sub(r"[ .\u00a0\u202f]", "", text)
    if not re.fullmatch(r"[0-9]{14}", compact) or compact.startswith("0" * 9):
        return _problem("error.siret")
    la_poste = compact.startswith("356000000") and sum(map(int, compact)) % 5 == 0
    if not (luhn(compact) or la_poste) or not luhn(compact[:9]):
        return _problem("error.siret")
    return compact


_DEPARTEMENT = re.compile(r"0[1-9]|1[0-9]|2[1-9]|2A|2B|[3-8][0-9]|9[0-5]|97[1-6]")


def parse_departement(text: str, q: Question, labels: Mapping[str, str]) -> JSON | Problem:
    """A French département's code: 01 to 95 (2A and 2B for Corsica), 971 to 976."""
    code = text.strip().upper()
    if code.isascii() and code.isdigit() and len(code) == 1:
        code = "0" + code
    if not _DEPARTEMENT.fullmatch(code):
        return _problem("error.departement")
    return code
