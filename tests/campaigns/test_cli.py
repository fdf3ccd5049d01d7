"""`tnlbot campaign create/open/close/show/list/edit/extend/reopen` on a SQLite file, in the
operator's language (French when the environment names none, English when LANG says so)."""
from __future__ import annotations

import getpass
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from babel import Locale
from sqlalchemy import select

from tnlbot.cli import main
from tnlbot.store import Store
from tnlbot.store import tables as T


@pytest.fixture
def db(tmp_path, monkeypatch):
    url = Store.sqlite_url(tmp_path / "cli.db")
    monkeypatch.setenv("TNLBOT_DATABASE_URL", url)
    return url


def speak(monkeypatch, lang: str) -> None:
    """The operator's language, as their terminal sets it."""
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", lang)


@pytest.fixture
def english(monkeypatch):
    speak(monkeypatch, "en_US.UTF-8")


@pytest.fixture
def french(monkeypatch):
    speak(monkeypatch, "fr_FR.UTF-8")


def campaigns(url: str) -> list:
    store = Store(url)
    try:
        with store.begin() as conn:
            return conn.execute(select(T.campaigns).order_by(T.campaigns.c.id)).all()
    finally:
        store.close()


def test_create_show_and_list_a_campaign(db, english, capsys, tmp_path):
    spec = tmp_path / "tnl-2024.yaml"
    spec.write_text("slug: tnl-2024\nflow: tnl-2022\nyear: 2024\nopens: 2024-06-12\ncloses: 2024-11-08\n"
                    "reminders: {before_days: [14, 7, 2, 1], inactivity_days: 10}\n"
                    "jury: [{transport: matrix, chat_id: '!jury:example.org'}]\n", encoding="utf-8")
    assert main(["campaign", "create", "--file", str(spec), "--jury", "telegram:-1001234"]) == 0
    assert "created tnl-2024 (scheduled)" in capsys.readouterr().out
    [row] = campaigns(db)
    assert row.opens_at == datetime(2024, 6, 11, 22, 0, tzinfo=timezone.utc)     # 00:00 in Paris
    assert row.closes_at == datetime(2024, 11, 8, 23, 0, tzinfo=timezone.utc)    # the end of 8 November
    assert main(["campaign", "show", "tnl-2024"]) == 0
    shown = capsys.readouterr().out
    assert "jury: matrix:!jury:example.org, telegram:-1001234" in shown
    assert "d14: Sat 26 Oct 2024 00:00 CEST -> Sat 26 Oct 2024 08:00 CEST" in shown
    assert "d2: Thu 07 Nov 2024 00:00 CET -> Thu 07 Nov 2024 08:00 CET" in shown
    assert "élu confirmation required before submitting" in shown
    assert main(["campaign", "list"]) == 0
    assert "tnl-2024" in capsys.readouterr().out


@pytest.mark.parametrize("argv,error", [
    (["campaign", "create", "x", "--flow", "nope", "--opens", "2024-06-12", "--closes", "2024-11-08"],
     "unknown flow 'nope'"),
    (["campaign", "create", "x", "--flow", "tnl-2022", "--opens", "2024-06-12", "--closes", "2024-06-01"],
     "a campaign must close after it opens"),
    (["campaign", "create", "x", "--flow", "tnl-2022", "--opens", "demain", "--closes", "2024-06-01"],
     "not a date: 'demain'"),
    (["campaign", "create", "x", "--flow", "tnl-2022", "--opens", "2024-06-12", "--closes", "2024-11-08",
      "--jury", "fax:123"], "jury[0]: expected transport"),
    (["campaign", "create", "x", "--flow", "tnl-2022", "--opens", "2024-06-12", "--closes", "2024-11-08",
      "--timezone", "Mars/Olympus"], "campaign not created"),
    (["campaign", "create", "--flow", "tnl-2022"], "missing: slug, opens, closes"),
    (["campaign", "create", "x", "--flow", "tnl-2022", "--opens", "2024-06-12", "--closes", "2024-11-08",
      "--reminders", "14,0.005"], "--reminders: '0.005' is not an offset: write whole days (14 or 14d) "
                                   "or hours (12h, 1d12h)"),
    (["campaign", "create", "x", "--flow", "tnl-2022", "--opens", "2024-06-12", "--closes", "2024-11-08",
      "--reminders", "400"], "--reminders: '400' is out of range"),
])
def test_bad_campaigns_are_refused_with_a_reason(db, english, capsys, argv, error):
    assert main(argv) == 2
    assert error in capsys.readouterr().err
    assert campaigns(db) == []


def test_open_then_close_now(db, capsys, monkeypatch):
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")            # the operator's language, from locales/
    now = datetime.now(timezone.utc)
    opens, closes = (now + timedelta(days=3)).date().isoformat(), (now + timedelta(days=60)).date().isoformat()
    assert main(["campaign", "create", "soon", "--flow", "tnl-2022", "--opens", opens, "--closes", closes,
                 "--jury", "console:jury"]) == 0
    capsys.readouterr()
    assert main(["campaign", "open", "soon"]) == 0
    assert capsys.readouterr().out == "soon est ouverte\n"
    [row] = campaigns(db)
    assert row.state == "open" and row.opens_at <= datetime.now(timezone.utc)
    assert main(["campaign", "list"]) == 0
    assert capsys.readouterr().out.startswith(f"{'soon':24} ouverte    {'tnl-2022':16} ")
    assert main(["campaign", "close", "soon"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('soon est close : {"submitted": 0') and " avis mis en file ; fichiers : " in out
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    assert main(["campaign", "close", "soon"]) == 0
    assert capsys.readouterr().out == "soon was already closed\n"
    assert main(["campaign", "open", "soon"]) == 1
    assert capsys.readouterr().err == ("soon is closed: to give it a new closing, type tnlbot campaign reopen "
                                       "soon --closes ...\n")
    [row] = campaigns(db)
    assert row.state == "closed" and row.closes_at <= datetime.now(timezone.utc)
    assert main(["campaign", "show", "nope"]) == 1
    assert capsys.readouterr().err == 'no campaign "nope": type tnlbot campaign list to see the campaigns\n'
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    assert main(["campaign", "open", "nope"]) == 1
    assert capsys.readouterr().err == ("aucune campagne « nope » : tapez tnlbot campaign list pour voir les "
                                       "campagnes\n")


def test_hour_offsets_and_the_badge_flow_in_show(db, english, capsys):
    assert main(["campaign", "create", "badge-2025", "--flow", "tnl-2025-badge", "--opens", "2025-09-19",
                 "--closes", "2025-10-19", "--reminders", "7, 1, 1d12h, 6h"]) == 0
    assert main(["campaign", "show", "badge-2025"]) == 0
    shown = capsys.readouterr().out
    assert "reminders: 7 days, 1 day, 36 hours, 6 hours before closing" in shown
    assert " h36: Sat 18 Oct 2025 12:00 CEST -> Sat 18 Oct 2025 12:00 CEST" in shown
    assert "h6:" not in shown and "d1:" not in shown   # moved past Sunday, they would fall after closing
    assert "élu confirmation not asked (this flow has no élu référent question)" in shown
    assert "élu confirmation required" not in shown


def test_edit_extend_close_and_reopen_say_what_changes_and_keep_a_log(db, english, capsys):
    now = datetime.now(timezone.utc)
    day = lambda n: (now + timedelta(days=n)).date().isoformat()  # noqa: E731
    assert main(["campaign", "create", "ed", "--flow", "tnl-2022", "--opens", day(-1), "--closes", day(30),
                 "--jury", "console:jury", "--open"]) == 0
    capsys.readouterr()
    assert main(["campaign", "edit", "ed", "--reminders", "7,1,12h", "--add-jury", "telegram:-100"]) == 1
    said = capsys.readouterr().out
    assert "ed: edit\n  reminders: 14d,7d,2d,1d before closing" in said
    assert "-> 7d,1d,12h before closing, inactivity 10 days, at most 6" in said
    assert "  jury: console:jury -> console:jury, telegram:-100" in said
    assert "ed not changed (answer yes, or pass --yes)" in said       # no terminal, no --yes
    [row] = campaigns(db)
    assert "12h" not in row.config
    assert main(["campaign", "edit", "ed", "--reminders", "7,1,12h", "--add-jury", "telegram:-100",
                 "--yes"]) == 0
    assert main(["campaign", "extend", "ed", "--closes", day(20)]) == 2
    assert "the new closing must be later than the current one" in capsys.readouterr().err
    assert main(["campaign", "extend", "ed", "--closes", day(40), "--yes"]) == 0
    said = capsys.readouterr().out
    assert "ed: extend\n  closes: " in said and "(more time to answer and submit;" in said
    assert main(["campaign", "reopen", "ed", "--closes", day(50), "--yes"]) == 2
    assert "ed is not closed (open): use `tnlbot campaign extend`" in capsys.readouterr().err
    assert main(["campaign", "close", "ed"]) == 0
    assert main(["campaign", "extend", "ed", "--closes", day(50)]) == 2
    assert "ed is closed: use `tnlbot campaign reopen ed --closes ...`" in capsys.readouterr().err
    assert main(["campaign", "reopen", "ed", "--closes", day(50), "--yes"]) == 0
    said = capsys.readouterr().out
    assert "  state: closed -> open" in said and "  frozen drafts: 0 -> 0" in said
    [row] = campaigns(db)
    assert row.state == "open" and row.closed_at is None and row.closes_at > now + timedelta(days=49)
    assert main(["campaign", "show", "ed"]) == 0
    shown = capsys.readouterr().out
    log = shown.split("  changes:\n")[1].splitlines()
    assert [line.split(" by ")[0].split()[-1] for line in log] == ["edit", "extend", "reopen"]
    assert "reminders: 7 days, 1 day, 12 hours before closing" in shown
    assert "jury: console:jury, telegram:-100" in shown


def _options_of(*path: str) -> dict[str, tuple]:
    import argparse

    from tnlbot.cli import parser
    found = parser()
    for name in path:
        [sub] = [a for a in found._actions if isinstance(a, argparse._SubParsersAction)]
        found = sub.choices[name]
    return {a.option_strings[0]: (a.dest, a.type, a.default, a.help) for a in found._actions if a.option_strings}


def test_create_and_edit_take_the_same_schedule_options(db, capsys):
    schedule = ("--opens", "--closes", "--reminders", "--idle-days", "--max-reminders")
    create, edit = _options_of("campaign", "create"), _options_of("campaign", "edit")
    assert [create[o] for o in schedule] == [edit[o] for o in schedule]
    now = datetime.now(timezone.utc)
    day = lambda n: (now + timedelta(days=n)).date().isoformat()  # noqa: E731
    assert main(["campaign", "create", "sch", "--flow", "tnl-2022", "--opens", day(-1), "--closes", day(30),
                 "--reminders", "3,1", "--idle-days", "4", "--max-reminders", "2"]) == 0
    [row] = campaigns(db)
    assert json.loads(row.config)["reminders"] == {"before_days": [3, 1], "inactivity_days": 4, "max_per_person": 2}
    assert main(["campaign", "edit", "sch", "--reminders", "5", "--idle-days", "0", "--max-reminders", "1",
                 "--yes"]) == 0
    [row] = campaigns(db)
    assert json.loads(row.config)["reminders"] == {"before_days": [5], "inactivity_days": 0, "max_per_person": 1}


def test_the_report_command_says_what_it_wrote_in_the_operators_language(db, capsys, monkeypatch, tmp_path):
    assert main(["campaign", "create", "rep", "--flow", "tnl-2022", "--opens", "2024-06-12",
                 "--closes", "2024-11-08"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    assert main(["campaign", "report", "rep", "--out", str(tmp_path / "fr")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line.endswith(" octets") for line in lines[:-1]) and len(lines) >= 2
    assert lines[-1].startswith("commencées 0, déposées 0, modifiées sans nouveau dépôt 0, brouillons 0")
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    assert main(["campaign", "report", "rep", "--out", str(tmp_path / "en")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line.endswith(" bytes") for line in lines[:-1])
    assert lines[-1].startswith("started 0, submitted 0, amended not resubmitted 0, drafts 0")


# ------------------------------------------------------------------ in the operator's language

TNL_2024 = ["--flow", "tnl-2022", "--opens", "2024-06-12", "--closes", "2024-11-08"]


@pytest.mark.parametrize("lang,created,no_flow,exists,bad_date", [
    ("fr_FR.UTF-8", "campagne tnl-2024 créée (programmée)\n",
     "campagne non créée : questionnaire inconnu « nope » (questionnaires : tnl-2022, tnl-2025-badge)\n",
     "campagne non créée : la campagne « tnl-2024 » existe déjà\n",
     "campagne non créée : « demain » n'est pas une date (écrivez 2024-11-08 ou 2024-11-08 18:00)\n"),
    ("en_US.UTF-8", "created tnl-2024 (scheduled)\n",
     "campaign not created: unknown flow 'nope' (tnl-2022, tnl-2025-badge)\n",
     "campaign not created: 'tnl-2024' exists\n",
     "campaign not created: not a date: 'demain' (expected 2024-11-08 or 2024-11-08 18:00)\n"),
])
def test_create_says_what_it_did_or_why_not_in_the_operators_language(db, capsys, monkeypatch, lang, created,
                                                                       no_flow, exists, bad_date):
    speak(monkeypatch, lang)
    assert main(["campaign", "create", "tnl-2024", *TNL_2024]) == 0
    assert capsys.readouterr().out == created
    for argv, said in ((["x", "--flow", "nope", "--opens", "2024-06-12", "--closes", "2024-11-08"], no_flow),
                       (["tnl-2024", *TNL_2024], exists),
                       (["x", "--flow", "tnl-2022", "--opens", "demain", "--closes", "2024-11-08"], bad_date)):
        assert main(["campaign", "create", *argv]) == 2
        assert capsys.readouterr() == ("", said)
    assert [row.slug for row in campaigns(db)] == ["tnl-2024"]


def test_without_a_language_in_the_environment_create_speaks_french(db, capsys, monkeypatch):
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    assert main(["campaign", "create", "tnl-2024", *TNL_2024, "--reminders", "14,0.005"]) == 2
    assert capsys.readouterr().err == ("campagne non créée : --reminders : « 0.005 » n'est pas un délai : écrivez "
                                       "des jours entiers (14 ou 14j) ou des heures (12h, 1j12h), entre 1 heure et "
                                       "365 jours, par exemple 14,7,2,1,12h\n")


def created_and_edited(capsys) -> None:
    assert main(["campaign", "create", "tnl-2024", *TNL_2024, "--jury", "matrix:!jury:example.org"]) == 0
    assert main(["campaign", "edit", "tnl-2024", "--reminders", "7,1,12h", "--elu-confirmation", "no",
                 "--add-jury", "telegram:-100", "--yes"]) == 0
    capsys.readouterr()


def test_show_in_french(db, french, capsys):
    created_and_edited(capsys)
    assert main(["campaign", "show", "tnl-2024"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:9] == [
        "tnl-2024 : tnl-2022 (label 2022), programmée",
        "  ouverture  12 juin 2024, 00:00 (Europe/Paris)",
        "  clôture    9 novembre 2024, 00:00",
        "  candidatures : aucune",
        "  relances : 7 jours, 1 jour, 12 heures avant la clôture ; après 10 jours sans activité ; au plus 6 par "
        "personne ; aucun envoi de 20:00 à 08:00, ni ces jours-là : dimanche",
        "  jury : matrix:!jury:example.org, telegram:-100",
        "  confirmation de l'élu(e) référent(e) non exigée ; codes d'invitation valables 7 jours",
        "  rattachement à une collectivité vérifié par l'équipe du label",
        "  calendrier des relances (créneau dN ou hN : N jours ou N heures avant la clôture -> envoi, après les "
        "heures sans envoi) :"]
    assert "      d7 : sam. 02 nov. 2024 00:00 CET -> sam. 02 nov. 2024 08:00 CET  (0 envoyée)" in lines
    assert lines[-2] == "  changements :"
    assert lines[-1].endswith(
        " modification par " + getpass.getuser() + " : relances 14j,7j,2j,1j avant la clôture, après 10 jours sans "
        "activité, au plus 6 -> 7j,1j,12h avant la clôture, après 10 jours sans activité, au plus 6 ; jury "
        "matrix:!jury:example.org -> matrix:!jury:example.org, telegram:-100 ; confirmation de l'élu(e) oui -> non")


def test_show_in_english(db, english, capsys):
    created_and_edited(capsys)
    assert main(["campaign", "show", "tnl-2024"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["tnl-2024: tnl-2022 (label 2022), scheduled",
                         "  opens   12 June 2024, 00:00 (Europe/Paris)",
                         "  closes  9 November 2024, 00:00"]
    assert "  élu confirmation not required; invitations valid 7 days" in lines
    assert "      d7: Sat 02 Nov 2024 00:00 CET -> Sat 02 Nov 2024 08:00 CET  (0 sent)" in lines
    assert lines[-1].endswith(
        " edit by " + getpass.getuser() + ": reminders 14d,7d,2d,1d before closing, inactivity 10 days, at most 6 "
        "-> 7d,1d,12h before closing, inactivity 10 days, at most 6; jury matrix:!jury:example.org -> "
        "matrix:!jury:example.org, telegram:-100; élu confirmation yes -> no")


class Terminal(io.StringIO):
    """The operator at a terminal, who types `answer` when asked."""

    def isatty(self) -> bool:
        return True


def open_campaign(capsys) -> tuple[str, str]:
    now = datetime.now(timezone.utc)
    day = lambda n: (now + timedelta(days=n)).date().isoformat()  # noqa: E731
    assert main(["campaign", "create", "ed", "--flow", "tnl-2022", "--opens", day(-1), "--closes", day(30),
                 "--open"]) == 0
    capsys.readouterr()
    return day(30), day(40)


def test_a_change_in_french_asks_and_a_french_yes_applies_it(db, french, capsys, monkeypatch):
    closes, later = open_campaign(capsys)
    assert main(["campaign", "edit", "ed"]) == 0
    assert capsys.readouterr().out == "ed : rien à changer\n"
    assert main(["campaign", "extend", "ed", "--closes", closes]) == 2
    assert capsys.readouterr().err.startswith("ed n'a pas changé : la nouvelle clôture doit venir après l'actuelle (")
    assert main(["campaign", "reopen", "ed", "--closes", later]) == 2
    assert capsys.readouterr().err == ("ed n'a pas changé : ed n'est pas close : pour déplacer sa clôture, tapez "
                                       "tnlbot campaign extend ed --closes ...\n")
    assert main(["campaign", "extend", "ed", "--closes", later]) == 1        # no terminal, no --yes
    said = capsys.readouterr().out.splitlines()
    assert said[0] == "ed : prolongation"
    assert said[1].startswith("  clôture : ") and " -> " in said[1]
    assert said[2] == ("      (plus de temps pour répondre et déposer ; les relances pas encore envoyées suivent "
                       "la nouvelle date, celles déjà envoyées ne repartent pas)")
    assert said[3] == "ed n'a pas changé (répondez oui, ou ajoutez --yes)"
    monkeypatch.setattr("sys.stdin", Terminal("non\n"))
    assert main(["campaign", "extend", "ed", "--closes", later]) == 1
    assert capsys.readouterr().out.endswith("Appliquer ces changements ? [o/N] "
                                            "ed n'a pas changé (répondez oui, ou ajoutez --yes)\n")
    [row] = campaigns(db)
    assert row.closes_at < datetime.now(timezone.utc) + timedelta(days=31)
    monkeypatch.setattr("sys.stdin", Terminal("oui\n"))
    assert main(["campaign", "extend", "ed", "--closes", later]) == 0
    assert capsys.readouterr().out.endswith("Appliquer ces changements ? [o/N] ed a changé (prolongation) ; "
                                            "tapez tnlbot campaign show ed pour voir la liste des changements\n")
    [row] = campaigns(db)
    assert row.closes_at > datetime.now(timezone.utc) + timedelta(days=39)
    assert main(["campaign", "close", "ed"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", Terminal("o\n"))
    assert main(["campaign", "reopen", "ed", "--closes", later]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[:3] == ["ed : réouverture", "  état : close -> ouverte",
                        "      (les agents peuvent de nouveau répondre, modifier et déposer)"]
    assert said[-3:-1] == ["  brouillons gelés : 0 -> 0",
                         "      (0 brouillon gelé à la clôture peut de nouveau être complété et déposé)"]
    assert main(["campaign", "show", "ed"]) == 0
    log = capsys.readouterr().out.split("  changements :\n")[1].splitlines()
    assert [line.split(" par ")[0].rsplit(" ", 1)[-1] for line in log] == ["prolongation", "réouverture"]
    assert re.search(r" : clôture \d+ \w+ \d{4}, \d\d:\d\d -> \d+ \w+ \d{4}, 00:00$", log[0]), log[0]
    assert " : état close -> ouverte ; clôture " in log[1] and log[1].endswith(" ; brouillons gelés 0 -> 0")
    months = re.findall(r"\d+ (\w+) \d{4}", log[0] + log[1])   # each entry's date, before, after: in French
    assert len(months) == 6 and set(months) <= set(Locale.parse("fr").months["format"]["wide"].values())


def test_a_change_in_english_asks_and_an_english_yes_applies_it(db, english, capsys, monkeypatch):
    closes, later = open_campaign(capsys)
    assert main(["campaign", "edit", "ed"]) == 0
    assert capsys.readouterr().out == "ed: nothing to change\n"
    assert main(["campaign", "edit", "ed", "--remove-jury", "matrix:!nope"]) == 2
    assert capsys.readouterr().err == "ed not changed: not a jury destination of this campaign: matrix:!nope\n"
    monkeypatch.setattr("sys.stdin", Terminal("\n"))
    assert main(["campaign", "edit", "ed", "--add-jury", "console:jury"]) == 1
    assert capsys.readouterr().out == ("ed: edit\n  jury: no destination -> console:jury\n"
                                       "      (where the jury's closing notice and exports go)\n"
                                       "Apply these changes? [y/N] ed not changed (answer yes, or pass --yes)\n")
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert main(["campaign", "edit", "ed", "--add-jury", "console:jury"]) == 0
    assert capsys.readouterr().out.endswith("Apply these changes? [y/N] ed changed (edit); "
                                            "`tnlbot campaign show ed` lists the changes\n")
    assert json.loads(campaigns(db)[0].config)["jury"] == [{"transport": "console", "chat_id": "jury"}]


def test_every_message_the_campaign_commands_use_is_in_both_languages():
    """Keys named in the code, the keys built from a name (fields, commands, effects, states,
    statuses, refusals), and the effects the change plans name: each has its French and English."""
    import ast
    from pathlib import Path

    import tnlbot
    from tnlbot.campaigns import cli_say
    from tnlbot.i18n import load_catalog
    catalog = load_catalog()
    root = Path(tnlbot.__file__).parent
    files = [root / "say.py"] + [root / "campaigns" / f"{name}.py" for name in (
        "cli", "cli_changes", "cli_say", "cli_common", "cli_report", "changes", "config")]
    sources = {p: ast.parse(p.read_text(encoding="utf-8")) for p in files}
    errors = {node.args[1].value for tree in sources.values() for node in ast.walk(tree)
              if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ConfigError"
              and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)}
    built = {"campaign.change.field.": set(cli_say.FIELDS.values()), "campaign.change.command.": cli_say.COMMANDS,
             "campaign.change.effect.": cli_say.EFFECTS, "campaign.cli.state.": cli_say.STATES,
             "report.status.": cli_say.STATUSES, "campaign.error.": errors}
    keys = {n.value for tree in sources.values() for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and re.fullmatch(r"campaign\.(cli|show|change|error)\.[a-z_.]*[a-z_]", n.value)}
    prefixes = {n.values[0].value for tree in sources.values() for n in ast.walk(tree)
                if isinstance(n, ast.JoinedStr) and n.values and isinstance(n.values[0], ast.Constant)
                and re.fullmatch(r"(campaign|report)\.[a-z_.]+\.", str(n.values[0].value))}
    assert prefixes <= set(built), prefixes - set(built)       # every key built from a name is listed above
    keys |= {prefix + name for prefix, names in built.items() for name in names}
    effects = {c.value for tree in sources.values() for call in ast.walk(tree) if isinstance(call, ast.Call)
               and getattr(call.func, "id", None) == "Change" and len(call.args) > 3
               for c in ast.walk(call.args[3]) if isinstance(c, ast.Constant)}
    effects |= {t.elts[3].value for tree in sources.values() for t in ast.walk(tree)
                if isinstance(t, ast.Tuple) and len(t.elts) == 4 and isinstance(t.elts[0], ast.Constant)
                and t.elts[0].value in cli_say.FIELDS and isinstance(t.elts[3], ast.Constant)}
    assert {"closes_later", "frozen_drafts", "invitation_days"} <= effects <= set(cli_say.EFFECTS)
    assert len(keys) > 100
    for locale in ("fr", "en"):
        assert sorted(keys - catalog.keys(locale)) == [], locale
