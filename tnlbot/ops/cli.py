"""`tnlbot backup FILE` and `tnlbot restore FILE [--force]` (SQLite store).

What the operator reads is in their language (LC_ALL, LC_MESSAGES or LANG; French
when none is set), from locales/ (ops.backup.*).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..say import Say
from .backup import BackupError, backup, restore, sqlite_path


def crypto_folder(settings: Any) -> Path:
    """The Matrix crypto store of this configuration (beside the database by default)."""
    return Path(settings.matrix_store_path())


def register(subparsers: argparse._SubParsersAction) -> None:
    take = subparsers.add_parser("backup", help="copy the live SQLite store (and Matrix crypto store) "
                                                "into FILE (.tar.gz)")
    take.add_argument("file", help="archive to write, e.g. tnlbot-2024-06-12.tar.gz")
    take.set_defaults(func=_backup)
    put = subparsers.add_parser("restore", help="put a backup in place of the store (the bot stopped)")
    put.add_argument("file", help="archive made by `tnlbot backup`")
    put.add_argument("--force", action="store_true", help="replace an existing database")
    put.set_defaults(func=_restore)


def _backup(settings: Any, args: argparse.Namespace) -> int:
    say = Say(settings)
    try:
        db = sqlite_path(settings.store_url())
        manifest = backup(db, crypto_folder(settings), Path(args.file))
    except BackupError as exc:
        print(say("ops.backup.failed", reason=say(exc.key, **exc.values)), file=sys.stderr)
        return 1
    counts = ", ".join(f"{k} {v}" for k, v in manifest.counts.items())
    crypto = say("ops.backup.with_crypto") if manifest.crypto_store else ""
    print(say("ops.backup.done", file=args.file, crypto=crypto, counts=counts, sha=manifest.sha256[:16]))
    return 0


def _restore(settings: Any, args: argparse.Namespace) -> int:
    say = Say(settings)
    try:
        db = sqlite_path(settings.store_url())
        manifest = restore(Path(args.file), db, crypto_folder(settings), force=args.force)
    except BackupError as exc:
        print(say("ops.backup.restore_failed", reason=say(exc.key, **exc.values)), file=sys.stderr)
        return 1
    print(say("ops.backup.restored", db=db, when=manifest.created_at, revision=manifest.revision))
    return 0
