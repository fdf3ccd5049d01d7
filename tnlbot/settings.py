"""Configuration: a TOML file (`--config`), then TNLBOT_* environment variables."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from .flows import BUNDLED as BUNDLED_FLOWS
from .i18n import BUNDLED as BUNDLED_LOCALES
from .store import Store
from .store.files import private_folder

DEFAULT_FLOW = "tnl-2022"
CRYPTO_FOLDER = "matrix-crypto"


@dataclass
class Settings:
    """Every setting has a default; `load` reads the file, then the environment."""
    database_url: str = ""
    flows_dir: str = str(BUNDLED_FLOWS)
    locales_dir: str = str(BUNDLED_LOCALES)
    campaign: str = ""
    default_flow: str = DEFAULT_FLOW
    telegram_token: str = ""
    telegram_base_url: str = ""
    telegram_rate_per_chat: float = 1.0    # messages per second to one chat (0: no limit)
    telegram_rate_overall: float = 30.0    # messages per second to all chats (0: no limit)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "127.0.0.1:8443"
    matrix_homeserver: str = ""
    matrix_user: str = ""
    matrix_password: str = ""
    matrix_allow: str = ""           # comma-separated homeservers or user ids
    matrix_store_dir: str = ""       # the E2E crypto store (default: beside the database)
    log_level: str = "INFO"          # DEBUG, INFO, WARNING, ERROR
    health_listen: str = ""          # e.g. 127.0.0.1:9464: /healthz and /metrics (empty: off)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | None = None, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        if path:
            with open(path, "rb") as handle:
                values.update(tomllib.load(handle))
        for f in fields(cls):
            key = "TNLBOT_" + f.name.upper()
            if key in env and f.name != "extra":
                values[f.name] = env[key]
        known = {f.name for f in fields(cls)}
        extra = {k: v for k, v in values.items() if k not in known}
        return cls(**{k: v for k, v in values.items() if k in known}, extra=extra)

    def matrix_store_path(self) -> Path:
        """The Matrix crypto store: the device's keys (back it up with the database)."""
        return crypto_store_dir(self.store_url(), self.matrix_store_dir)

    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        from platformdirs import user_data_dir   # only without a configured database
        folder = private_folder(Path(user_data_dir("tnlbot", appauthor=False)))
        return Store.sqlite_url(folder / "tnlbot.db")


def crypto_store_dir(database_url: str, configured: str = "") -> Path:
    """Where the Matrix crypto store lives: `configured`, else beside a SQLite database,
    else in the user's data folder (PostgreSQL)."""
    if configured:
        return Path(configured).expanduser()
    url = make_url(database_url) if database_url else None
    if url is not None and url.get_backend_name() == "sqlite" and url.database \
            and url.database != ":memory:":
        return Path(url.database).expanduser().resolve().parent / CRYPTO_FOLDER
    from platformdirs import user_data_dir
    return Path(user_data_dir("tnlbot", appauthor=False)) / CRYPTO_FOLDER
