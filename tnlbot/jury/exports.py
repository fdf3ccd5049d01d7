"""Exports of a campaign for the jury, read from the frozen snapshots only.

`exports(conn, campaign_id, fmt, ...)` returns files as (filename, mime,
bytes): CSV, ODS, JSON (with its JSON Schema), or the dossiers (an HTML and
an ODT per candidature, zipped). `closing_attachments` is what the campaign
closing attaches to the jury's notice: all of them.
"""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone
from typing import Mapping

from sqlalchemy import Connection

from ..core.flow import Flow
from .rules import CsvDialect, Entry, Labels, Meta, Snapshot, Version, intact, slug, to_csv
from ..i18n import local_time
from ..store.attachments import PREFIX, content
from ..store.campaigns import Campaign
from ..store.instants import iso_z
from . import queries as Q
from .documents import SCHEMA_PATH, dossier, dossier_html, to_json

File = tuple[str, str, bytes]
FORMATS = ("csv", "ods", "json", "dossiers")
MIME = {"csv": "text/csv", "ods": "application/vnd.oasis.opendocument.spreadsheet",
        "json": "application/json", "zip": "application/zip", "html": "text/html",
        "odt": "application/vnd.oasis.opendocument.text"}


def read_snapshot(text: str) -> Snapshot | None:
    try:
        raw = json.loads(text)
        return Snapshot.from_json(raw) if isinstance(raw, dict) else None
    except (ValueError, TypeError):
        return None


def entry_for(conn: Connection, campaign: Campaign, status: str, versions: list[Q.Submission],
              locale: str) -> Entry | None:
    """The jury's view of one candidature: its last version before the deadline."""
    if not versions:
        return None
    last = versions[-1]
    snapshot = read_snapshot(last.snapshot)
    ok = snapshot is not None and intact(last.snapshot, last.sha256)
    if snapshot is None:
        snapshot = Snapshot(last.candidature_id, last.version, campaign.flow_id, 0, {})
    people = Q.names(conn, [p for p in (snapshot.submitted_by, snapshot.confirmed_by, *snapshot.contributors)
                            if p is not None])
    return Entry(last.candidature_id, status, last.sha256, ok, snapshot, people,
                 tuple(Version(v.version, iso_z(v.submitted_at), v.sha256) for v in versions),
                 local_time(last.submitted_at, locale, campaign.timezone))


def entries(conn: Connection, campaign: Campaign, locale: str) -> list[Entry]:
    statuses = {c.id: c.status for c in Q.candidatures(conn, campaign.id)}
    found = []
    for candidature_id, versions in sorted(Q.campaign_submissions(conn, campaign).items()):
        entry = entry_for(conn, campaign, statuses.get(candidature_id, "submitted"), versions, locale)
        if entry is not None:
            found.append(entry)
    return found


def render(flow: Flow, found: list[Entry], meta: Meta, t: Labels, fmt: str, *,
           dialect: CsvDialect = CsvDialect.SPREADSHEET,
           stored: Mapping[str, bytes] | None = None) -> list[File]:
    """Files of one format (pure once the entries are read)."""
    base = f"candidatures-{slug(meta.campaign, 60)}"
    if fmt == "csv":
        return [(base + ".csv", MIME["csv"], to_csv(flow, found, meta, t, dialect=dialect))]
    if fmt == "ods":
        from .opendocument import to_ods   # odfpy only when a spreadsheet is asked for
        return [(base + ".ods", MIME["ods"], to_ods(flow, found, meta, t))]
    if fmt == "json":
        return [(base + ".json", MIME["json"], to_json(flow, found, meta, t)),
                (SCHEMA_PATH.name, "application/schema+json", SCHEMA_PATH.read_bytes())]
    if fmt == "dossiers":
        return [(f"dossiers-{slug(meta.campaign, 60)}.zip", MIME["zip"],
                 dossiers_zip(flow, found, meta, t, stored or {}))]
    raise ValueError(f"unknown export format {fmt!r}")


def dossier_files(flow: Flow, entry: Entry, meta: Meta, t: Labels) -> list[File]:
    from .opendocument import to_odt   # odfpy only when a dossier is asked for
    model = dossier(flow, entry, meta, t)
    name = f"dossier-{entry.candidature:03d}-{slug(entry.name)}"
    return [(name + ".html", MIME["html"], dossier_html(model, meta.locale, t).encode("utf-8")),
            (name + ".odt", MIME["odt"], to_odt(model, meta, t))]


def dossiers_zip(flow: Flow, found: list[Entry], meta: Meta, t: Labels,
                 stored: Mapping[str, bytes] | None = None) -> bytes:
    """The dossiers, each with the attached files themselves (those stored by reference
    `sha256:...`) in a folder of its own."""
    buffer = io.BytesIO()
    stamp = _zip_time(meta.generated_at)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in found:
            for name, _, data in dossier_files(flow, entry, meta, t):
                archive.writestr(zipfile.ZipInfo(name, stamp), data, zipfile.ZIP_DEFLATED)
            for name, data in attached_files(entry, stored or {}):
                archive.writestr(zipfile.ZipInfo(name, stamp), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def attached_files(entry: Entry, stored: Mapping[str, bytes]) -> list[tuple[str, bytes]]:
    """(path in the zip, bytes) of a candidature's stored attachments."""
    folder = f"dossier-{entry.candidature:03d}-{slug(entry.name)}-pieces"
    found = []
    for key, value in sorted(entry.snapshot.answers.items()):
        if isinstance(value, dict) and str(value.get("ref", "")) in stored:
            name = slug(str(value.get("name", "")).rsplit(".", 1)[0], 60)
            extension = slug(str(value.get("name", "")).rsplit(".", 1)[-1], 8) if "." in str(value.get("name")) else "bin"
            found.append((f"{folder}/{slug(key, 40)}-{name}.{extension}", stored[str(value["ref"])]))
    return found


def _zip_time(iso: str) -> tuple[int, int, int, int, int, int]:
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)
    return (max(1980, moment.year), moment.month, moment.day, moment.hour, moment.minute, moment.second)


def exports(conn: Connection, campaign_id: int, formats: tuple[str, ...], flows: Mapping[str, Flow],
            catalog: Labels, *, locale: str = "fr", now: datetime | None = None,
            dialect: CsvDialect = CsvDialect.SPREADSHEET) -> list[File]:
    campaign = Q.campaign_by_id(conn, campaign_id)
    if campaign is None:
        raise LookupError(f"no campaign with id {campaign_id}")
    flow = flows[campaign.flow_id]
    found = entries(conn, campaign, locale)
    generated = now or getattr(campaign, "closed_at", None) or datetime.now(timezone.utc)
    meta = Meta(campaign.slug, campaign.year, iso_z(generated), locale)
    stored = _stored_files(conn, found) if "dossiers" in formats else {}
    files: list[File] = []
    for fmt in formats:
        files.extend(render(flow, found, meta, catalog, fmt, dialect=dialect, stored=stored))
    return files


def _stored_files(conn: Connection, found: list[Entry]) -> dict[str, bytes]:
    refs = {str(v.get("ref", "")) for e in found for v in e.snapshot.answers.values() if isinstance(v, dict)}
    kept = {ref: content(conn, ref) for ref in sorted(refs) if ref.startswith(PREFIX)}
    return {ref: data for ref, data in kept.items() if data is not None}


def closing_attachments(conn: Connection, campaign_id: int, flows: Mapping[str, Flow],
                        catalog: Labels) -> list[tuple[str, str, bytes]]:
    """Every export of the campaign, for the jury's closing notice: (filename, mime, bytes)."""
    return exports(conn, campaign_id, FORMATS, flows, catalog)
