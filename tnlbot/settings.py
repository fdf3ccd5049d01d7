"""Configuration: a TOML file (`--config`), then TNLBOT_* environment variables."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from .flows import BUNDLED as BUNDLED_FLOWS
from .i18n import BUNDLED as BUNDLED_LOCALES
from .store import Store

DEFAULT_FLOW = "tnl-2022"


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
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "127.0.0.1:8443"
    matrix_homeserver: str = ""
    matrix_user: str = ""
    matrix_password: str = ""
    matrix_allow: str = ""           # comma-separated homeservers or user ids
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

    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        folder = Path(user_data_dir("tnlbot", appauthor=False))
        folder.mkdir(parents=True, exist_ok=True)
        return Store.sqlite_url(folder / "tnlbot.db")
