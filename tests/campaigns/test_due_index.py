"""The stored next instants (candidatures.next_action_at): at every instant, the
candidatures the scheduler reads through the index give exactly the actions a
full scan of every draft with the pure policy gives, whatever the campaign's
plan, the members joining, the answers, snoozes and opt-outs, and the jumps in
time between ticks (a tick every few minutes or after days of downtime)."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update

from tnlbot.campaigns import recheck
from tnlbot.campaigns.config import clock_of
from tnlbot.campaigns.context import insert_or_skip
from tnlbot.campaigns.reminders import BATCH, Wave, candidates, load
from tnlbot.campaigns.schedule import CampaignClock, due, next_due, snooze_until
from tnlbot.store import Store
from tnlbot.store import campaign_tables as C
from tnlbot.store import tables as T
from tnlbot.store.campaigns import campaign_by_slug, create_campaign

from .conftest import UTC

OPENS = datetime(2024, 3, 4, 7, 0, tzinfo=UTC)      # a Monday, 08:00 in Paris
_serial = itertools.count(1)

plans = st.fixed_dictionaries({
    "before_days": st.lists(st.sampled_from([1, 2, 3, 7, 14, "12h", "3h"]), max_size=4, unique=True),
    "inactivity_days": st.sampled_from([0, 1, 3, 10]),
    "max_per_person": st.integers(0, 4),
})
change = st.one_of(
    st.tuples(st.just("answer"), st.integers(0, 5)),
    st.tuples(st.just("join"), st.integers(0, 5)),
    st.tuples(st.just("snooze"), st.integers(0, 12)),
    st.tuples(st.just("stop"), st.integers(0, 12)),
    st.tuples(st.just("again"), st.integers(0, 12)),
    st.tuples(st.just("start"), st.just(0)),
    st.tuples(st.just("wait"), st.just(0)),
)
# minutes to the next tick: a minute, an hour, a day, downtime of days
jumps = st.sampled_from([1, 17, 60, 6 * 60, 24 * 60, 3 * 24 * 60, 9 * 24 * 60])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    made = Store(Store.sqlite_url(tmp_path_factory.mktemp("due") / "due.db"))
    yield made
    made.close()


def keys(actions) -> set[tuple]:
    return {(a.kind, a.candidature_id, a.person_id, a.slot, a.due_at, a.reason) for a in actions}


def full_scan(store: Store, clock: CampaignClock, now: datetime) -> set[tuple]:
    """The policy over every draft of the campaign, whatever is stored."""
    k = T.candidatures
    with store.begin() as conn:
        ids = list(conn.execute(select(k.c.id).where(k.c.campaign_id == clock.id, k.c.status == "draft")
                                .order_by(k.c.id)).scalars())
        views, log = load(conn, clock.id, ids)
    return keys(due(clock, views, log, now))


def through_index(store: Store, clock: CampaignClock, now: datetime) -> set[tuple]:
    """The policy over the candidatures the index gives, page after page, as the wave reads them."""
    found, after = set(), 0
    with store.begin() as conn:
        while ids := candidates(conn, clock, now, after, BATCH):
            views, log = load(conn, clock.id, ids)
            found |= keys(due(clock, views, log, now))
            after = ids[-1]
    return found


class World:
    """One campaign's people and candidatures, changed as the bot's own code changes them."""

    def __init__(self, store: Store, plan: dict, days: int) -> None:
        self.store, self.n = store, next(_serial)
        slug = f"due-{self.n}"
        with store.begin() as conn:
            create_campaign(conn, slug=slug, year=2024, track="label", flow_id="tnl-2022", opens_at=OPENS,
                            closes_at=OPENS + timedelta(days=days), state="open",
                            config={"reminders": plan})
            self.campaign = campaign_by_slug(conn, slug)
        self.clock = clock_of(self.campaign)
        self.people: list[int] = []
        self.cands: list[int] = []

    def person(self, conn, now: datetime) -> int:
        pid = conn.execute(insert(T.people).values(display_name="p", locale="fr", created_at=now)
                           .returning(T.people.c.id)).scalar_one()
        self.people.append(pid)
        return int(pid)

    def start(self, now: datetime) -> None:
        """A new draft with its responsible, as /start makes it (next instant not computed yet)."""
        with self.store.begin() as conn:
            pid = self.person(conn, now)
            cid = conn.execute(insert(T.candidatures).values(
                campaign_id=self.campaign.id, responsible_id=pid, status="draft", version=0, amended=False,
                created_at=now, updated_at=now).returning(T.candidatures.c.id)).scalar_one()
            conn.execute(insert(T.members).values(candidature_id=cid, person_id=pid, role="responsible",
                                                  volets="[]", joined_at=now))
        self.cands.append(int(cid))

    def apply(self, what: str, which: int, now: datetime) -> None:
        k = T.candidatures
        with self.store.begin() as conn:
            if what == "answer":           # the hot path's touch of the candidature, nothing else
                conn.execute(update(k).where(k.c.id == self.cands[which % len(self.cands)])
                             .values(updated_at=now))
            elif what == "join":
                cand = self.cands[which % len(self.cands)]
                pid = self.person(conn, now)
                conn.execute(insert(T.members).values(candidature_id=cand, person_id=pid, role="member",
                                                      volets="[]", joined_at=now))
                recheck.candidatures(conn, [cand])
            elif what in ("snooze", "stop", "again"):
                pid = self.people[which % len(self.people)]
                values = ({"snoozed_until": snooze_until(now, self.clock)} if what == "snooze"
                          else {"opted_out": what == "stop"})
                p = C.reminder_prefs
                conn.execute(insert_or_skip(conn, p).values(
                    campaign_id=self.campaign.id, person_id=pid, opted_out=values.get("opted_out", False),
                    snoozed_until=values.get("snoozed_until"), updated_at=now)
                    .on_conflict_do_update(index_elements=[p.c.campaign_id, p.c.person_id],
                                           set_={**values, "updated_at": now}))
                recheck.person(conn, self.campaign.id, pid)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(plan=plans, days=st.integers(3, 40), drafts=st.integers(1, 4),
       steps=st.lists(st.tuples(jumps, change), min_size=1, max_size=25))
def test_the_index_gives_what_a_full_scan_gives_at_every_instant(store, flows, catalog, plan, days, drafts,
                                                                  steps):
    world = World(store, plan, days)
    now = OPENS
    for _ in range(drafts):
        world.start(now)
    wave = Wave(store, flows, catalog)
    for minutes, (what, which) in steps:
        now += timedelta(minutes=minutes)
        if what == "start":
            world.start(now)
        world.apply(what, which, now)
        if now >= world.clock.closes_at:
            break
        expected = full_scan(store, world.clock, now)
        assert through_index(store, world.clock, now) == expected
        wave.run(world.campaign, now)
        assert full_scan(store, world.clock, now) == set()     # the wave did all of it
        with store.begin() as conn:        # every stored instant is ahead, and never after the policy's
            k = T.candidatures
            stored = dict(conn.execute(select(k.c.id, k.c.next_action_at).where(
                k.c.campaign_id == world.campaign.id)).all())
            views, log = load(conn, world.clock.id, world.cands)
        for view in views:
            if not world.clock.plan.quiet.is_quiet(now.astimezone(world.clock.zone)):
                assert stored[view.id] is not None and stored[view.id] > now
                assert stored[view.id] <= next_due(world.clock, view, log, now)


def test_a_stored_instant_is_never_later_than_the_first_action(flows, catalog):
    """Probing the pure policy minute by minute (well, every 20 minutes) after next_due."""
    from tnlbot.campaigns.schedule import CandidatureView, MemberView, ReminderPlan
    closes = OPENS + timedelta(days=20)
    for inactivity in (0, 3):
        clock = CampaignClock(1, OPENS, closes, plan=ReminderPlan(before_days=(7, 2), before_hours=(12,),
                                                                  inactivity_days=inactivity))
        view = CandidatureView(1, "draft", OPENS + timedelta(days=1),
                               (MemberView(1, OPENS), MemberView(2, OPENS + timedelta(days=15))))
        at = next_due(clock, view, [], OPENS)
        probe = OPENS
        while probe < at:
            assert due(clock, [view], [], probe) == [], probe
            probe += timedelta(minutes=20)
        assert due(clock, [view], [], at)


def test_a_member_who_joins_after_the_last_slot_is_read_again_for_their_catch_up(store, flows, catalog):
    """Nothing was ahead for the team (the last slot recorded, no inactivity reminder): the
    join clears the stored instant, so the newcomer's catch-up reminder is not missed."""
    world = World(store, {"before_days": [2], "inactivity_days": 0, "max_per_person": 3}, days=10)
    world.start(OPENS)
    wave = Wave(store, flows, catalog)
    after_d2 = OPENS + timedelta(days=8, hours=1)             # Tuesday 12 March, 09:00 in Paris
    assert wave.run(world.campaign, after_d2).skipped == 1     # d2, recorded (nobody to send it to)
    assert through_index(store, world.clock, after_d2 + timedelta(days=1)) == set()
    world.apply("join", 0, after_d2 + timedelta(hours=1))
    later = OPENS + timedelta(days=9, hours=2)                  # past halfway to the closing
    expected = full_scan(store, world.clock, later)
    assert [(slot, person) for _, _, person, slot, *_ in expected] == [("d2", world.people[-1])]
    assert through_index(store, world.clock, later) == expected
