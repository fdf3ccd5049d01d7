"""The report as a self-contained HTML page and a PNG, charts drawn with pygal.

The page holds everything (styles inline, charts as inline SVG, no script:
it reads the same with JavaScript off, in a mail client or printed). Every
number an operator reads is also in a table cell marked `data-n` (summary)
or in the per-body table, so a test can compare the page with the store.
The PNG (pygal through CairoSVG) is the per-body progress chart with the
counts in its title: what an operator gets in a chat.
"""
from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Callable

import pygal
from pygal.style import Style

from ..i18n import local_time
from .report import Body, Report

Tr = Callable[..., str]
COLOURS = {"submitted": "#2e7d32", "amended": "#ef6c00", "draft": "#1565c0", "frozen": "#757575"}
STYLE = Style(background="white", plot_background="white", foreground="#222", foreground_strong="#000",
              foreground_subtle="#666", colors=("#1565c0", "#2e7d32", "#ef6c00", "#757575"),
              font_family="DejaVu Sans, Liberation Sans, Arial, sans-serif",
              label_font_size=13, major_label_font_size=13, title_font_size=16, value_font_size=12)
CSS = """body{font-family:DejaVu Sans,Liberation Sans,Arial,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.3em .6em;text-align:left}
td.n{text-align:right}th{background:#eef}.draft{color:#1565c0}.submitted{color:#2e7d32}
.amended{color:#ef6c00}.frozen{color:#757575}figure{margin:1em 0}svg{max-width:100%;height:auto}"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _static(svg: str) -> str:
    """pygal's SVG without its configuration script (the chart is drawn without it) and comments."""
    return re.sub(r"<script.*?</script>|<!--.*?-->", "", svg, flags=re.S)


def _left(report: Report, t: Tr) -> str:
    return t("report.days_left", n=str(report.days_left)) if report.days_left else t("report.closed")


def bodies_chart(report: Report, t: Tr) -> pygal.HorizontalBar:
    """Progress per body (% of the applicable answers given), coloured by status."""
    counts = {s: str(report.count(s)) for s in ("submitted", "amended", "draft")}
    chart = pygal.HorizontalBar(style=STYLE, js=[], disable_xml_declaration=True, width=900,
                                height=max(220, 120 + 34 * len(report.bodies)), show_legend=False,
                                range=(0, 100), title=t("report.chart_bodies", slug=report.slug,
                                                          left=_left(report, t), **counts),
                                print_values=True, formatter=lambda v: f"{v:.0f} %")
    chart.x_labels = [b.name[:40] for b in report.bodies]
    chart.add(t("report.progress"), [{"value": b.percent, "color": COLOURS[b.status],
                                      "label": t(f"report.status.{b.status}")} for b in report.bodies])
    return chart


def volets_chart(report: Report, t: Tr) -> pygal.Bar:
    chart = pygal.Bar(style=STYLE, js=[], disable_xml_declaration=True, width=900, height=320,
                      show_legend=False, range=(0, 100), print_values=True,
                      formatter=lambda v: f"{v:.0f} %", x_label_rotation=20)
    chart.x_labels = list(report.volet_titles)
    chart.add(t("report.progress"), [report.volet_percent(i) for i in range(len(report.volet_titles))])
    return chart


def png(report: Report, t: Tr) -> bytes:
    return bodies_chart(report, t).render_to_png()


def page(report: Report, t: Tr, locale: str) -> str:
    def when(instant: datetime) -> str:
        return local_time(instant, locale, report.timezone)

    parts = [f"<!DOCTYPE html><html lang=\"{_e(locale)}\"><head><meta charset=\"utf-8\">",
             f"<title>{_e(t('report.title', slug=report.slug))}</title><style>{CSS}</style></head><body>",
             f"<h1>{_e(t('report.title', slug=report.slug))}</h1>",
             f"<p>{_e(t('report.generated', now=when(report.now), state=t(f'report.state.{report.state}'), closes=when(report.closes_at), left=_left(report, t)))}</p>",
             _summary(report, t)]
    if report.bodies:
        parts += [f"<h2>{_e(t('report.bodies'))}</h2>",
                  f"<figure>{_static(bodies_chart(report, t).render(is_unicode=True))}</figure>",
                  _body_table(report, t, when),
                  f"<h2>{_e(t('report.volets'))}</h2>",
                  f"<figure>{_static(volets_chart(report, t).render(is_unicode=True))}</figure>"]
    else:
        parts.append(f"<p>{_e(t('report.none'))}</p>")
    parts += [_idle(report, t), _reminders(report, t), "</body></html>"]
    return "\n".join(parts)


def _summary(report: Report, t: Tr) -> str:
    cells = [("started", report.started), ("submitted", report.count("submitted")),
             ("amended", report.count("amended")), ("draft", report.count("draft")),
             ("frozen", report.count("frozen")), ("reminders_sent", report.reminders_sent),
             ("left", report.days_left)]
    rows = "".join(f"<tr><th>{_e(t(f'report.{key}'))}</th><td class=\"n\" data-n=\"{key}\">{n}</td></tr>"
                   for key, n in cells)
    return f"<h2>{_e(t('report.summary'))}</h2><table>{rows}</table>"


def _body_table(report: Report, t: Tr, when: Callable) -> str:
    head = [t("report.body"), t("report.status_label"), t("report.version"), t("report.progress"),
            *report.volet_titles, t("report.last_change"), t("report.idle_days"), t("report.members"),
            t("report.reminders"), t("report.stuck_at")]
    rows = [f"<tr>{''.join(f'<th>{_e(h)}</th>' for h in head)}</tr>"]
    rows += [_body_row(b, t, when) for b in report.bodies]
    return f"<table id=\"bodies\">{''.join(rows)}</table>"


def _body_row(b: Body, t: Tr, when: Callable) -> str:
    volets = [f"{p[0]}/{p[1]}" if p is not None else t("report.not_concerned") for p in b.volets]
    cells = [(b.name, ""), (t(f"report.status.{b.status}"), b.status), (b.version, "n"),
             (f"{b.done}/{b.total} ({b.percent} %)", "n"), *((v, "n") for v in volets),
             (when(b.last_change), ""), (b.idle_days, "n"), (b.members, "n"), (b.reminders_sent, "n"),
             (b.stuck_at, "")]
    body = "".join(f"<td class=\"{cls}\">{_e(value)}</td>" for value, cls in cells)
    return f"<tr data-candidature=\"{b.candidature_id}\">{body}</tr>"


def _idle(report: Report, t: Tr) -> str:
    title = f"<h2>{_e(t('report.idle', n=str(report.idle_after)))}</h2>"
    if not report.idle:
        return title + f"<p>{_e(t('report.idle_none', n=str(report.idle_after)))}</p>"
    items = "".join(f"<li data-candidature=\"{b.candidature_id}\">{_e(b.name)} — {b.idle_days} "
                    f"{_e(t('report.idle_days').lower())} — {_e(b.stuck_at)}</li>" for b in report.idle)
    return title + f"<ul id=\"idle\">{items}</ul>"


def _reminders(report: Report, t: Tr) -> str:
    title = f"<h2>{_e(t('report.reminder_log'))}</h2>"
    if not report.reminders:
        return title + f"<p>{_e(t('report.no_reminder'))}</p>"
    head = f"<tr><th>{_e(t('report.slot'))}</th><th>{_e(t('report.sent'))}</th><th>{_e(t('report.skipped'))}</th></tr>"
    rows = "".join(f"<tr><td>{_e(slot)}</td><td class=\"n\">{sent}</td><td class=\"n\">{skipped}</td></tr>"
                   for slot, sent, skipped in report.reminders)
    return title + f"<table id=\"reminders\">{head}{rows}</table>"


def files(report: Report, t: Tr, locale: str) -> list[tuple[str, str, bytes]]:
    """(filename, mime, bytes): the page and the picture."""
    base = f"rapport-{report.slug}" if locale == "fr" else f"report-{report.slug}"
    return [(base + ".png", "image/png", png(report, t)),
            (base + ".html", "text/html", page(report, t, locale).encode("utf-8"))]
