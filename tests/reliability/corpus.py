"""Hostile inputs: what people (and attackers) really type into a chat.

Each entry is (family, text). Written with escapes so this file itself holds
no control, bidi or invisible characters.
"""
from __future__ import annotations

MEGABYTE = "A" * 1_000_000

EMPTY = ["", " ", "\t", "\n", "\r\n", "   \n  ", "\u00a0", "\u3000", "\u2028", "\u2029",
         "\u0085", "\x0b", "\x0c", "\u180e", "\u2800"]

HUGE = [MEGABYTE, "é" * 4001, "a" * 4000, "a" * 4001, "1" * 4000, "9" * 4301, "\n" * 5000,
        "😀" * 2001, "0" * 10_000, "a " * 2500, "x" * 201, "x" * 200, "x" * 2001]

CONTROL = ["\x00", "a\x00b", "\x00" * 10, "Mairie\x00", "\x07bell", "\x1b[31mrouge\x1b[0m",
           "\x1b]0;titre\x07", "\r", "ligne1\rligne2", "\x7f", "\x9b31m", "\x08\x08\x08",
           "tab\tdedans", "deux\nlignes", "\x1b[2J\x1b[H", "\x1a", "\ufffe", "\uffff",
           "\U0010ffff", "\ue000"]

SURROGATES = ["\ud800", "\udfff", "a\ud83db", "\udc00\ud800", "\ud83d", "Mairie \udce9"]

BIDI = ["\u202e", "abc\u202edef", "\u202agpj.exe", "\u2066x\u2069", "\u200f", "\u200e",
        "\u061c", "\u202d1234", "\u2067", "\u2068", "Mairie \u202eed ruoJ", "\u202b\u202c"]

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "a\u200bb", "\u200b" * 10,
              "\u00ad", "\u034f", "\u2061", "\U000e0041", "\u200b\u200c\u200d\u2060",
              "Mairie\u200b", "\ufeffoui"]

EMOJI = ["😀", "👩\u200d💻", "👨\u200d👩\u200d👧\u200d👦", "🏳\ufe0f\u200d🌈", "🇫🇷", "1\ufe0f\u20e3",
         "👍🏽", "😀" * 50, "🫠", "❤\ufe0f", "Mairie 🏛\ufe0f", "e\u0301", "a" + "\u0301" * 100,
         "Z\u0337\u0327\u031b\u0318a\u0335l\u0337g\u0334o\u0336", "ﷺ", "𒐫", "𝔐𝔞𝔦𝔯𝔦𝔢"]

MARKUP = ["<script>alert(1)</script>", "<b>gras</b>", "<img src=x onerror=alert(1)>", "&lt;",
          "&amp;amp;", "**gras**", "_italique_", "[lien](javascript:alert(1))", "`code`",
          "```\nbloc\n```", "# titre", "> citation", "<a href='javascript:alert(1)'>x</a>",
          "<!--", "]]>", "*", "~~barré~~", "||spoiler||", "@everyone", "@room", "<@123>",
          "<tg-spoiler>x</tg-spoiler>", "\\", "{name}", "{0}", "%s%s%s", "${jndi:ldap://x}"]

FORMULAS = ["=1+1", "=SUM(A1:A9)", "+1", "-1", "@SUM(1)", '=HYPERLINK("http://x.fr","y")',
            "=cmd|' /C calc'!A0", "\t=1+1", "=1+1;1", "=IMPORTXML(CONCAT(\"http://x/\"),\"//a\")",
            "+33=1", "=0x1"]

SQL = ["'; DROP TABLE answers; --", "\" OR 1=1 --", "1; SELECT pg_sleep(10)", "' OR ''='",
       "Robert'); DROP TABLE students;--", "%", "_", "\\x00", "$$", "E'\\\\'", "/*", "*/",
       "1 UNION SELECT * FROM people", "1' AND SLEEP(5)#", "NULL", "null", "None", "undefined",
       "true", "[]", "{}", '{"a": 1}']

NUMBERS = ["0", "-0", "+0", "00", "007", "1", "12", "-1", "1e3", "1E3", "1,5", "1.5", "1.000",
           "1,000", "1 000", "1\u00a0000", "1\u202f000", "1'000", "1_000", "0x10", "0b11", "0o7",
           "Infinity", "-inf", "NaN", "nan", "∞", "½", "²", "¹²", "١٢", "٣٤٥", "१२", "１２",
           "12.", ".5", ",5", "1..2", "1,,2", "1,2,3", "--1", "+-1", "1-", "9" * 30, "-" + "9" * 30,
           "1/2", "3 %", "%50", "50%%", "101", "100", "100.0", "-0.0001", "1e-999", "0.1+0.2",
           "٫٥", "1٫5", "Ⅻ", "XII", "douze", "12 €", "€12", "12k", "12,5 %", "50\u00a0%",
           "1 2 3", "99999999999999999999", "4", "7", "٧"]

DATES = ["01/02/2020", "2020-02-01", "02/01/2020", "1/2/20", "31/02/2024", "29/02/2023",
         "29/02/2024", "00/00/0000", "32/01/2020", "01/13/2020", "2020/02/01", "01.02.2020",
         "01-02-2020", "1er février 2020", "February 1, 2020", "2020-02-01T10:00:00Z", "20200201",
         "01/02/1999", "01/02/2025", "01/02/0001", "01/02/9999", "٠١/٠٢/٢٠٢٠", "１５/１０/２０２０",
         "15/10/２０２０", "aujourd'hui", "hier", "31/12/2024", "01/01/2000", "31/12/1999",
         "2020-2-1", "2020-02-30", " 01/02/2020 ", "01/02/2020\u200b", "²/02/2020"]

URLS = ["javascript:alert(1)", "JavaScript:alert(1)", "javascript://example.fr/%0aalert(1)",
        "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
        "file:///etc/passwd", "http://127.0.0.1/admin", "http://localhost", "https://example.fr",
        "example.fr", "https://exämple.fr", "https://xn--exmple-cua.fr", "https:///x", "https://",
        "http://a", "https://a..fr", "https://.fr", "https://fr.", "ftp://example.fr",
        "//example.fr", "https://user:pass@example.fr", "https://example.fr:99999",
        "https://example.fr:abc", "https://example.fr/<script>", "https://\u0435xample.fr",
        "https://example.fr\\@evil.com", "http://[::1]", "https://a.fr/" + "x" * 3000,
        "javascript:alert(1)//https://x.fr", "  https://example.fr  ", "https://example.fr/\u202e",
        "mailto:a@b.fr", "tel:+33123456789", "javascript:alert(document.cookie)"]

EMAILS = ["a@b.fr", "a@b", "@b.fr", "a@@b.fr", "a..b@c.fr", '"a b"@c.fr', "a@b.fr\n",
          "a@b.fr<script>", "ａ@b.fr", "a@exämple.fr", "a+tag@b.fr", "x" * 250 + "@b.fr",
          "prenom.nom@mairie.fr", "=a@b.fr"]

PHONES = ["01 23 45 67 89", "+33 1 23 45 67 89", "0033123456789", "0123456789",
          "01.23.45.67.89", "(01) 23 45 67 89", "+33 (0)1 23 45 67 89", "012345678",
          "01234567890", "+1", "٠١٢٣٤٥٦٧٨٩", "01٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "+٣٣١٢٣٤٥٦٧٨٩",
          "tel:0123456789", "0800 00 00 00", "+999999999999999999", "+33 1 23 45 67 8٩"]

IDENTIFIERS = ["732829320", "732 829 320", "732829321", "73282932", "7328293200",
               "٧٣٢٨٢٩٣٢٠", "７３２８２９３２０", "000000000", "SIREN 732829320", "732.829.320",
               "732-829-320", "73282932000074", "73282932\u0660"]

WORDS = ["oui", "OUI", "Oui.", "Öui", "\u03bfui", "ｏｕｉ", "ou\u0456", "yes", "non", "NON!",
         "nön", "peut-être", "o", "n", "si", "ja", "✅", "👍", "Commune", "commune", "COMMUNE",
         "\u0421ommune", "autre", "Autre", "libreoffice", "1, 2", "1;2", "1 2", "1,1,1", "1, 99",
         "2016", "2016, 2018", "debian,ubuntu", "0, 1", "-1", "1-3"]

COMMAND_NAMES = ["/\u0430ide", "/ａｉｄｅ", "／aide", "/aide\u200b", "/\u200baide", "/AIDE", "/Aide",
                 "/aíde", "/modifier\u00a03", "/deposer\u202e", "/déposer", "/DÉPOSER",
                 "/d\u0435poser", "/\u02c8aide", "/start@tnlbot", "/aide@autre_bot", "//aide", "/",
                 "/ ", "/\x00", "/\ud800", "/" + "a" * 1000, "/\x1b[2J", "/\u202eedia",
                 "/passer\u0000", "/recap\t1", "/langue\u3000en", "/🤖", "/ˈstart", "/STATUT"]

FAMILIES: dict[str, list[str]] = {
    "empty": EMPTY, "huge": HUGE, "control": CONTROL, "surrogates": SURROGATES, "bidi": BIDI,
    "zero-width": ZERO_WIDTH, "emoji": EMOJI, "markup": MARKUP, "formulas": FORMULAS, "sql": SQL,
    "numbers": NUMBERS, "dates": DATES, "urls": URLS, "emails": EMAILS, "phones": PHONES,
    "identifiers": IDENTIFIERS, "words": WORDS,
}

CORPUS: list[tuple[str, str]] = [(family, text) for family, texts in FAMILIES.items()
                                 for text in texts]

FILE_NAMES = [name for _, name in CORPUS if len(name) < 300] + [
    "deliberation.pdf", "délibération 2024.pdf", "x.PDF", "x.pdf.exe", "x.exe.pdf", ".pdf", "pdf",
    "x\u202efdp.exe", "x\u202eexe.pdf", "x\x00.pdf", "x\ud800.pdf", "../../etc/passwd.pdf",
    "C:\\Windows\\x.pdf", "x" * 300 + ".pdf", "=1+1.pdf", "<b>x</b>.odt", "x.odt\u200b"]


def ident(text: str, limit: int = 24) -> str:
    """A short printable name for a test id."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else f"{shown[:limit]}…({len(text)})"
