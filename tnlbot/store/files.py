"""Files at rest readable by the bot's account only.

The data folder holds every answer, and the Matrix login: it is created
0700 and the SQLite database (with its -wal and -shm companions) 0600,
whatever the umask. A folder the operator chose is left as it is, the
database file in it is still made private.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def private_folder(folder: Path) -> Path:
    """Create the folder (and missing parents) 0700; an existing folder of ours becomes 0700."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    if folder.stat().st_uid == os.getuid() and stat.S_IMODE(folder.stat().st_mode) != FOLDER_MODE:
        folder.chmod(FOLDER_MODE)
    return folder


def private_file(path: Path) -> None:
    """Create the file empty 0600 if absent; an existing one of ours becomes 0600."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
    os.close(fd)
    if path.stat().st_uid == os.getuid() and stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
        path.chmod(FILE_MODE)


def private_sqlite(path: Path) -> None:
    """The database and the companions SQLite keeps beside it."""
    if not path.parent.exists():
        private_folder(path.parent)
    private_file(path)
    for suffix in SQLITE_COMPANIONS[1:]:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            private_file(companion)
