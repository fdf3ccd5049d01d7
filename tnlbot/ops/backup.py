"""`tnlbot backup FILE` and `tnlbot restore FILE`: the SQLite store and the Matrix crypto store.

How this file works:
- A running bot holds a shared lock on `<database>.lock` (`hold`). A backup
  needs no lock: SQLite's online backup API copies the live database in one
  step inside one read transaction, so the copy is the database as of one
  commit, while answers keep being written (WAL readers never block writers).
- The archive is a .tar.gz: `tnlbot.db`, the Matrix crypto store folder as
  `matrix-crypto/` when there is one (its SQLite files through the backup API
  too, other files copied), and `manifest.json` (format, time, schema
  revision, SHA-256 and row counts of the copy). The copy is checked with
  `PRAGMA integrity_check` before it is archived.
- A restore takes the lock exclusively without waiting: a running bot
  (or any process with the store open through tnlbot) makes it refuse. It
  refuses to replace an existing database unless `force` is given, checks
  the archive's SHA-256 and integrity, and puts the files in place by
  renaming (a crash mid-restore leaves the old database or the new one).
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sqlalchemy.engine import make_url

from ..store.files import private_file, private_folder

if TYPE_CHECKING:   # tarfile (with bz2 and lzma) is imported by backup and restore, not by every start
    import tarfile

FORMAT = "tnlbot.backup/1"
DB_NAME = "tnlbot.db"
CRYPTO_NAME = "matrix-crypto"
COUNTED = ("campaigns", "candidatures", "answers", "answer_history", "conversations", "outbox")


class BackupError(Exception):
    """A backup or restore that cannot be done: why, as a catalog key (ops.backup.*) and its
    values, said to the operator in their language."""

    def __init__(self, key: str, **values: object):
        self.key, self.values = key, {k: str(v) for k, v in values.items()}
        super().__init__(key, self.values)

    def __str__(self) -> str:
        return f"{self.key} {self.values}"


class StoreBusy(BackupError):
    """The store is being restored: a bot must not open it now."""

    def __init__(self, path: Path):
        super().__init__("ops.backup.busy", path=path)
        self.path = str(path)


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: str
    revision: str
    sha256: str
    counts: dict[str, int]
    crypto_store: bool

    def to_json(self) -> dict:
        return {"format": FORMAT, "created_at": self.created_at, "revision": self.revision,
                "sha256": self.sha256, "counts": self.counts, "crypto_store": self.crypto_store}


def sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        raise BackupError("ops.backup.not_sqlite")
    return Path(parsed.database)


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def _open_lock(db: Path) -> IO[bytes]:
    """The lock file, private like the database beside it (0600, in a 0700 folder it creates)."""
    if not db.parent.exists():
        private_folder(db.parent)
    private_file(lock_path(db))
    return open(lock_path(db), "ab")


def hold(db: Path) -> IO[bytes]:
    """The running bot's shared lock on its store; keep the returned file open."""
    handle = _open_lock(db)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreBusy(db) from None
    return handle


def hold_store(url: str) -> IO[bytes] | None:
    """`hold` for a SQLite URL; None for PostgreSQL (pg_restore needs its own care)."""
    try:
        db = sqlite_path(url)
    except BackupError:
        return None
    return hold(db)


def copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup of a live database, then an integrity check of the copy."""
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.backup(dst)           # all pages in one step: one consistent snapshot
        dst.execute("PRAGMA journal_mode=DELETE")
    check_integrity(target)


def check_integrity(path: Path) -> None:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        raise BackupError("ops.backup.integrity", file=path.name, detail="; ".join(result[:5]))


def _facts(db: Path) -> tuple[str, dict[str, int]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        revision = (conn.execute("SELECT version_num FROM alembic_version").fetchone() or ("",))[0] \
            if "alembic_version" in tables else ""
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                  for t in COUNTED if t in tables}
    return revision, counts


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_folder(source: Path, target: Path) -> None:
    """The crypto store: SQLite files through the backup API, the rest copied as they are."""
    for path in sorted(source.rglob("*")):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        elif path.suffix in ("-wal", "-shm") or path.name.endswith(("-wal", "-shm", "-journal")):
            continue
        elif _is_sqlite(path):
            dest.parent.mkdir(parents=True, exist_ok=True)
            copy_database(path, dest)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def backup(db: Path, crypto: Path | None, archive: Path) -> Manifest:
    if not db.exists():
        raise BackupError("ops.backup.no_database", db=db)
    with tempfile.TemporaryDirectory(prefix=".tnlbot-backup-", dir=archive.parent) as work:
        staged = Path(work)
        copy_database(db, staged / DB_NAME)
        has_crypto = False
        if crypto is not None and crypto.is_dir():
            _copy_folder(crypto, staged / CRYPTO_NAME)
            has_crypto = True
        revision, counts = _facts(staged / DB_NAME)
        manifest = Manifest(datetime.now(UTC).isoformat(timespec="seconds"), revision,
                            _sha256(staged / DB_NAME), counts, has_crypto)
        partial = archive.with_name(archive.name + ".partial")
        import tarfile
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest.to_json(), indent=1).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime, info.mode = len(data), int(datetime.now().timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            tar.add(staged / DB_NAME, DB_NAME)
            if has_crypto:
                tar.add(staged / CRYPTO_NAME, CRYPTO_NAME)
        os.chmod(partial, 0o600)
        os.replace(partial, archive)
    return manifest


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for member in tar.getmembers():
        if member.name == "manifest.json" or member.name == DB_NAME \
                or member.name == CRYPTO_NAME or member.name.startswith(CRYPTO_NAME + "/"):
            yield member


def restore(archive: Path, db: Path, crypto: Path | None, force: bool = False) -> Manifest:
    with _open_lock(db) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError("ops.backup.running", db=db) from None
        if db.exists() and not force:
            raise BackupError("ops.backup.exists", db=db)
        with tempfile.TemporaryDirectory(prefix=".tnlbot-restore-", dir=db.parent) as work:
            staged = Path(work)
            manifest = _unpack(archive, staged)
            _put_in_place(staged, db, crypto if manifest.crypto_store else None)
    return manifest


def _unpack(archive: Path, staged: Path) -> Manifest:
    import tarfile
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(staged, members=list(_members(tar)), filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError("ops.backup.unreadable", archive=archive, detail=exc) from None
    try:
        raw = json.loads((staged / "manifest.json").read_text())
    except (OSError, ValueError):
        raise BackupError("ops.backup.no_manifest", archive=archive) from None
    if raw.get("format") != FORMAT or not (staged / DB_NAME).exists():
        raise BackupError("ops.backup.wrong_format", archive=archive, format=repr(raw.get("format")))
    if _sha256(staged / DB_NAME) != raw.get("sha256"):
        raise BackupError("ops.backup.checksum", archive=archive)
    check_integrity(staged / DB_NAME)
    return Manifest(raw["created_at"], raw.get("revision", ""), raw["sha256"],
                    dict(raw.get("counts", {})), bool(raw.get("crypto_store")))


def _put_in_place(staged: Path, db: Path, crypto: Path | None) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        stale = db.with_name(db.name + suffix)
        if stale.exists():
            stale.unlink()
    os.replace(staged / DB_NAME, db)
    if crypto is not None and (staged / CRYPTO_NAME).is_dir():
        if crypto.exists():
            old = crypto.with_name(crypto.name + ".before-restore")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(crypto, old)
        os.replace(staged / CRYPTO_NAME, crypto)
