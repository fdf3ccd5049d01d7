"""Where the bundled questionnaires and messages are: inside the installed package
(`tnlbot/_data/`, put there by the build, see setup.py), or in a checkout, the
top-level `flows/` and `locales/` folders, which are their source."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """The folder `flows` or `locales` this installation reads by default."""
    inside = _PACKAGE / "_data" / name
    return inside if inside.is_dir() else _PACKAGE.parent / name
