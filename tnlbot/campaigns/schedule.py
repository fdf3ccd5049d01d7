"""The reminder policy: due(campaign, candidatures, sent, now) -> actions.

How this file works:
- Pure: the campaign (instants in UTC, its time zone, its reminder plan), the
  draft candidatures with their members, what was already recorded and `now`
  go in; a list of actions (SEND or SKIP, each under a key
  (candidature, person, slot)) comes out. No clock, no I/O: the caller
  records each action under that unique key, in the same transaction as the
  outbox rows, so an action is never carried out twice.
- Slots: `d14`, `d7`... are "N days before closing" (same wall-clock time in
  the campaign's zone, so a change of daylight-saving time does not move
  them); `h12`... are "N hours before closing" (exact); `idle:<instant>` is "no activity for N days" (one per period of
  inactivity, never sooner than N days after the member's last reminder);
  `snooze:<instant>` is "remind me tomorrow".
- Quiet hours: a slot that falls at night or on a quiet day (Sunday) moves to
  the next allowed instant; and nothing is sent while `now` is quiet (a tick
  after downtime waits for the morning).
- Stale: of the slots due for one member, only the most useful is sent
  (the latest deadline slot, else the snooze, else the inactivity); the
  others are recorded as SKIP. Nothing is due at or after the closing, before
  the member joined, or before the campaign opened.
- Late joiners: a member who joined after the last deadline slot had passed
  (no slot left ahead of them) still gets that slot once, halfway between
  their joining and the closing, outside quiet hours, if that is before the
  closing; a member with a slot still ahead simply gets that one. Only drafts are
  reminded; members who opted out or reached the maximum get SKIP records.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from typing import AbstractSet, Iterable, Mapping, NamedTuple
from zoneinfo import ZoneInfo

UTC = timezone.utc


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time = time(20, 0)        # quiet from this local time...
    end: time = time(8, 0)           # ...until this local time the next morning
    days: tuple[int, ...] = (6,)     # weekdays (Monday = 0) entirely quiet: Sunday

    def is_quiet(self, local: datetime) -> bool:
        if local.weekday() in self.days:
            return True
        now = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


@dataclass(frozen=True, slots=True)
class ReminderPlan:
    before_days: tuple[int, ...] = (14, 7, 2, 1)
    before_hours: tuple[int, ...] = ()   # "N hours before closing" slots, for the last day
    inactivity_days: int = 10        # 0: no inactivity reminder
    max_per_person: int = 6
    quiet: QuietHours = QuietHours()

    def offsets(self) -> list[tuple[str, int]]:
        """The reminders before closing, earliest first, days then hours: ("d", 14) ... ("h", 12)."""
        return ([("d", n) for n in sorted(self.before_days, reverse=True)]
                + [("h", n) for n in sorted(self.before_hours, reverse=True)])


@dataclass(frozen=True, slots=True)
class CampaignClock:
    id: int
    opens_at: datetime
    closes_at: datetime
    timezone: str = "Europe/Paris"
    plan: ReminderPlan = ReminderPlan()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# The policy's inputs and outputs are named tuples: immutable like frozen dataclasses, and built
# several times faster, which a sweep does for every member of every candidature it reads.
class MemberView(NamedTuple):
    person_id: int
    joined_at: datetime
    role: str = "member"                  # responsible | member | elu
    opted_out: bool = False
    snoozed_until: datetime | None = None
    reachable: bool = True


class CandidatureView(NamedTuple):
    id: int
    status: str                           # only "draft" is reminded
    last_activity: datetime
    members: tuple[MemberView, ...] = ()


class Sent(NamedTuple):
    """One recorded action (the per-person log)."""
    candidature_id: int
    person_id: int
    slot: str
    at: datetime
    sent: bool = True                     # False: recorded as skipped


class ActionKind(str, Enum):
    SEND = "send"
    SKIP = "skip"


class Action(NamedTuple):
    kind: ActionKind
    candidature_id: int
    person_id: int
    slot: str
    due_at: datetime
    reason: str = ""                      # deadline | idle | snooze | stale | opted_out | max


@dataclass(frozen=True, slots=True)
class Planned:
    slot: str
    nominal: datetime                     # N days before closing, same wall-clock time
    due_at: datetime                      # after quiet hours


# ------------------------------------------------------------------ time

def next_allowed(instant: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    """The first instant at or after `instant` outside quiet hours (UTC)."""
    local = instant.astimezone(zone)
    for _ in range(16):
        if not quiet.is_quiet(local):
            break
        early = local.time().replace(tzinfo=None) < quiet.end
        day = local.date() if early else local.date() + timedelta(days=1)
        local = _wall(day, quiet.end, zone)
    return local.astimezone(UTC)


def _wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the zone (a time skipped by DST moves forward)."""
    local = datetime.combine(day, at, tzinfo=zone)
    return local.astimezone(UTC).astimezone(zone)


def days_before(closes_at: datetime, days: int, zone: ZoneInfo) -> datetime:
    """`days` days before the closing at the same local wall-clock time."""
    local = closes_at.astimezone(zone)
    wall = datetime.combine(local.date() - timedelta(days=days), local.time().replace(tzinfo=None),
                            tzinfo=zone)
    return wall.astimezone(UTC)


def timeline(campaign: CampaignClock) -> list[Planned]:
    """The deadline slots of a campaign, earliest first, within its opening."""
    plan, zone = campaign.plan, campaign.zone
    nominals = [(f"d{days}", days_before(campaign.closes_at, days, zone))
                for days in set(plan.before_days) if days > 0]
    nominals += [(f"h{hours}", campaign.closes_at - timedelta(hours=hours))
                 for hours in set(plan.before_hours) if hours > 0]
    out = []
    for slot, nominal in sorted(nominals, key=lambda item: item[1]):
        due = next_allowed(max(nominal, campaign.opens_at), zone, plan.quiet)
        if nominal >= campaign.opens_at and due < campaign.closes_at:
            out.append(Planned(slot, nominal, due))
    return out


def catch_up(campaign: CampaignClock, slots: list[Planned], joined_at: datetime) -> Planned | None:
    """For a member who joined after every deadline slot had passed: the last one, moved to
    halfway between their joining and the closing (outside quiet hours), if still before it."""
    missed = [p for p in slots if p.due_at < joined_at]
    if not missed or len(missed) < len(slots):
        return None
    at = next_allowed(joined_at + (campaign.closes_at - joined_at) / 2, campaign.zone, campaign.plan.quiet)
    return Planned(missed[-1].slot, missed[-1].nominal, at) if at < campaign.closes_at else None


def idle_slot(activity: datetime) -> str:
    return "idle:" + activity.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def snooze_slot(until: datetime) -> str:
    return "snooze:" + until.astimezone(UTC).strftime("%Y%m%dT%H%M")


def snooze_until(now: datetime, campaign: CampaignClock) -> datetime:
    """"Remind me tomorrow": the same local time tomorrow, outside quiet hours."""
    zone = campaign.zone
    local = now.astimezone(zone)
    wall = datetime.combine(local.date() + timedelta(days=1), local.time().replace(tzinfo=None),
                            tzinfo=zone)
    return next_allowed(wall.astimezone(UTC), zone, campaign.plan.quiet)


# ------------------------------------------------------------------ policy

def due(campaign: CampaignClock, candidatures: Iterable[CandidatureView],
        sent: Iterable[Sent], now: datetime) -> list[Action]:
    """What to send (or record as skipped) now, one action per key."""
    if now >= campaign.closes_at or now < campaign.opens_at:
        return []
    plan, zone = campaign.plan, campaign.zone
    if plan.quiet.is_quiet(now.astimezone(zone)):
        return []                         # nothing is sent while `now` is quiet
    log = _index(sent)
    slots = timeline(campaign)
    memo = _Memo()
    actions: list[Action] = []
    for cand in sorted(candidatures, key=_by_id):
        if cand.status != "draft":
            continue
        for member in sorted(cand.members, key=_by_person) if len(cand.members) > 1 else cand.members:
            if member.role == "elu" or not member.reachable:
                continue
            recorded, count, last = log.get((cand.id, member.person_id), _NOTHING)
            items = _pending(member, cand.last_activity, recorded, last, campaign, slots, memo, now)
            if items:
                actions += _choose(cand.id, member, items, plan, count)
    return actions


def _by_id(candidature: CandidatureView) -> int:
    return candidature.id


def _by_person(member: MemberView) -> int:
    return member.person_id


_NOTHING: tuple[AbstractSet[str], int, datetime | None] = (frozenset(), 0, None)   # nothing recorded yet


@dataclass
class _Memo:
    """What members of one batch share, computed once: a team's members share their activity,
    and many join on the same instant."""
    late: dict[datetime, Planned | None] = field(default_factory=dict)
    earliest: datetime | None = None     # the earliest deadline slot's instant
    idle: dict[tuple[datetime, datetime], tuple[str, datetime]] = field(default_factory=dict)


def _index(sent: Iterable[Sent]) -> Mapping[tuple[int, int], tuple[set[str], int, datetime | None]]:
    out: dict[tuple[int, int], tuple[set[str], int, datetime | None]] = {}
    for record in sent:
        key = (record.candidature_id, record.person_id)
        slots_, count, last = out.get(key, (set(), 0, None))
        slots_.add(record.slot)
        if record.sent:
            count += 1
            last = record.at if last is None or record.at > last else last
        out[key] = (slots_, count, last)
    return out


def _pending(member: MemberView, activity: datetime, recorded: AbstractSet[str], last_sent: datetime | None,
             campaign: CampaignClock, slots: list[Planned], memo: _Memo,
             until: datetime | None = None) -> list[tuple[int, str, datetime, str]]:
    """Every action not recorded yet for this member (`recorded`: its slots in the log), whenever
    it falls, or (`until`) only those falling at or before it: (rank, slot, at, reason). It is due
    once `at` has passed (and `now` is not quiet); only time makes more of them due."""
    plan = campaign.plan
    out = []
    joined, snoozed = member.joined_at, member.snoozed_until
    floor = snoozed or joined
    if joined in memo.late:
        late = memo.late[joined]
    else:
        late = memo.late[joined] = catch_up(campaign, slots, joined)
    if memo.earliest is None and slots:
        memo.earliest = min(p.due_at for p in slots)
    # a deadline slot falls at its instant or later (the floor): none falls by `until` when the
    # earliest of them (or the member's catch-up) comes after it, which is most of a sweep
    if until is None or (memo.earliest is not None and memo.earliest <= until) or (
            late is not None and late.due_at <= until):
        for rank, planned in enumerate(slots):
            if late is not None and planned.slot == late.slot:
                planned = late
            at = planned.due_at
            if at < joined or planned.slot in recorded:
                continue
            if at < floor:
                at = floor
            if until is None or at <= until:
                out.append((100 + rank, planned.slot, at, "deadline"))
    if snoozed is not None and (until is None or snoozed <= until):
        slot = snooze_slot(snoozed)
        if slot not in recorded:
            out.append((50, slot, snoozed, "snooze"))
    if plan.inactivity_days > 0:
        start = activity if activity > joined else joined
        quiet_since = max(start, last_sent or start, snoozed or start)
        known = memo.idle.get((start, quiet_since))
        if known is None:
            known = memo.idle[(start, quiet_since)] = (idle_slot(start), next_allowed(
                quiet_since + timedelta(days=plan.inactivity_days), campaign.zone, plan.quiet))
        slot, at = known
        if (until is None or at <= until) and slot not in recorded and at >= campaign.opens_at:
            out.append((10, slot, at, "idle"))
    return out


def next_due(campaign: CampaignClock, candidature: CandidatureView, sent: Iterable[Sent],
             now: datetime) -> datetime:
    """The first instant at which `due` gives this candidature an action, or earlier, never later;
    the closing instant when nothing can be due before it. The scheduler stores it and reads
    the candidature again at that instant (an instant at or before `now`: it is due already).

    Only these change what is due: time, the log (the scheduler's own records), and membership,
    preferences, the campaign and the status, which are stored with a mark that the candidature
    must be read again. Activity (answers) is not: a newer activity only moves a pending
    inactivity reminder later; and when the member's inactivity reminder is recorded already,
    the next one cannot end before `now` plus the inactivity period, which is the instant kept
    then (so a candidature idle after its reminder is read again once per period)."""
    return next_due_all(campaign, [candidature], sent, now)[candidature.id]


def next_due_all(campaign: CampaignClock, candidatures: Iterable[CandidatureView], sent: Iterable[Sent],
                 now: datetime) -> dict[int, datetime]:
    """`next_due` of each candidature (the timeline and the log read once for all)."""
    plan = campaign.plan
    log = _index(sent)
    slots = timeline(campaign)
    memo = _Memo()
    poll = now + timedelta(days=plan.inactivity_days)
    out: dict[int, datetime] = {}
    for candidature in candidatures:
        out[candidature.id] = campaign.closes_at
        if candidature.status != "draft" or now >= campaign.closes_at:
            continue
        earliest: datetime | None = None
        for member in candidature.members:
            if member.role == "elu" or not member.reachable:
                continue
            recorded, _, last = log.get((candidature.id, member.person_id), _NOTHING)
            pending = _pending(member, candidature.last_activity, recorded, last, campaign, slots, memo)
            instants = [at for _, _, at, _ in pending]
            if plan.inactivity_days > 0 and not any(reason == "idle" for *_, reason in pending):
                instants.append(poll)
            for at in instants:
                earliest = at if earliest is None or at < earliest else earliest
        if earliest is not None:
            at = next_allowed(max(earliest, campaign.opens_at), campaign.zone, plan.quiet)
            out[candidature.id] = min(at, campaign.closes_at)
    return out


def _choose(candidature_id: int, member: MemberView, due_now: list[tuple[int, str, datetime, str]],
            plan: ReminderPlan, sent_count: int) -> list[Action]:
    """Of the member's due slots (`due_now`, not empty), the most useful is sent (or skipped,
    with the reason); the others are recorded as stale."""
    person = member.person_id
    ranked = sorted(due_now, reverse=True) if len(due_now) > 1 else due_now
    best = ranked[0]
    if member.opted_out:
        verdict = (ActionKind.SKIP, "opted_out")
    elif sent_count >= plan.max_per_person:
        verdict = (ActionKind.SKIP, "max")
    else:
        verdict = (ActionKind.SEND, best[3])
    out = [Action(verdict[0], candidature_id, person, best[1], best[2], verdict[1])]
    out += [Action(ActionKind.SKIP, candidature_id, person, slot, at, "stale") for _, slot, at, _ in ranked[1:]]
    return out
