"""The pure reminder policy: slots, quiet hours, daylight-saving time, stale slots."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnlbot.campaigns.schedule import (ActionKind, CampaignClock, CandidatureView, MemberView, QuietHours,
                                  ReminderPlan, Sent, due, idle_slot, next_allowed, snooze_until,
                                  timeline)

from .conftest import UTC

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def local(instant: datetime) -> str:
    return instant.astimezone(PARIS).strftime("%a %d %b %H:%M %Z")


def campaign(closes: datetime, opens: datetime | None = None, **plan) -> CampaignClock:
    return CampaignClock(1, opens or paris(2024, 6, 12, 0, 0), closes, "Europe/Paris", ReminderPlan(**plan))


def draft(members=(1,), activity: datetime | None = None, joined: datetime | None = None,
          status: str = "draft", **member) -> CandidatureView:
    joined = joined or paris(2024, 6, 12, 9, 0)
    return CandidatureView(10, status, activity or joined,
                           tuple(MemberView(p, joined, **member) for p in members))


def test_the_timeline_keeps_the_wall_clock_across_the_october_change():
    # closes Tuesday 29 October 2024 at noon; the clocks go back on Sunday 27 October
    plan = timeline(campaign(paris(2024, 10, 29, 12, 0)))
    assert [(p.slot, local(p.nominal), local(p.due_at)) for p in plan] == [
        ("d14", "Tue 15 Oct 12:00 CEST", "Tue 15 Oct 12:00 CEST"),
        ("d7", "Tue 22 Oct 12:00 CEST", "Tue 22 Oct 12:00 CEST"),
        ("d2", "Sun 27 Oct 12:00 CET", "Mon 28 Oct 08:00 CET"),      # Sunday is quiet
        ("d1", "Mon 28 Oct 12:00 CET", "Mon 28 Oct 12:00 CET"),
    ]
    assert plan[0].due_at.hour == 10 and plan[3].due_at.hour == 11   # in UTC the hour moved


def test_the_timeline_across_the_march_change_and_a_skipped_hour():
    # closes Tuesday 2 April 2024 at 02:30; on Sunday 31 March 02:30 does not exist in Paris
    plan = timeline(campaign(paris(2024, 4, 2, 2, 30), opens=paris(2024, 3, 1, 0, 0)))
    assert [(p.slot, local(p.due_at)) for p in plan] == [
        ("d14", "Tue 19 Mar 08:00 CET"),        # 02:30 is night: 08:00 the same morning
        ("d7", "Tue 26 Mar 08:00 CET"),
        ("d2", "Mon 01 Apr 08:00 CEST"),        # Sunday 31 March: quiet all day
        ("d1", "Mon 01 Apr 08:00 CEST"),        # night: the same morning (same instant as d2)
    ]


def test_quiet_hours_move_to_the_next_allowed_morning():
    quiet = QuietHours(time(20, 0), time(8, 0), (6,))
    assert local(next_allowed(paris(2024, 10, 25, 21, 30), PARIS, quiet)) == "Sat 26 Oct 08:00 CEST"
    assert local(next_allowed(paris(2024, 10, 26, 21, 30), PARIS, quiet)) == "Mon 28 Oct 08:00 CET"
    assert local(next_allowed(paris(2024, 10, 27, 1, 0), PARIS, quiet)) == "Mon 28 Oct 08:00 CET"
    assert local(next_allowed(paris(2024, 10, 28, 7, 59), PARIS, quiet)) == "Mon 28 Oct 08:00 CET"
    assert local(next_allowed(paris(2024, 10, 28, 19, 59), PARIS, quiet)) == "Mon 28 Oct 19:59 CET"


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31)))
def test_next_allowed_is_never_quiet_never_earlier_and_at_most_two_days_later(naive):
    quiet = QuietHours()
    instant = naive.replace(tzinfo=UTC)
    allowed = next_allowed(instant, PARIS, quiet)
    assert allowed >= instant
    assert not quiet.is_quiet(allowed.astimezone(PARIS))
    assert allowed - instant <= timedelta(days=2, hours=1)


def test_a_slot_is_due_from_its_time_only_and_never_at_night():
    c = campaign(paris(2024, 11, 9, 0, 0))                # "closes on 8 November" (midnight)
    cand = draft(activity=paris(2024, 10, 25, 9, 0))      # active lately: no inactivity reminder
    d14 = timeline(c)[0]
    assert local(d14.due_at) == "Sat 26 Oct 08:00 CEST"
    assert due(c, [cand], [], d14.due_at - timedelta(seconds=1)) == []
    [action] = due(c, [cand], [], d14.due_at)
    assert (action.kind, action.slot, action.reason) == (ActionKind.SEND, "d14", "deadline")
    night = paris(2024, 10, 26, 22, 0)
    assert due(c, [cand], [], night) == []                 # due, but not sent at night


def test_after_downtime_only_the_latest_slot_is_sent_and_older_ones_are_skipped():
    c = campaign(paris(2024, 11, 9, 0, 0))
    actions = due(c, [draft()], [], paris(2024, 11, 7, 9, 0))     # d14, d7 and d2 are all due
    assert [(a.kind.value, a.slot, a.reason) for a in actions] == [
        ("send", "d2", "deadline"), ("skip", "d7", "stale"), ("skip", "d14", "stale"),
        ("skip", idle_slot(paris(2024, 6, 12, 9, 0)), "stale")]
    assert due(c, [draft()], [], paris(2024, 11, 9, 0, 0)) == []  # closed: nothing at all


def test_submitted_candidatures_elus_opted_out_and_capped_members():
    c = campaign(paris(2024, 11, 9, 0, 0), max_per_person=2, inactivity_days=0)
    at = timeline(c)[0].due_at
    assert due(c, [draft(status="submitted")], [], at) == []
    assert due(c, [draft(role="elu")], [], at) == []
    [opted] = due(c, [draft(opted_out=True)], [], at)
    assert (opted.kind, opted.reason) == (ActionKind.SKIP, "opted_out")
    sent = [Sent(10, 1, "x1", at - timedelta(days=30)), Sent(10, 1, "x2", at - timedelta(days=20))]
    [capped] = due(c, [draft()], sent, at)
    assert (capped.kind, capped.reason) == (ActionKind.SKIP, "max")


def test_a_member_who_joined_after_a_slot_is_not_sent_it():
    c = campaign(paris(2024, 11, 9, 0, 0))
    late = draft(joined=paris(2024, 10, 28, 9, 0), activity=paris(2024, 10, 28, 9, 0))
    assert due(c, [late], [], paris(2024, 10, 30, 9, 0)) == []
    [action] = due(c, [late], [], paris(2024, 11, 2, 8, 0))
    assert action.slot == "d7"


def test_inactivity_reminder_once_per_idle_period_and_never_soon_after_another():
    c = campaign(paris(2024, 11, 9, 0, 0))
    start = paris(2024, 6, 12, 9, 0)
    cand = draft(activity=start)
    assert due(c, [cand], [], start + timedelta(days=9, hours=23)) == []
    [idle] = due(c, [cand], [], paris(2024, 6, 22, 9, 0))
    assert (idle.slot, idle.reason) == (idle_slot(start), "idle")
    log = [Sent(10, 1, idle.slot, paris(2024, 6, 22, 9, 0))]
    assert due(c, [cand], log, paris(2024, 7, 22, 9, 0)) == []       # the same period: once
    moved = draft(activity=paris(2024, 6, 25, 9, 0))                  # activity, then silence again
    [again] = due(c, [moved], log, paris(2024, 7, 5, 9, 0))
    assert again.slot == idle_slot(paris(2024, 6, 25, 9, 0))


@pytest.mark.parametrize("asked,expected", [
    (paris(2024, 10, 28, 10, 15), "Tue 29 Oct 10:15 CET"),
    (paris(2024, 10, 26, 10, 15), "Mon 28 Oct 08:00 CET"),      # tomorrow is Sunday
    (paris(2024, 10, 28, 21, 0), "Wed 30 Oct 08:00 CET"),       # tomorrow 21:00 is night
])
def test_snooze_is_tomorrow_at_the_same_time_outside_quiet_hours(asked, expected):
    assert local(snooze_until(asked, campaign(paris(2024, 11, 9, 0, 0)))) == expected


def test_a_snooze_defers_the_deadline_slots_and_fires_once():
    c = campaign(paris(2024, 11, 9, 0, 0))
    until = paris(2024, 10, 29, 10, 15)
    cand = draft(snoozed_until=until)
    assert due(c, [cand], [], paris(2024, 10, 28, 12, 0)) == []          # d14 deferred
    actions = due(c, [cand], [], until)
    assert [(a.kind.value, a.slot) for a in actions][:2] == [("send", "d14"), ("skip", "snooze:20241029T0915")]
