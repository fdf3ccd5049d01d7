"""`tnlbot campaign create/open/close/show/list` on a SQLite file."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tnlbot.cli import main
from tnlbot.store import Store
from tnlbot.store import tables as T


@pytest.fixture
def db(tmp_path, monkeypatch):
    url = Store.sqlite_url(tmp_path / "cli.db")
    monkeypatch.setenv("TNLBOT_DATABASE_URL", url)
    return url


def campaigns(url: str) -> list:
    store = Store(url)
    try:
        with store.begin() as conn:
            return conn.execute(select(T.campaigns).order_by(T.campaigns.c.id)).all()
    finally:
        store.close()


def test_create_show_and_list_a_campaign(db, capsys, tmp_path):
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
def test_bad_campaigns_are_refused_with_a_reason(db, capsys, argv, error):
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


def test_hour_offsets_and_the_badge_flow_in_show(db, capsys):
    assert main(["campaign", "create", "badge-2025", "--flow", "tnl-2025-badge", "--opens", "2025-09-19",
                 "--closes", "2025-10-19", "--reminders", "7, 1, 1d12h, 6h"]) == 0
    assert main(["campaign", "show", "badge-2025"]) == 0
    shown = capsys.readouterr().out
    assert "reminders: 7 days, 1 day, 36 hours, 6 hours before closing" in shown
    assert " h36: Sat 18 Oct 2025 12:00 CEST -> Sat 18 Oct 2025 12:00 CEST" in shown
    assert "h6:" not in shown and "d1:" not in shown   # moved past Sunday, they would fall after closing
    assert "élu confirmation not asked (this flow has no élu référent question)" in shown
    assert "élu confirmation required" not in shown


def test_edit_extend_close_and_reopen_say_what_changes_and_keep_a_log(db, capsys):
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
