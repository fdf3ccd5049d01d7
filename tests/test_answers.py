"""Each question kind's parser: what is accepted, how it is stored, what is refused."""
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnlbot.core.answers import Problem, check_file, luhn
from tnlbot.core.kinds import parse
from tnlbot.core.events import FileRef
from tnlbot.core.flow import Kind, Question

LABELS = {"commune": "Commune", "epci": "EPCI", "departement": "Département", "autre": "Autre"}


def q(kind, **options):
    return Question(id="q", kind=kind, volet="v", **options)


ACCEPTED = [
    (q(Kind.YES_NO), "Oui", True), (q(Kind.YES_NO), "non", False), (q(Kind.YES_NO), "yes", True),
    (q(Kind.SINGLE, choices=tuple(LABELS)), "2", "epci"),
    (q(Kind.SINGLE, choices=tuple(LABELS)), "departement", "departement"),
    (q(Kind.SINGLE, choices=tuple(LABELS)), "  DÉPARTEMENT ", "departement"),
    (q(Kind.MULTI, choices=tuple(LABELS)), "3, 1", ["commune", "departement"]),
    (q(Kind.MULTI, choices=tuple(LABELS)), "Commune; EPCI", ["commune", "epci"]),
    (q(Kind.MULTI, choices=tuple(LABELS)), "1 2 2", ["commune", "epci"]),
    (q(Kind.SHORT_TEXT), "  Mairie <b>&</b>  ", "Mairie <b>&</b>"),
    (q(Kind.LONG_TEXT, max_length=4000), "ligne 1\nligne 2", "ligne 1\nligne 2"),
    (q(Kind.INTEGER), "12 000", 12000), (q(Kind.INTEGER), "12\u202f000", 12000), (q(Kind.INTEGER), "-3", -3),
    (q(Kind.DECIMAL), "12,5", "12.5"), (q(Kind.DECIMAL), "1 234,50", "1234.5"),
    (q(Kind.PERCENT), "45 %", "45"), (q(Kind.PERCENT), "99,9", "99.9"), (q(Kind.PERCENT), "0", "0"),
    (q(Kind.DATE), "15/10/2024", "2024-10-15"), (q(Kind.DATE), "2024-10-15", "2024-10-15"),
    (q(Kind.DATE), "1.2.2023", "2023-02-01"),
    (q(Kind.EMAIL), "prenom.nom@mairie-test.fr", "prenom.nom@mairie-test.fr"),
    (q(Kind.URL), "https://www.ville.fr/open-data?x=1", "https://www.ville.fr/open-data?x=1"),
    (q(Kind.URL), "www.ville.fr", "https://www.ville.fr"),
    (q(Kind.PHONE), "01 23 45 67 89", "+33123456789"), (q(Kind.PHONE), "+33 (0)6 12", None),
    (q(Kind.PHONE), "+32 2 123 45 67", "+3221234567"),
    (q(Kind.SIREN), "732 829 320", "732829320"),
    (q(Kind.SIRET), "732 829 320 00074", "73282932000074"),
    (q(Kind.SIRET), "35600000000048", "35600000000048"),     # La Poste
]


@pytest.mark.parametrize("question,text,expected", ACCEPTED, ids=[a[1] for a in ACCEPTED])
def test_accepted_answers_are_stored_normalised(question, text, expected):
    result = parse(text, question, LABELS)
    if expected is None:
        assert isinstance(result, Problem)
    else:
        assert result == expected


REFUSED = [
    (q(Kind.YES_NO), "peut-être", "error.yes_no"),
    (q(Kind.SINGLE, choices=tuple(LABELS)), "5", "error.choice"),
    (q(Kind.SINGLE, choices=tuple(LABELS)), "0", "error.choice"),
    (q(Kind.MULTI, choices=tuple(LABELS)), "1, 9", "error.choices"),
    (q(Kind.MULTI, choices=tuple(LABELS), max_choices=1), "1, 2", "error.max_choices"),
    (q(Kind.SHORT_TEXT, max_length=3), "abcd", "error.too_long"),
    (q(Kind.SHORT_TEXT, min_length=5), "abc", "error.too_short"),
    (q(Kind.SHORT_TEXT), "", "error.empty"), (q(Kind.SHORT_TEXT), "   ", "error.empty"),
    (q(Kind.SHORT_TEXT), "a\x00b", "error.bad_characters"),
    (q(Kind.SHORT_TEXT), "a\ud800b", "error.bad_characters"),
    (q(Kind.SHORT_TEXT), "abc\u202edef", "error.bad_characters"),
    (q(Kind.SHORT_TEXT), "a\x07b", "error.bad_characters"),
    (q(Kind.LONG_TEXT, max_length=4000), "x" * 4001, "error.too_long"),
    (q(Kind.INTEGER), "12.5", "error.integer"), (q(Kind.INTEGER), "1e3", "error.integer"),
    (q(Kind.INTEGER), "douze", "error.integer"), (q(Kind.INTEGER), "12.000,5", "error.integer"),
    (q(Kind.INTEGER, minimum=Decimal(0)), "-1", "error.below"),
    (q(Kind.INTEGER, maximum=Decimal(100)), "101", "error.above"),
    (q(Kind.DECIMAL), "1,2,3", "error.decimal"), (q(Kind.DECIMAL), "NaN", "error.decimal"),
    (q(Kind.DECIMAL), "Infinity", "error.decimal"),
    (q(Kind.PERCENT), "150 %", "error.above"), (q(Kind.PERCENT), "-5", "error.below"),
    (q(Kind.DATE), "31/02/2024", "error.date"), (q(Kind.DATE), "15/10/24", "error.date"),
    (q(Kind.DATE), "demain", "error.date"),
    (q(Kind.DATE, min_date="2020-01-01"), "01/01/2019", "error.date_before"),
    (q(Kind.EMAIL), "prenom.nom@", "error.email"), (q(Kind.EMAIL), "a b@c.fr", "error.email"),
    (q(Kind.EMAIL), "a..b@c.fr", "error.email"),
    (q(Kind.URL), "javascript:alert(1)", "error.url"), (q(Kind.URL), "ftp://x.fr", "error.url"),
    (q(Kind.URL), "http://localhost", "error.url"), (q(Kind.URL), "data:text/html,x", "error.url"),
    (q(Kind.PHONE), "123", "error.phone"),
    (q(Kind.SIREN), "123456789", "error.siren"), (q(Kind.SIREN), "73282932", "error.siren"),
    (q(Kind.SIRET), "73282932000075", "error.siret"),
    (q(Kind.FILE, formats=("pdf",)), "voici", "error.file_expected"),
]


@pytest.mark.parametrize("question,text,key", REFUSED, ids=[r[1][:20] for r in REFUSED])
def test_refused_answers_name_their_problem(question, text, key):
    result = parse(text, question, LABELS)
    assert isinstance(result, Problem) and result.key == key


def test_luhn():
    assert luhn("732829320") and not luhn("732829321")


def test_files_are_checked_before_download():
    question = q(Kind.FILE, formats=("pdf", "odt"), max_size=10_000_000)
    assert check_file(FileRef("délibération.PDF", "application/pdf", 2000, "r"), question)["name"] == "délibération.PDF"
    assert check_file(FileRef("x.exe", "application/octet-stream", 10, "r"), question).key == "error.file_format"
    assert check_file(FileRef("x.pdf", "application/pdf", 20_000_000, "r"), question).key == "error.file_size"
    assert check_file(FileRef("x.pdf", "application/pdf", 0, "r"), question).key == "error.file_empty"


def test_every_error_key_has_a_message_in_every_language(catalog):
    keys = {key for _, _, key in REFUSED} | {"error.file_format", "error.file_size", "error.file_empty"}
    for locale in catalog.locales:
        for key in keys:
            assert catalog(locale, key, max="3", min="1", token="x", formats="pdf") != key


def test_long_multiple_choice_answers_are_read_in_one_pass(monkeypatch):
    """Thousands of characters (spaces, words, numbers) cost one fold per token and per choice:
    the splitter no longer backtracks over runs of spaces."""
    from tnlbot.core import answers as A
    from tnlbot.core.flow import Kind, Question
    q = Question(id="q", kind=Kind.MULTI, volet="v", choices=("velo", "train", "bus"))
    calls = []
    real = A.fold
    monkeypatch.setattr(A, "fold", lambda text: calls.append(len(text)) or real(text))
    assert A.parse_multi(" " * 8_000 + "1, 3", q, {}) == ["velo", "bus"]
    assert len(calls) <= 2 * 6 + 2
    calls.clear()
    assert isinstance(A.parse_multi("Vélo " * 8_000, q, {"velo": "Vélo"}), A.Problem)  # one long token
    assert len(calls) <= 6 + 1 and sum(calls) <= 40_000 + 50
    calls.clear()
    assert A.parse_multi("1 2 " * 5_000, q, {}) == ["velo", "train"]
    assert len(calls) <= 6 + 10_000
    assert A.choice_tokens("Vélo 2 roues; train\n3") == ["Vélo", "2 roues", "train", "3"]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789 .-", min_size=1, max_size=30))
def test_french_national_phone_numbers_read_without_the_library_are_stored_as_it_stores_them(text):
    """The short path for '01 23 45 67 89' and its kin gives what phonenumbers gives."""
    from tnlbot.core import contacts
    text = text.strip() or "0"
    assert contacts.parse_phone(text, q(Kind.PHONE), {}) == contacts._phone_by_library(text)


@pytest.mark.parametrize("text", ["01 23 45 67 89", "06.12.34.56.78", "0612345678", "09-87-65-43-21",
                                  "01 02 03 04 05", "0 1 2 3 4 5 6 7 8 9"])
def test_usual_french_numbers_take_the_short_path_and_agree_with_the_library(text):
    from tnlbot.core import contacts
    assert contacts._FRENCH_NATIONAL(contacts._SEPARATORS("", text)) is not None
    assert contacts.parse_phone(text, q(Kind.PHONE), {}) == contacts._phone_by_library(text)
