"""Assessments in chat: /jury noter (one volet of one candidature) and /jury notes.

A grade is one of the flow's grading values (1 to 5 for the yearly label,
bronze / argent / or for the 2025 track, where a special mention may follow).
Before the campaign is over a juror sees only their own assessments; after
it, everyone's side by side. Applicants never reach this module.
"""
from __future__ import annotations

from ..core.answers import ascii_number, Problem, clean_text, fold
from ..core.events import Outgoing, OutKind
from ..core.flow import Flow
from .rules import NAME_KEY, volet_title
from ..i18n import local_time
from ..store.campaigns import Campaign
from . import queries as Q
from .chat import MAX_COMMENT, MENTIONS, Ask, _campaign, _lookup, _mention, _volet
from .exports import read_snapshot


def _grade(flow: Flow, token: str) -> str:
    return next((v for v in flow.grading_values if fold(v) == fold(token)), "")


def _mention_id(token: str) -> str:
    word = fold(token)
    return next((m for m in MENTIONS if word == m or (len(word) >= 4 and m.startswith(word))), "")


def _usage(ask: Ask, flow: Flow | None = None) -> list[Outgoing]:
    values = ", ".join(flow.grading_values) if flow else "1-5, bronze/argent/or"
    hint = ""
    if flow is None or flow.grading_kind == "medals":
        hint = ask.tr("jury.assess.mentions_hint", mentions=", ".join(MENTIONS))
    return ask.say("jury.assess.usage", values=values, mentions=hint)


def assess_(ask: Ask, tokens: list[str], rest: str) -> list[Outgoing]:
    """/jury noter N VOLET NOTE [MENTION] [commentaire]"""
    if len(tokens) < 3:
        return _usage(ask, ask.flows.get(ask.campaigns[0].flow_id))
    found = _lookup(ask, tokens)
    if isinstance(found, list):
        return found
    campaign, flow, entry = found
    volet = _volet(flow, tokens[1])
    if not volet:
        return ask.say("jury.unknown_volet", max=str(len(flow.volets)))
    grade = _grade(flow, tokens[2])
    if not grade:
        return ask.say("jury.assess.bad_grade", grade=tokens[2][:40], values=", ".join(flow.grading_values))
    words = rest.split(maxsplit=3)[3:]
    comment = words[0] if words else ""
    mention = ""
    if flow.grading_kind == "medals" and comment:
        first, _, remainder = comment.partition(" ")
        mention = _mention_id(first)
        comment = remainder.strip() if mention else comment
    if comment:
        cleaned = clean_text(comment, multiline=True)
        if isinstance(cleaned, Problem) or len(cleaned) > MAX_COMMENT:
            return ask.say("jury.assess.bad_comment", max=str(MAX_COMMENT))
        comment = cleaned
    name = Q.member_name(ask.conn, ask.inbound.transport, ask.inbound.user_id) or ask.inbound.display_name
    Q.save_assessment(ask.conn, entry.candidature, volet, ask.assessor, name,
                      grade, mention, comment, entry.snapshot.version, ask.now)
    return ask.say("jury.assess.saved", id=str(entry.candidature), volet=volet_title(flow, volet, ask.locale),
                   grade=grade, mention=_mention(ask, mention))


def grades_(ask: Ask, tokens: list[str], rest: str) -> list[Outgoing]:
    """/jury notes [N]: one candidature volet by volet, or the whole campaign."""
    if tokens and ascii_number(tokens[0]):
        found = _lookup(ask, tokens)
        if isinstance(found, list):
            return found
        campaign, flow, entry = found
        only = entry.candidature
    else:
        campaign = _campaign(ask, tokens)
        if isinstance(campaign, list):
            return campaign
        flow, only = ask.flows[campaign.flow_id], None
    rows = Q.assessments(ask.conn, campaign.id, only)
    lines = []
    if not Q.is_over(campaign, ask.now):
        rows = [a for a in rows if a.assessor == ask.assessor]
        lines.append(ask.tr("jury.grades.own_only",
                            when=local_time(Q.deadline(campaign), ask.locale, campaign.timezone)))
    if not rows:
        return [Outgoing(OutKind.NOTICE, "\n".join(lines + [ask.tr("jury.grades.none")]))]
    lines.append(ask.tr("jury.grades.title", campaign=campaign.slug))
    names, latest = _names(ask, campaign)
    for candidature_id in sorted({a.candidature_id for a in rows}):
        own = [a for a in rows if a.candidature_id == candidature_id]
        lines.append(ask.tr("jury.grades.candidature", id=str(candidature_id),
                            name=names.get(candidature_id, "?")))
        for volet in flow.volets:
            side = [a for a in own if a.volet == volet.id]
            if not side:
                continue
            grades = " · ".join(f"{_who(ask, a)} : {a.grade}{_mention(ask, a.mention)}"
                                + _older(ask, a, latest.get(candidature_id, a.version)) for a in side)
            lines.append(ask.tr("jury.grades.volet", volet=volet_title(flow, volet.id, ask.locale),
                                grades=grades))
            lines += [ask.tr("jury.grades.comment", who=_who(ask, a), comment=a.comment)
                      for a in side if a.comment]
    return [Outgoing(OutKind.NOTICE, "\n".join(lines))]


def _who(ask: Ask, a: Q.Assessment) -> str:
    return a.assessor_name or ask.tr("jury.grades.anonymous")


def _older(ask: Ask, a: Q.Assessment, current: int) -> str:
    """Said when the assessment was made on an earlier version than the jury now reads."""
    if a.version >= current:
        return ""
    return ask.tr("jury.grades.older", version=str(a.version), current=str(current))


def _names(ask: Ask, campaign: Campaign) -> tuple[dict[int, str], dict[int, int]]:
    """Each submitted candidature's name and the version the jury reads."""
    names, latest = {}, {}
    for candidature_id, versions in Q.campaign_submissions(ask.conn, campaign).items():
        snapshot = read_snapshot(versions[-1].snapshot)
        names[candidature_id] = str(snapshot.answers.get(NAME_KEY, "?")) if snapshot else "?"
        latest[candidature_id] = versions[-1].version
    return names, latest
