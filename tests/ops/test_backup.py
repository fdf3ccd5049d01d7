"""`tnlbot backup` while answers pour in, `tnlbot restore` into a new folder, then resume.

A load of agents answers the identification volet in a thread (its own
store connection, as a bot process would) while `tnlbot backup` runs as a
real command. The archive is restored by `tnlbot restore` into an empty
folder: the copy passes SQLite's integrity check, holds each stored answer
with its history (one consistent commit), brings the Matrix crypto store
along, and an agent caught half-way goes on at the next question. A restore
over a store a bot holds open, or over an existing database without
--force, is refused and changes nothing.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import subprocess
import sys
import tarfile
import threading
from contextlib import closing
from pathlib import Path

from tnlbot.app import App, Settings
from tnlbot.cli import main
from tnlbot.core.events import OutKind
from tnlbot.ops.backup import hold, lock_path
from tnlbot.store import Store

from ..harness import Chat
from ..telegram.test_telegram_kill import siren

ROOT = Path(__file__).resolve().parents[2]
STEPS = 7     # /start, then six answers of the identification volet


def tnlbot(db: Path, *args: str, lang: str = "fr_FR.UTF-8") -> subprocess.CompletedProcess:
    """The real command, in the operator's language."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TNLBOT_", "LC_"))}
    env.update(TNLBOT_DATABASE_URL=Store.sqlite_url(db), PYTHONPATH=str(ROOT), LANG=lang)
    return subprocess.run([sys.executable, "-m", "tnlbot", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def script(n: int) -> list[str]:
    return ["/start", f"Mairie de Testbourg-{n}", "commune", siren(n), "34", "1200", "25"]


class Load(threading.Thread):
    """Agents answering side by side, each a few steps behind the previous one (so some
    are always half-way), until told to stop."""

    def __init__(self, db: Path):
        super().__init__(daemon=True)
        self.db = db
        self.stop = threading.Event()
        self.started_answering = threading.Event()
        self.said = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        app = App(Settings(database_url=Store.sqlite_url(self.db)))
        try:
            chats: list[Chat] = []
            for round_ in range(100_000):
                if self.stop.is_set():
                    return
                chats.append(Chat(app, f"agent{round_}"))
                for n in range(max(0, round_ - STEPS + 1), round_ + 1):
                    chats[n].say(script(n)[round_ - n])
                    self.said += 1
                if round_ == 2 * STEPS:
                    self.started_answering.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.started_answering.set()
            app.close()


def crypto_store(folder: Path) -> dict[str, str]:
    """A crypto store as matrix-nio leaves it: a SQLite file and a side file."""
    folder.mkdir()
    with closing(sqlite3.connect(folder / "@bot:example.org_DEVICE.db")) as conn:
        conn.execute("CREATE TABLE olm (account BLOB)")
        conn.execute("INSERT INTO olm VALUES (x'0102030405')")
        conn.commit()
    (folder / "device.json").write_text('{"device_id": "DEVICE"}')
    return fingerprint(folder)


def fingerprint(folder: Path) -> dict[str, str]:
    found = {}
    for path in folder.iterdir():
        if path.suffix == ".db":
            with closing(sqlite3.connect(path)) as conn:
                found[path.name] = repr(conn.execute("SELECT * FROM olm").fetchall())
        else:
            found[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_backup_under_load_restored_elsewhere_resumes(tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    db = live / "tnlbot.db"
    app = App(Settings(database_url=Store.sqlite_url(db)))
    app.ensure_campaign()                                # the schema and an open campaign
    app.close()
    keys = crypto_store(live / "matrix-crypto")
    load = Load(db)
    load.start()
    assert load.started_answering.wait(60)
    archive = tmp_path / "tnlbot-backup.tar.gz"
    said_before = load.said
    made = tnlbot(db, "backup", str(archive))
    said_after = load.said
    load.stop.set()
    load.join(60)
    assert load.error is None, load.error
    assert made.returncode == 0, made.stderr
    assert "la base de données et le dossier de chiffrement Matrix, vérifiée (" in made.stdout
    assert said_after > said_before, "the agents went on answering during the backup"
    with tarfile.open(archive) as tar:
        assert sorted(m.name for m in tar.getmembers() if "/" not in m.name) == \
            ["manifest.json", "matrix-crypto", "tnlbot.db"]

    new = tmp_path / "elsewhere" / "tnlbot.db"
    done = tnlbot(new, "restore", str(archive), lang="en_GB.UTF-8")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{new}: restored from the backup of ")
    with closing(sqlite3.connect(new)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        answers = conn.execute("SELECT candidature_id, key, value FROM answers").fetchall()
        history = {(c, k): v for c, k, v in conn.execute(
            "SELECT candidature_id, key, new_value FROM answer_history ORDER BY id")}
    assert answers, "the backup was taken once answers were stored"
    with closing(sqlite3.connect(db)) as conn:
        assert len(answers) < conn.execute("SELECT count(*) FROM answers").fetchone()[0], \
            "answers stored after the backup are not in it"
    assert {(c, k): v for c, k, v in answers} == history, "each answer with its history: one commit"
    assert fingerprint(new.parent / "matrix-crypto") == keys

    resumed = App(Settings(database_url=Store.sqlite_url(new)))
    try:
        halfway = {user: n for user, n in answered(new).items() if 1 <= n < STEPS - 1}
        assert halfway, "some agents were half-way through when the backup was taken"
        user, count = min(halfway.items())
        behind = int(user.removeprefix("agent"))
        chat = Chat(resumed, f"agent{behind}")
        reply = chat.say(script(behind)[count + 1])   # the next line of its script
        assert reply.prompt is not None and reply.prompt.kind is OutKind.PROMPT
        assert answered(new)[user] == count + 1, "it went on where the backup left it"
    finally:
        resumed.close()


def dump(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return list(conn.iterdump())


def answered(db: Path) -> dict[str, int]:
    """Answers stored per agent."""
    with closing(sqlite3.connect(db)) as conn:
        return dict(conn.execute(
            "SELECT c.user_id, count(a.key) FROM conversations c LEFT JOIN answers a "
            "ON a.candidature_id = c.candidature_id GROUP BY c.user_id").fetchall())


def test_restore_refuses_a_running_store_and_an_existing_one(tmp_path, monkeypatch, capsys):
    db = tmp_path / "tnlbot.db"
    monkeypatch.setenv("TNLBOT_DATABASE_URL", Store.sqlite_url(db))

    def tnlbot(_db: Path, *args: str) -> subprocess.CompletedProcess:
        code = main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    app = App(Settings(database_url=Store.sqlite_url(db)))
    app.ensure_campaign()
    archive = tmp_path / "backup.tar.gz"
    assert tnlbot(db, "backup", str(archive)).returncode == 0
    before = dump(db)
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")               # the operator's language, from locales/
    refused = tnlbot(db, "restore", "--force", str(archive))      # the App holds the store
    assert refused.returncode == 1 and refused.stderr == (
        f"restauration impossible : un bot fonctionne sur {db} : arrêtez-le avant de restaurer\n")
    app.close()
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    refused = tnlbot(db, "restore", str(archive))
    assert refused.returncode == 1 and refused.stderr == f"restore: {db} exists: restore with --force to replace it\n"
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    assert dump(db) == before, "nothing was changed"
    assert tnlbot(db, "restore", "--force", str(archive)).returncode == 0
    with hold(db):                                             # the bot may start again
        pass
    with open(lock_path(db), "ab") as lock:                    # a restore in progress
        fcntl.flock(lock, fcntl.LOCK_EX)
        refused = tnlbot(db, "chat")                           # a bot does not start on it
    assert refused.returncode == 2 and "tnlbot restore" in refused.stderr and str(db) in refused.stderr
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a backup")
    refused = tnlbot(db, "restore", "--force", str(broken))
    assert refused.returncode == 1 and "n'est pas une sauvegarde de tnlbot" in refused.stderr
