"""Start the bot on a network transport (`tnlbot run --transport ...`)."""
from __future__ import annotations

import argparse

from ..app import Settings


def launch(settings: Settings, args: argparse.Namespace) -> int:
    if args.transport == "telegram":
        from .telegram import run
        return run(settings, webhook=args.webhook)
    if args.transport == "matrix":
        from .matrix import run
        return run(settings)
    raise SystemExit(f"unknown transport {args.transport!r}")
