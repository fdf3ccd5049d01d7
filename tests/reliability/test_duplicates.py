"""Every inbound delivered twice, conversations interleaved at random: same store as a clean run.

Four conversations (two on the terminal, two people in one Telegram group,
whose external ids reuse the terminal's: ids are unique per transport
only) are played once, in order, on a fresh store: that is the reference.
Then the same events are delivered with each one twice, the duplicate
right after or much later, the conversations interleaved at random; and
again by two workers (two Apps on one store) receiving each event at the
same moment, conversations running side by side. Answers, history,
conversation states, candidatures, submissions and every outbox message
must come out equal.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tnlbot.app import App, Settings
from tnlbot.core.events import FileRef, Inbound, InboundKind
from tnlbot.transports.console import parse_line

from ..conftest import open_campaign
from .dbstate import content, differences
from .plan import FILE_LINE, LINES, siren_for

Action = tuple

# A SIREN links one body to one candidature: each conversation has its own, or the first to
# answer would win and the interleaving would decide who.
FULL = [("say", "/start")] + [("file", "deliberation.pdf", 120_000) if line == FILE_LINE
                              else ("say", line.format(siren=siren_for(10))) for _, line in LINES] + [
    ("say", "/recap"), ("say", "/deposer"), ("say", "oui"), ("say", "/modifier 2"), ("say", "1"),
    ("say", "/deposer"), ("press", "confirm", "yes"), ("say", "/statut")]

WANDERING = [
    ("say", "bonjour"), ("say", "Mairie de Brest"), ("press", "type_collectivite", "commune"),
    ("say", "/retour"), ("press", "type_collectivite", "epci"), ("say", siren_for(11)),
    ("say", "/passer"), ("say", "/aide"), ("say", "/langue en"), ("say", "35000"),
    ("say", "/recap 1"), ("say", "/langue fr"), ("say", "/modifier deja_labellise"),
    ("press", "deja_labellise", "yes"), ("toggle", "annees_label", "2016"),
    ("toggle", "annees_label", "2018"), ("toggle", "annees_label", "2016"),
    ("press", "annees_label"), ("say", "3"), ("say", "/aller 2"), ("say", "non"),
    ("say", "/statut"), ("say", "/manquant"), ("press", "deja_labellise", "no"), ("say", "/recap")]

CLUMSY = [
    ("say", ""), ("say", "\x00"), ("say", "/inconnue"), ("say", "Ville-sur-Mer"), ("say", "99"),
    ("say", "1"), ("say", "12345"), ("say", siren_for(12)), ("press", "nom_collectivite", "x"),
    ("press", "siren", "yes"), ("say", "29"), ("say", "-5"), ("say", "1 000"), ("say", "/annuler"),
    ("say", "/deposer"), ("file", "photo.jpg", 5000), ("say", "/retour"), ("say", "/retour"),
    ("say", "abc"), ("say", "12"), ("say", "/passer"), ("say", "/passer"), ("say", "/recap")]

NEIGHBOUR = [
    ("say", "/start"), ("say", "Commune de Quimper"), ("press", "type_collectivite", "commune"),
    ("press", "siren", "yes"), ("say", siren_for(13)), ("press", "nom_collectivite", "x"),
    ("say", "/modifier 1"), ("say", "Quimper"), ("say", "/langue en"), ("say", "/aide"),
    ("press", "type_collectivite", "region"), ("say", "/recap")]

CONVERSATIONS = [("console", "terminal:anne", "anne", FULL),
                 ("console", "terminal:bruno", "bruno", WANDERING),
                 ("telegram", "-100", "300", CLUMSY),
                 ("telegram", "-100", "400", NEIGHBOUR)]


def inbound(transport: str, chat: str, user: str, external_id: str, action: Action) -> Inbound:
    base = dict(transport=transport, external_id=external_id, chat_id=chat, user_id=user,
                display_name=user)
    kind, *rest = action
    if kind == "say":
        parsed = parse_line(rest[0], chat, user, external_id)
        return Inbound(kind=parsed.kind, text=parsed.text, command=parsed.command, **base)
    if kind == "press":
        return Inbound(kind=InboundKind.CHOICE, ref=rest[0], values=tuple(rest[1:]), **base)
    if kind == "toggle":
        return Inbound(kind=InboundKind.TOGGLE, ref=rest[0], values=(rest[1],), **base)
    return Inbound(kind=InboundKind.FILE, file=FileRef(rest[0], "application/pdf", rest[1],
                                                       f"file-{rest[0]}"), **base)


def conversations() -> list[list[Inbound]]:
    """Each conversation's events; external ids count per transport, so they collide across."""
    counters: dict[str, int] = {}
    out = []
    for transport, chat, user, actions in CONVERSATIONS:
        events = []
        for action in actions:
            counters[transport] = counters.get(transport, 0) + 1
            events.append(inbound(transport, chat, user, f"e{counters[transport]}", action))
        out.append(events)
    return out


def interleaved_twice(rng: random.Random) -> list[Inbound]:
    """Conversations merged at random; each event again, right after or much later."""
    queues = [list(c) for c in conversations()]
    order: list[Inbound] = []
    waiting: list[Inbound] = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        event = queue.pop(0)
        order.append(event)
        waiting.append(event)
        while waiting and rng.random() < 0.5:
            order.append(waiting.pop(rng.randrange(len(waiting))))
    rng.shuffle(waiting)
    return order + waiting


def make(store, clock, flows, catalog) -> App:
    return App(Settings(database_url=store.url), clock=clock, store=store, flows=flows,
               catalog=catalog)


_CLEAN: dict[str, dict] = {}


def clean_run_and_two_workers(fresh_store, clock, flows, catalog) -> tuple[dict, object, list[App]]:
    """The clean run's store content, then a new store with an open campaign and two
    workers on it (each with its own Store object: its own connections)."""
    expected = clean_run(fresh_store, clock, flows, catalog)
    first = fresh_store()
    open_campaign(first)
    second = type(first)(first.url)
    return expected, first, [make(first, clock, flows, catalog), make(second, clock, flows, catalog)]


def clean_run(fresh_store, clock, flows, catalog) -> dict:
    """Each event once, conversation after conversation (computed once per kind of store)."""
    if fresh_store.kind not in _CLEAN:
        store = fresh_store()
        open_campaign(store)
        app = make(store, clock, flows, catalog)
        for events in conversations():
            for event in events:
                assert not app.dispatcher.handle(event).duplicate
        _CLEAN[fresh_store.kind] = content(store)
    return _CLEAN[fresh_store.kind]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_event_twice_and_interleaved_gives_the_clean_store(fresh_store, clock, flows,
                                                                catalog, seed):
    expected = clean_run(fresh_store, clock, flows, catalog)
    store = fresh_store()
    open_campaign(store)
    app = make(store, clock, flows, catalog)
    handled = [app.dispatcher.handle(event) for event in interleaved_twice(random.Random(seed))]
    assert sum(h.duplicate for h in handled) == len(handled) // 2
    got = content(store)
    assert got == expected, differences(got, expected)


def test_two_workers_receiving_each_event_at_once_give_the_clean_store(fresh_store, clock, flows,
                                                                       catalog):
    expected, first, workers = clean_run_and_two_workers(fresh_store, clock, flows, catalog)
    # Long-lived threads: the SQLite store keeps one connection per thread that used it.
    pools = [ThreadPoolExecutor(len(CONVERSATIONS)) for _ in workers]
    try:
        with ThreadPoolExecutor(len(CONVERSATIONS)) as pool:
            counts = list(pool.map(lambda events: _both_at_once(workers, pools, events),
                                   conversations()))
        assert all(duplicates == len(events) for duplicates, events in zip(counts, conversations()))
        got = content(first)
    finally:
        for executor in pools:
            executor.shutdown()
        workers[1].store.close()
    assert got == expected, differences(got, expected)


def _both_at_once(workers: list[App], pools: list[ThreadPoolExecutor], events: list[Inbound]) -> int:
    """Hand each event to both workers at the same moment; returns how many were duplicates."""
    duplicates = 0
    for event in events:
        gate = threading.Barrier(len(workers))

        def deliver(app: App, event: Inbound = event, gate: threading.Barrier = gate) -> bool:
            gate.wait()
            return app.dispatcher.handle(event).duplicate
        results = [f.result() for f in [pool.submit(deliver, app) for pool, app in zip(pools, workers)]]
        assert results.count(False) == 1, f"{event.external_id} handled {results.count(False)} times"
        duplicates += results.count(True)
    return duplicates


def batches_of(events: list[Inbound], rng: random.Random) -> list[list[Inbound]]:
    """Events cut into batches of 2 to 12, in order, as a platform delivers them together."""
    out: list[list[Inbound]] = []
    while events:
        size = rng.randint(2, 12)
        out.append(events[:size])
        events = events[size:]
    return out


def spy_ahead(store) -> list[str]:
    """How each batch read ahead ended (PostgreSQL): 'ahead', or 'again' (run one by one)."""
    plain, ended = store.ahead, []

    @contextmanager
    def ahead(conn, keys):
        try:
            with plain(conn, keys) as fast:
                yield fast
        except Exception:
            ended.append("again")
            raise
        ended.append("ahead")
    store.ahead = ahead
    return ended


@pytest.mark.parametrize("seed", [1, 2])
def test_each_event_twice_delivered_in_batches_gives_the_clean_store(fresh_store, clock, flows,
                                                                     catalog, seed):
    """Group commit: the same interleaved deliveries handed in batches (on PostgreSQL read
    ahead: one event or its duplicate may come twice in one batch, a conversation several
    times, two people of one team side by side)."""
    expected = clean_run(fresh_store, clock, flows, catalog)
    store = fresh_store()
    open_campaign(store)
    app = make(store, clock, flows, catalog)
    ended = spy_ahead(store)
    rng = random.Random(seed)
    handled = [result for batch in batches_of(interleaved_twice(rng), rng)
               for result in app.dispatcher.handle_batch(batch)]
    assert not [h for h in handled if isinstance(h, Exception)]
    assert sum(h.duplicate for h in handled) == len(handled) // 2
    assert all(h.outbox_ids == tuple(sorted(h.outbox_ids)) for h in handled)
    assert [len(h.outbox_ids) for h in handled] == [len(h.messages) for h in handled]
    got = content(store)
    assert got == expected, differences(got, expected)
    if fresh_store.kind == "postgres":
        assert ended.count("ahead") > len(ended) // 2, ended   # most batches went ahead


def test_two_workers_receiving_each_batch_at_once_give_the_clean_store(fresh_store, clock, flows,
                                                                       catalog):
    """Two workers handed the same batch at the same moment: each event is handled once."""
    expected, first, workers = clean_run_and_two_workers(fresh_store, clock, flows, catalog)
    rng = random.Random(7)
    queues, order = conversations(), []
    while any(queues):
        order.append(rng.choice([q for q in queues if q]).pop(0))
    try:
        with ThreadPoolExecutor(len(workers)) as pool:
            for batch in batches_of(order, rng):
                gate = threading.Barrier(len(workers))

                def deliver(app: App, batch: list[Inbound] = batch,
                            gate: threading.Barrier = gate) -> list:
                    gate.wait()
                    return app.dispatcher.handle_batch(batch)
                both = [f.result() for f in [pool.submit(deliver, app) for app in workers]]
                for event, results in zip(batch, zip(*both)):
                    assert not [r for r in results if isinstance(r, Exception)], results
                    done = [r for r in results if not r.duplicate]
                    assert len(done) == 1, f"{event.external_id} handled {len(done)} times"
        got = content(first)
    finally:
        workers[1].store.close()
    assert got == expected, differences(got, expected)
