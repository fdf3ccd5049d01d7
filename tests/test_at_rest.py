"""Files at rest: a first start makes the data folder 0700 and the database 0600."""
from __future__ import annotations

import os
import stat

from sqlalchemy import text

from tnlbot.cli import main
from tnlbot.ops.backup import hold
from tnlbot.store import Store


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_first_start_keeps_the_data_folder_and_database_private(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TNLBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    old = os.umask(0o022)            # the usual umask: files 0644, folders 0755
    try:
        assert main(["campaign", "list"]) == 0
    finally:
        os.umask(old)
    folder = tmp_path / "share" / "tnlbot"
    assert mode(folder) == 0o700
    assert mode(folder / "tnlbot.db") == 0o600
    for companion in folder.glob("tnlbot.db-*"):        # WAL and shared memory, while open
        assert mode(companion) == 0o600, companion


def test_the_running_bots_lock_file_is_private_too(tmp_path):
    old = os.umask(0o022)
    try:
        with hold(tmp_path / "data" / "tnlbot.db"):       # a first start: no folder yet
            assert mode(tmp_path / "data") == 0o700
            assert mode(tmp_path / "data" / "tnlbot.db.lock") == 0o600
        lock = tmp_path / "old" / "tnlbot.db.lock"          # left 0644 by an earlier version
        lock.parent.mkdir()
        lock.touch(mode=0o644)
        with hold(tmp_path / "old" / "tnlbot.db"):
            assert mode(lock) == 0o600
    finally:
        os.umask(old)


def test_an_existing_database_readable_by_others_is_made_private(tmp_path):
    path = tmp_path / "bot.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    store = Store(Store.sqlite_url(path))
    with store.begin() as conn:
        conn.execute(text("SELECT 1"))
        wal = path.with_name("bot.db-wal")
        assert not wal.exists() or mode(wal) == 0o600
    store.close()
    assert mode(path) == 0o600
