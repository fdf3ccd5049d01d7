"""Open bugs the corpus tests must step around (none today) and those found and fixed.

How it works: when the suite finds a bug in a file it does not own, the
predicate below returns its description for the inputs that hit it; the
corpus tests skip exactly those (and count them) so they keep guarding the
rest, and test_known_bugs.py shows the bug as an xfail(strict=True) test.
When the fix lands, the test passes, the marker goes and the predicate
returns None again. The descriptions below are those of the bugs fixed so far.
"""
from __future__ import annotations

NON_ASCII_DIGITS = (
    "SIREN and phone answers written with non-ASCII digits (Arabic-Indic '٧٣٢٨٢٩٣٢٠', "
    "fullwidth '７３２８２９３２０') are accepted and stored with those digits "
    "(tnlbot/core/answers.py parse_siren and parse_phone match with \\d, which is any Unicode "
    "digit); expected: refused with error.siren / error.phone, or stored as ASCII digits")

SUPERSCRIPT_ARGUMENT = (
    "/modifier ², /aller ², /recap ² raise ValueError (invalid literal for int()) and the "
    "event is never handled (tnlbot/core/commands.py _find, _goto and _recap test "
    "str.isdigit(), true for superscripts, then call int()); expected: the usage message")

CONTROL_ECHO = (
    "an unknown command typed with control or bidi characters ('/\\x1b[2J', '/\\u202eedia') "
    "is echoed back in error.unknown_command with those characters (tnlbot/core/commands.py "
    "on_command passes event.command[:40] as {name}): a terminal runs the escape sequence; "
    "expected: the name shown without control, bidi-override or surrogate characters")

TEAM_NUMBERS = (
    "/retirer, /responsable, /assigner and /qui with an argument of superscript digits ('²') "
    "or of more than 4,300 digits raise ValueError and the event is never handled "
    "(tnlbot/campaigns/teams.py _pick and parse_volets, tnlbot/campaigns/identity.py who: "
    "str.isdigit() then int(); the arguments of these commands never go through clean_text, "
    "so nothing bounds their length; lastyear.check has the same pattern); expected: the "
    "command's usage message")

FILE_NAME = (
    "a file whose name holds a lone surrogate ('x\\ud800.pdf') makes the transaction raise "
    "UnicodeEncodeError; names with NUL, controls or bidi overrides ('x\\u202eexe.pdf') are "
    "stored as given (tnlbot/core/answers.py check_file never checks file.name or file.mime); "
    "expected: error.bad_characters and nothing stored")


def text_bug(kind: str, text: str) -> str | None:
    """The open bug a typed answer to a question of this kind runs into: none now."""
    return None


def command_bug(handler: str, args: str) -> str | None:
    return None


def feature_command_bug(handler: str, args: str) -> str | None:
    return None


def command_name_bug(name: str) -> str | None:
    return None


def file_bug(name: str, mime: str = "") -> str | None:
    return None
