"""One question of each kind in the 2022 flow, made reachable, and what a stored value may be.

`SETUP` answers (through the bot, with /modifier) what opens every target;
`stored_problem(target, text, value)` is the independent rule an accepted
value must satisfy: texts exactly as typed (trimmed), numbers and dates in
their canonical ASCII form within bounds, choices among the choices, no
invisible-only text, no control or bidi characters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from email_validator import EmailNotValidError, validate_email

from tnlbot.core.answers import luhn
from tnlbot.core.flow import Flow

from .messages import unsafe_characters, visible

SETUP = [("deja_labellise", "oui"), ("type_collectivite", "7"), ("type_collectivite.other", "Régie"),
         ("volet:strategie", "oui"), ("deliberation_votee", "oui"),
         ("membre_structure_mutualisation", "oui"),
         ("structures_mutualisation[0].structure_nom", "SIM"),
         ("volet:bonnes_pratiques", "oui"), ("declaration_accessibilite", "oui")]


@dataclass(frozen=True, slots=True)
class Target:
    key: str      # the slot
    kind: str     # what the slot asks: a question kind, or other / adder / concerned


TARGETS = [Target("nom_collectivite", "short_text"), Target("departement", "departement"),
           Target("type_collectivite.other", "other"), Target("dernier_niveau", "single_choice"),
           Target("annees_label", "multiple_choice"), Target("siren", "siren"),
           Target("nombre_postes", "integer"), Target("elu_email", "email"),
           Target("elu_telephone", "phone"), Target("consultation_rgi", "yes_no"),
           Target("echanges_difficultes", "long_text"), Target("deliberation_date", "date"),
           Target("deliberation", "file"), Target("part_logiciels_mutualises", "percentage"),
           Target("duree_vie_equipements", "decimal"),
           Target("declaration_accessibilite_url", "url"), Target("volet:donnees", "concerned"),
           Target("structures_mutualisation+", "adder"),
           Target("structures_mutualisation[0].structure_nom", "short_text")]

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def question(flow: Flow, key: str):
    return flow.questions[key.split(".")[-1] if "[" in key else key.split(".")[0].rstrip("+")]


def stored_problem(flow: Flow, target: Target, text: str, value: Any) -> str | None:
    """Why `value`, stored for `text`, is wrong (None when it is right)."""
    if target.kind in ("yes_no", "concerned"):
        return None if isinstance(value, bool) else "not a yes/no"
    if target.kind in ("short_text", "long_text", "other"):
        return _text_problem(text, value)
    q = question(flow, target.key)
    checks = {"single_choice": lambda: value in q.choices,
              "multiple_choice": lambda: _selection_ok(value, q.choices),
              "integer": lambda: type(value) is int and _within(Decimal(value), q),
              "percentage": lambda: _decimal_ok(value, q, Decimal(0), Decimal(100)),
              "decimal": lambda: _decimal_ok(value, q, q.minimum, q.maximum),
              "date": lambda: _date_ok(value, q),
              "email": lambda: _email_ok(value),
              "url": lambda: value.casefold() in (text.strip().casefold(), ("https://" + text.strip()).casefold())
              and value.startswith(("http://", "https://")) and not unsafe_characters(value),
              "departement": lambda: re.fullmatch(r"0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6]", value)
              is not None,
              "phone": lambda: re.fullmatch(r"\+[1-9][0-9]{7,14}", value) is not None,
              "siren": lambda: re.fullmatch(r"[0-9]{9}", value) is not None and luhn(value)}
    return None if checks[target.kind]() else f"{value!r} is not a valid {target.kind}"


def _email_ok(value: Any) -> bool:
    """An address as email-validator normalises it (international domains included)."""
    try:
        return validate_email(value, check_deliverability=False).normalized == value
    except EmailNotValidError:
        return False


def _text_problem(text: str, value: Any) -> str | None:
    if value != text.strip():
        return f"stored {value!r:.80}, typed {text!r:.80}"
    if not visible(value):
        return "an answer with nothing visible in it was accepted"
    if unsafe_characters(value):
        return f"stored characters {unsafe_characters(value)[:3]}"
    return None


def _selection_ok(value: Any, choices: tuple[str, ...]) -> bool:
    return (isinstance(value, list) and bool(value) and len(set(value)) == len(value)
            and value == [c for c in choices if c in value])


def _within(number: Decimal, q) -> bool:
    return ((q.minimum is None or number >= q.minimum) and (q.maximum is None or number <= q.maximum))


def _decimal_ok(value: Any, q, low, high) -> bool:
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        return False
    number = Decimal(value)
    return (low is None or number >= low) and (high is None or number <= high)


def _date_ok(value: Any, q) -> bool:
    if not isinstance(value, str) or not _ISO.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return (not q.min_date or value >= q.min_date) and (not q.max_date or value <= q.max_date)
