"""What stops the bot from starting, said as one line each: what, where, how to fix.

A broken or missing flow, a missing or broken locale, an unknown campaign or
a campaign whose flow is gone end `tnlbot` with exit code 2 and these lines
on stderr, in the operator's language, never with a traceback.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from .core.flow import Flow
from .flows import FlowError
from .i18n import Catalog, LocaleError, load_catalog
from .store.campaigns import campaign_by_slug, current_campaign, list_campaigns

# The message files themselves are broken: these two lines cannot come from them.
_LOCALE_LINE = {
    "fr": "Fichiers de messages invalides : {problem}. Corrigez-les dans {folder} (ou indiquez le bon "
          "dossier avec locales_dir ou TNLBOT_LOCALES_DIR).",
    "en": "Invalid message files: {problem}. Fix them in {folder} (or give the right folder with "
          "locales_dir or TNLBOT_LOCALES_DIR).",
}
_CONFIG_LINE = {
    "fr": "Le fichier de configuration {path} ne peut pas être lu ({problem}) : corrigez-le ou indiquez-en "
          "un autre avec --config.",
    "en": "The configuration file {path} cannot be read ({problem}): fix it or give another one with --config.",
}


@dataclass(frozen=True, slots=True)
class Reason:
    key: str                                   # flowbook.startup.*
    params: tuple[tuple[str, str], ...] = ()


class StartupError(Exception):
    def __init__(self, reasons: list[Reason]):
        super().__init__("; ".join(r.key for r in reasons))
        self.reasons = reasons


def _reason(key: str, **params: str) -> Reason:
    return Reason(key, tuple(params.items()))


def check_campaigns(conn: Connection, flows: Mapping[str, Flow], campaign: str, default_flow: str,
                    folder: str, now: datetime) -> None:
    """Raise StartupError when the campaign to serve is unknown or its flow is not loaded."""
    known = ", ".join(sorted(flows))
    if not flows:
        raise StartupError([_reason("no_flows", folder=folder)])
    if campaign:
        target = campaign_by_slug(conn, campaign)
        if target is None:
            slugs = ", ".join(c.slug for c in list_campaigns(conn))
            raise StartupError([_reason("campaign_unknown", slug=campaign, known=slugs or "-")])
    else:
        target = current_campaign(conn, now)
    if target is not None and target.flow_id not in flows:
        raise StartupError([_reason("campaign_flow", slug=target.slug, flow=target.flow_id, folder=folder,
                                    known=known)])
    if target is None and default_flow not in flows:
        raise StartupError([_reason("default_flow", flow=default_flow, folder=folder, known=known)])


def _flow_line(catalog: Catalog, locale: str, problem: str, folder: str) -> str:
    from .flowbook.report import reason
    file, _, rest = problem.partition(": ")
    path, _, why = rest.partition(": ")
    where = f"{file} {path}" if path and path != "(file)" else file
    return catalog(locale, "flowbook.startup.flow", where=where, reason=reason(catalog, locale, why or path),
                   folder=folder)


def _without_echoes(problems: list[str]) -> list[str]:
    """A question dropped for a problem of its own (an unknown kind) leaves its texts without a
    question: that echo is left out while the structure file of the same flow has problems."""
    broken = {p.split(": ")[0] for p in problems if p.split(": ")[0].count(".") == 1}
    return [p for p in problems if not (p.endswith("text for a question the flow does not have")
                                        and f"{p.split('.')[0]}.yaml" in broken)]


def explain(exc: Exception, settings: Any, config: str | None = None) -> list[str]:
    """The lines that say why the bot cannot start."""
    from .flowbook.report import operator_locale
    if isinstance(exc, (OSError, ValueError)) and not isinstance(exc, LocaleError):
        locale = operator_locale(("fr", "en"))
        return [_CONFIG_LINE[locale].format(path=config, problem=str(exc).splitlines()[0])]
    try:
        catalog = load_catalog(Path(settings.locales_dir))
    except (LocaleError, OSError) as broken:
        locale = operator_locale(("fr", "en"))
        problems = str(broken).splitlines() or [type(broken).__name__]
        return [_LOCALE_LINE[locale].format(problem=p, folder=settings.locales_dir) for p in problems]
    locale = operator_locale(catalog.locales)
    if isinstance(exc, LocaleError):
        return [_LOCALE_LINE.get(locale, _LOCALE_LINE["en"]).format(problem=p, folder=settings.locales_dir)
                for p in str(exc).splitlines()]
    if isinstance(exc, FlowError):
        return [_flow_line(catalog, locale, p, settings.flows_dir) for p in _without_echoes(exc.problems)]
    if isinstance(exc, StartupError):
        none = catalog(locale, "flowbook.startup.none")
        return [catalog(locale, f"flowbook.startup.{r.key}",
                        **{k: (v if v != "-" else none) for k, v in r.params}) for r in exc.reasons]
    return [str(exc)]
