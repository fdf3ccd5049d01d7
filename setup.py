"""Build hook: the questionnaires (`flows/`) and the bot's messages (`locales/`) are kept
at the top of the repository, where people edit them, and shipped inside the package
(`tnlbot/_data/`) so that a wheel, `pip install .` or `pipx install` runs on its own.
Everything else is declared in pyproject.toml."""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA = ("flows", "locales")


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return      # an editable install reads the top-level folders themselves
        for name in DATA:
            target = Path(self.build_lib) / "tnlbot" / "_data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildWithData})
