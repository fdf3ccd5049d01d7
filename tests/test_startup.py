"""Start-up problems through the real `tnlbot` command: one clear line each, exit code 2, no traceback."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tnlbot.flows import BUNDLED

ROOT = Path(__file__).resolve().parent.parent


def tnlbot(tmp_path: Path, *args: str, lang: str = "fr_FR.UTF-8", **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TNLBOT_", "LC_"))}
    environ.update(LANG=lang, TNLBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}", **env)
    return subprocess.run([sys.executable, "-m", "tnlbot", *args], input="", capture_output=True, text=True,
                          timeout=60, env=environ, cwd=ROOT, check=False)


def flows_copy(tmp_path: Path, *flow_ids: str) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    for path in BUNDLED.glob("*.yaml"):
        if path.name.split(".")[0] in flow_ids:
            shutil.copy(path, folder / path.name)
    return folder


def cannot_start(run: subprocess.CompletedProcess[str]) -> list[str]:
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    return run.stderr.splitlines()


def test_a_broken_flow_is_named_with_its_place_and_how_to_check_it(tmp_path: Path) -> None:
    folder = flows_copy(tmp_path, "tnl-2022", "tnl-2025-badge")
    badge = folder / "tnl-2025-badge.yaml"
    badge.write_text(badge.read_text().replace("max_length: 200\n", "max_length: abc\n")
                     .replace("kind: email\n", "kind: courriel\n"), encoding="utf-8")
    lines = cannot_start(tnlbot(tmp_path, "chat", TNLBOT_FLOWS_DIR=str(folder)))
    assert lines == [
        (f"Questionnaire invalide : tnl-2025-badge.yaml volets[0](identification).questions[0](nom_collectivite)"
        f".max_length : « abc » n'est pas un nombre entier positif. Corrigez-le dans {folder}, puis vérifiez "
        f"avec « tnlbot check-flows {folder} »."),
        (f"Questionnaire invalide : tnl-2025-badge.yaml volets[0](identification).questions[4](email_contact)"
        f".kind : type de question « courriel » inconnu (yes_no, single_choice, multiple_choice, short_text, "
        f"long_text, integer, decimal, percentage, date, email, url, phone, siren, siret, departement, file, repeat, notice)."
        f" Corrigez-le dans {folder}, puis vérifiez avec « tnlbot check-flows {folder} »."),
    ]


def test_a_flow_missing_its_english_texts_is_one_line(tmp_path: Path) -> None:
    folder = flows_copy(tmp_path, "tnl-2022")
    (folder / "tnl-2022.en.yaml").unlink()
    lines = cannot_start(tnlbot(tmp_path, "chat", lang="en_GB.UTF-8", TNLBOT_FLOWS_DIR=str(folder)))
    assert lines == [(f"Invalid flow: tnl-2022.en.yaml: the file is missing: every flow needs a text file per "
                     f"language. Fix it in {folder}, then check with “tnlbot check-flows {folder}”.")]


def test_a_missing_default_flow_is_said_and_a_campaign_on_another_flow_still_starts(tmp_path: Path) -> None:
    folder = flows_copy(tmp_path, "tnl-2025-badge")
    lines = cannot_start(tnlbot(tmp_path, "chat", TNLBOT_FLOWS_DIR=str(folder)))
    assert lines == [(f"Le questionnaire par défaut « tnl-2022 » n'est pas dans {folder} (questionnaires : "
                     "tnl-2025-badge) : choisissez-en un avec default_flow (ou TNLBOT_DEFAULT_FLOW), ou créez "
                     "une campagne avec « tnlbot campaign create ».")]
    created = tnlbot(tmp_path, "campaign", "create", "badge-2025", "--flow", "tnl-2025-badge", "--opens",
                     "2020-01-01", "--closes", "2099-12-31", "--open", TNLBOT_FLOWS_DIR=str(folder))
    assert created.returncode == 0, created.stderr
    chat = tnlbot(tmp_path, "chat", TNLBOT_FLOWS_DIR=str(folder))
    assert chat.returncode == 0, chat.stderr
    assert "Badge Territoire Numérique Libre 2025" in chat.stdout


def test_an_unknown_campaign_is_said_with_the_known_ones(tmp_path: Path) -> None:
    lines = cannot_start(tnlbot(tmp_path, "run", lang="en_GB.UTF-8", TNLBOT_CAMPAIGN="tnl-2031"))
    assert lines == [("The campaign “tnl-2031” (setting campaign or TNLBOT_CAMPAIGN) does not exist (campaigns: "
                     "none): create it with “tnlbot campaign create tnl-2031 --flow ...” or correct the setting.")]


def test_missing_message_files_and_an_unreadable_configuration(tmp_path: Path) -> None:
    empty = tmp_path / "locales"
    empty.mkdir()
    lines = cannot_start(tnlbot(tmp_path, "chat", TNLBOT_LOCALES_DIR=str(empty)))
    assert lines == [(f"Fichiers de messages invalides : {empty}: the source locale fr.yaml is missing. "
                     f"Corrigez-les dans {empty} (ou indiquez le bon dossier avec locales_dir ou TNLBOT_LOCALES_DIR).")]
    config = tmp_path / "bot.toml"
    config.write_text("database_url = \n", encoding="utf-8")
    lines = cannot_start(tnlbot(tmp_path, "--config", str(config), "chat", lang="en_GB.UTF-8"))
    assert len(lines) == 1 and lines[0].startswith(f"The configuration file {config} cannot be read (")


# what the terminal never uses: other transports, the operations endpoint, exports and workbooks
NOT_ON_THE_TERMINAL_PATH = ("telegram", "nio", "aiohttp", "tnlbot.transports.telegram", "tnlbot.transports.matrix",
                            "tnlbot.ops.http", "tnlbot.ops.service", "pygal", "odf", "tnlbot.flowbook.book",
                            "tnlbot.campaigns.cli_report", "tnlbot.campaigns.report_page")


def test_the_terminal_reaches_its_first_prompt_without_what_it_does_not_use(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TNLBOT_", "LC_"))}
    environ.update(LANG="fr_FR.UTF-8", TNLBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}")
    runs = [subprocess.run([sys.executable, "-X", "importtime", "-m", "tnlbot"], input="", capture_output=True,
                           text=True, timeout=60, env=environ, cwd=ROOT, check=False) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "Quel est le nom de votre collectivité" in run.stdout    # the first question
    first, again = ({line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}
                    for run in runs)
    assert "tnlbot.core.engine" in first         # the importtime report is there
    assert sorted(name for name in first if name in NOT_ON_THE_TERMINAL_PATH) == []
    # a store whose schema is current is opened without Alembic
    assert "alembic" in first and "alembic" not in again
    # on a store whose schema is current, SQLite's start never loads PostgreSQL's dialect
    assert sorted(name for name in again if "postgresql" in name) == []


# What a restart of the terminal has imported when it prints its first line (the person
# waits for it): `tnlbot` run by a driver that notes `sys.modules` at the first write to
# stdout, then lets the chat go on as usual.
FIRST_LINE_DRIVER = """
import io, json, runpy, sys
seen = []
class Watch(io.TextIOBase):
    def __init__(self, real):
        self.real = real
    def write(self, text):
        if not seen:
            seen.append(sorted(sys.modules))
        return self.real.write(text)
    def flush(self):
        self.real.flush()
    def isatty(self):
        return False
sys.stdout = Watch(sys.stdout)
sys.argv = ["tnlbot"]
try:
    runpy.run_module("tnlbot", run_name="__main__", alter_sys=True)
finally:
    sys.stdout.flush()
    sys.stderr.write("\\nMODULES " + json.dumps(seen[0] if seen else []) + "\\n")
"""

NOT_BEFORE_THE_FIRST_PROMPT = (
    "sqlalchemy.dialects.postgresql",                            # SQLite needs none of it
    "tnlbot.jury.chat", "tnlbot.jury.assess", "tnlbot.jury.exports", "tnlbot.jury.erasure",
    "tnlbot.jury.privacy", "tnlbot.jury.rules",                  # a jury command, a submission
    "tnlbot.flowbook.carry", "tnlbot.flowbook.diff", "tnlbot.flowbook.notice",   # a draft behind its flow
    "tnlbot.campaigns.closing",                                  # the scheduler's first tick
    "tarfile",                                                   # a backup or a restore
    "platformdirs",                                              # no database configured
)


def test_the_resumed_question_is_printed_before_the_features_it_does_not_need_are_imported(
        tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TNLBOT_", "LC_"))}
    environ.update(LANG="fr_FR.UTF-8", TNLBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}")
    runs = [subprocess.run([sys.executable, "-c", FIRST_LINE_DRIVER], input=line, capture_output=True,
                           text=True, timeout=60, env=environ, cwd=ROOT, check=False)
            for line in ("Mairie de Saint-Test\n", "")]
    for run in runs:
        assert run.returncode == 0, run.stderr
    again = runs[1]
    assert again.stdout.startswith("Bon retour")     # the restart resumes where the person was:
    assert "Quel est le nom de votre collectivité" not in again.stdout    # past the first question
    report = [line for line in again.stderr.splitlines() if line.startswith("MODULES ")]
    before = set(json.loads(report[-1].removeprefix("MODULES ")))
    assert "tnlbot.core.engine" in before and "tnlbot.store" in before   # the driver saw the start
    assert sorted(name for name in before if name.startswith(NOT_BEFORE_THE_FIRST_PROMPT)) == []


def test_loading_the_command_pauses_garbage_collection_and_resumes_it() -> None:
    """No collection while the modules load (they only allocate); what they made is frozen,
    and collection is on again after, unless the program had it off already."""
    probe = ("import gc, sys\n"
             "off = sys.argv[1] == 'off'\n"
             "if off: gc.disable()\n"
             "import tnlbot.cli\n"
             "print(gc.isenabled(), gc.get_freeze_count() > 0)")
    said = [subprocess.run([sys.executable, "-c", probe, state], capture_output=True, text=True, timeout=60,
                           cwd=ROOT, check=True).stdout.split() for state in ("on", "off")]
    assert said == [["True", "True"], ["False", "False"]]
