"""`tnlbot flow export/import/diff`: the questionnaire as a workbook, and two editions compared.

Messages are in the operator's language (LC_ALL, LC_MESSAGES or LANG; French
when none is set). Exit codes: 0 done, 1 problems found, 2 cannot start.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..flows import flow_files, load_flow
from ..i18n import Catalog, load_catalog
from .book import export_flow, import_workbook, write_flow
from .report import lines, operator_locale


def register(subparsers: argparse._SubParsersAction) -> None:
    top = subparsers.add_parser("flow", help="a flow as an ODS workbook, and two flows compared")
    sub = top.add_subparsers(dest="flow_command", required=True)
    export = sub.add_parser("export", help="write a flow as an ODS workbook")
    export.add_argument("flow", help="flow id, e.g. tnl-2025-badge")
    export.add_argument("--ods", required=True, help="the workbook to write")
    export.add_argument("--folder", help="folder of flows (default: the configured one)")
    export.set_defaults(func=_export)
    load = sub.add_parser("import", help="check an ODS workbook and write the flow's YAML files")
    load.add_argument("file", help="the workbook (.ods)")
    load.add_argument("--to", help="folder to write the flow to (default: the configured flows folder)")
    load.add_argument("--check", action="store_true", help="check only, write nothing")
    load.set_defaults(func=_import)
    diff = sub.add_parser("diff", help="compare two flows: what changed, what /copier carries over")
    diff.add_argument("old", help="the earlier flow: an id in the flows folder, or a path to its .yaml")
    diff.add_argument("new", help="the later flow: an id or a path")
    diff.add_argument("--folder", help="folder of flows (default: the configured one)")
    diff.set_defaults(func=_diff)


def _catalog(settings: Any) -> tuple[Catalog, str]:
    catalog = load_catalog(Path(settings.locales_dir))
    return catalog, operator_locale(catalog.locales)


def _export(settings: Any, args: argparse.Namespace) -> int:
    catalog, lc = _catalog(settings)
    folder = Path(args.folder or settings.flows_dir)
    known = [p.stem for p in flow_files(folder)]
    if args.flow not in known:
        print(catalog(lc, "flowbook.unknown_flow", flow=args.flow, folder=str(folder),
                      known=", ".join(known) or catalog(lc, "flowbook.startup.none")), file=sys.stderr)
        return 2
    data = export_flow(folder, args.flow, catalog.locales)   # FlowError: said by the caller
    Path(args.ods).write_bytes(data)
    flow = load_flow(folder / f"{args.flow}.yaml", catalog.locales)
    choices = sum(len(q.choices) for q in flow.questions.values())
    print(catalog(lc, "flowbook.exported", flow=flow.id, version=str(flow.version), file=args.ods,
                  questions=str(len(flow.questions)), choices=str(choices),
                  languages=", ".join(catalog.locales)))
    return 0


def _import(settings: Any, args: argparse.Namespace) -> int:
    catalog, lc = _catalog(settings)
    try:
        result = import_workbook(Path(args.file), catalog.locales)
    except (OSError, ValueError) as exc:
        print(catalog(lc, "flowbook.unreadable", file=args.file, detail=str(exc).splitlines()[0] if str(exc) else ""),
              file=sys.stderr)
        return 2
    if not result.ok:
        report = lines(catalog, lc, result.imported, list(result.flow_problems), list(result.sheets))
        print(catalog(lc, "flowbook.problems", count=str(len(report)), file=args.file), file=sys.stderr)
        print("\n".join(report), file=sys.stderr)
        return 1
    count = str(len(result.flow.questions)) if result.flow else "0"
    if args.check:
        print(catalog(lc, "flowbook.checked", questions=count))
        return 0
    folder = Path(args.to or settings.flows_dir)
    written = write_flow(result.imported, catalog.locales, folder)
    print(catalog(lc, "flowbook.imported", files=", ".join(p.name for p in written), folder=str(folder),
                  questions=count))
    return 0


def _diff(settings: Any, args: argparse.Namespace) -> int:
    from .diff import run_diff
    return run_diff(settings, args)

