"""The three YAML files of a flow, written in one canonical layout.

The same flow always gives the same bytes: keys in a fixed order, limits and
conditions in flow style on one line, every human text double-quoted, a blank
line between volets and a `# --- volet ---` line before each volet's questions
in the language files. The bundled flows are kept in this layout, so a
workbook round trip (export, then import) gives them back byte for byte.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import yaml

QUESTION_KEYS = ("id", "kind", "required", "choices", "other", "min_length", "max_length",
                 "min", "max", "min_choices", "max_choices", "formats", "max_size_mb", "unit",
                 "min_items", "max_items", "when")
TEXT_KEYS = ("text", "help", "unit", "item")
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def scalar(value: Any) -> str:
    """One YAML scalar: plain when YAML reads it back as the same text, else quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def flow_style(value: Any) -> str:
    """A value in YAML flow style on one line: {a: 1, b: [x, y]}."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow_style(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow_style(v) for v in value) + "]"
    return scalar(value)


def quoted(text: Any) -> str:
    return json.dumps(str(text), ensure_ascii=False)


def _value(lead: str, indent: str, value: Any) -> Iterable[str]:
    """`key: value` on one line; a long all/any condition as a block, one item per line."""
    line = f"{lead} {flow_style(value)}"
    if len(line) <= 100 or not isinstance(value, dict) or len(value) != 1:
        yield line
        return
    (op, items), = value.items()
    if op not in ("all", "any") or not isinstance(items, list):
        yield line
        return
    yield lead
    yield f"{indent}{op}:"
    for item in items:
        yield f"{indent}  - {flow_style(item)}"


def _question(raw: dict[str, Any], indent: str) -> Iterable[str]:
    first = True
    for key in QUESTION_KEYS:
        if key not in raw or (key == "required" and not raw[key]):
            continue
        lead = f"{indent}{'- ' if first else '  '}{key}:"
        yield from _value(lead, indent + "    ", raw[key])
        first = False
    subs = raw.get("questions") or []
    if subs:
        yield f"{indent}  questions:"
        for sub in subs:
            yield from _question(sub, indent + "    ")


def structure_yaml(raw: dict[str, Any]) -> str:
    grading = raw.get("grading") or {}
    lines = [f"id: {scalar(raw['id'])}", f"version: {raw.get('version', 1)}",
             f"edition: {raw.get('edition', 0)}", f"track: {scalar(raw.get('track', 'label'))}",
             "grading:", f"  kind: {scalar(grading.get('kind', 'levels'))}",
             "  values: [" + ", ".join(quoted(v) for v in grading.get("values", ())) + "]",
             "volets:"]
    for index, volet in enumerate(raw.get("volets") or []):
        if index:
            lines.append("")
        lines.append(f"  - id: {scalar(volet['id'])}")
        if volet.get("optional"):
            lines.append("    optional: true")
        if "when" in volet:
            lines.extend(_value("    when:", "      ", volet["when"]))
        lines.append("    questions:")
        for question in volet.get("questions") or []:
            lines.extend(_question(question, "      "))
    return "\n".join(lines) + "\n"


def _question_ids(raw: dict[str, Any]) -> Iterable[str]:
    yield raw["id"]
    for sub in raw.get("questions") or []:
        yield from _question_ids(sub)


def _text_block(qid: str, texts: dict[str, Any]) -> Iterable[str]:
    yield f"  {scalar(qid)}:"
    for key in TEXT_KEYS:
        if texts.get(key):
            yield f"    {key}: {quoted(texts[key])}"
    if texts.get("choices"):
        yield "    choices:"
        for choice, label in texts["choices"].items():
            yield f"      {scalar(str(choice))}: {quoted(label)}"
    if texts.get("other"):
        yield f"    other: {quoted(texts['other'])}"


def texts_yaml(structure: dict[str, Any], texts: dict[str, Any]) -> str:
    """One language file, its questions in the order of the structure."""
    lines = [f"title: {quoted(texts.get('title', ''))}"]
    if texts.get("intro"):
        lines.append(f"intro: {quoted(texts['intro'])}")
    lines += ["", "volets:"]
    volet_texts = texts.get("volets") or {}
    for volet in structure.get("volets") or []:
        vtext = volet_texts.get(volet["id"]) or {}
        lines.append(f"  {scalar(volet['id'])}:")
        lines.append(f"    title: {quoted(vtext.get('title', ''))}")
        if vtext.get("intro"):
            lines.append(f"    intro: {quoted(vtext['intro'])}")
    lines += ["", "questions:"]
    question_texts = texts.get("questions") or {}
    for index, volet in enumerate(structure.get("volets") or []):
        if index:
            lines.append("")
        title = (volet_texts.get(volet["id"]) or {}).get("title", volet["id"])
        lines.append(f"  # --- {' '.join(str(title).split())} ---")
        for question in volet.get("questions") or []:
            for qid in _question_ids(question):
                lines.extend(_text_block(qid, question_texts.get(qid) or {}))
    return "\n".join(lines) + "\n"
