"""The `tnlbot` command."""
from __future__ import annotations

import argparse
import gc
import importlib
import sys
import tomllib
from datetime import date
from pathlib import Path

# Start-up: loading the modules below only allocates (classes, functions, tables, statements)
# and frees next to nothing, yet the cyclic garbage collector walked everything allocated so
# far, again and again (a full collection among them): about a sixth of the import's CPU.
# It is off while they load; what they made is then frozen (left out of later collections:
# it lives as long as the process) and collection resumes.
_COLLECTING = gc.isenabled()
gc.disable()
try:
    from .app import run_chat, run_transport
    from .flows import FlowError, dated_warnings, flow_files, load_flow
    from .i18n import LocaleError, load_catalog
    from .settings import Settings
    from .startup import StartupError, explain
finally:
    if _COLLECTING:
        gc.freeze()
        gc.enable()


FEATURE_CLIS = ("tnlbot.campaigns.cli", "tnlbot.campaigns.claims_cli", "tnlbot.jury.cli",
                "tnlbot.flowbook.cli", "tnlbot.ops.cli")


def _check_flows(settings: Settings, args: argparse.Namespace) -> int:
    """Each flow checked; what is said is in the operator's language (LC_ALL, LANG...)."""
    from .flowbook.report import operator_locale, reason
    try:
        catalog = load_catalog(Path(settings.locales_dir))
    except LocaleError as exc:
        print(exc, file=sys.stderr)
        return 1
    locale = operator_locale(catalog.locales)
    folder = Path(args.folder or settings.flows_dir)
    failed = 0
    for path in flow_files(folder):
        try:
            flow = load_flow(path, catalog.locales)
        except FlowError as exc:
            failed += 1
            for problem in exc.problems:     # file: path: reason
                file, _, rest = problem.partition(": ")
                where, _, why = rest.partition(": ")
                print(catalog(locale, "flowbook.check.problem", where=f"{file}: {where}" if why else file,
                              reason=reason(catalog, locale, why or where)), file=sys.stderr)
            continue
        counts = ", ".join(f"{v.id} {len(v.questions)}" for v in flow.volets)
        print(catalog(locale, "flowbook.check.ok", file=path.name, n=str(len(flow.questions)), volets=counts))
        for warning in dated_warnings(flow, date.today()):
            print(catalog(locale, "flowbook.check.warning", file=path.name,
                          warning=catalog(locale, warning.key, **dict(warning.values))))
    return 1 if failed else 0


CORE_COMMANDS = (None, "chat", "run", "check-flows")


def _command_word(argv: list[str]) -> str | None:
    """The subcommand named on the command line ("--help" for the top-level help), if any."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif word in ("-h", "--help"):
            return "--help"
        elif not word.startswith("-"):
            return word
    return None


def parser(features: bool = True) -> argparse.ArgumentParser:
    """The command line; without `features`, only the core commands (the terminal starts
    without importing every feature's command-line module)."""
    top = argparse.ArgumentParser(prog="tnlbot", description="Territoire Numérique Libre questionnaire bot")
    top.add_argument("--config", help="TOML configuration file")
    sub = top.add_subparsers(dest="command")
    sub.add_parser("chat", help="chat in the terminal (the default)")
    run = sub.add_parser("run", help="run the bot on a transport")
    run.add_argument("--transport", choices=["console", "telegram", "matrix"], default="console")
    run.add_argument("--webhook", action="store_true", help="Telegram: receive by webhook")
    check = sub.add_parser("check-flows", help="validate the questionnaire flows")
    check.add_argument("folder", nargs="?", help="folder of flows (default: the bundled ones)")
    for name in FEATURE_CLIS if features else ():  # each registers its subcommands (set_defaults(func=...))
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = parser(features=_command_word(words) not in CORE_COMMANDS).parse_args(words)
    try:
        settings = Settings.load(args.config)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return _cannot_start(exc, Settings(), args.config)
    try:
        return _run(args, settings)
    except (FlowError, LocaleError, StartupError) as exc:
        return _cannot_start(exc, settings)


def _cannot_start(exc: Exception, settings: Settings, config: str | None = None) -> int:
    """One line per problem (what, where, how to fix), exit code 2, no traceback."""
    print("\n".join(explain(exc, settings, config)), file=sys.stderr)
    return 2


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "check-flows":
        return _check_flows(settings, args)
    if getattr(args, "func", None) is not None:
        return int(args.func(settings, args) or 0)
    if args.command in (None, "chat"):
        return run_chat(settings)
    return run_transport(settings, args.transport, webhook=args.webhook)


if __name__ == "__main__":
    sys.exit(main())
