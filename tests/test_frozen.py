"""quick_init: the faster constructor of frozen, slotted dataclasses keeps their meaning."""
import dataclasses
from dataclasses import dataclass, field

import pytest

from tnlbot.core.events import Addressed, Inbound, InboundKind, Outgoing, OutKind
from tnlbot.core.frozen import quick_init
from tnlbot.core.turn import Dossier, Outcome, State


def _twins():
    def declare():
        @dataclass(frozen=True, slots=True)
        class Sample:
            name: str
            count: int = 3
            tags: list = field(default_factory=list)
            note: str = field(default="n")
        return Sample
    return declare(), quick_init(declare())


def test_it_builds_what_the_generated_constructor_builds():
    plain, quick = _twins()
    for args, kwargs in [(("a",), {}), (("a", 5), {}), (("a",), {"tags": [1]}),
                         ((), {"name": "b", "note": "x", "count": 0})]:
        assert dataclasses.astuple(quick(*args, **kwargs)) == dataclasses.astuple(plain(*args, **kwargs))
    one, two = quick("a"), quick("a")
    assert one == two and one.tags is not two.tags
    assert hash(quick("a", tags=())) == hash(quick("a", tags=()))
    assert repr(one) == "_twins.<locals>.declare.<locals>.Sample(name='a', count=3, tags=[], note='n')"
    assert dataclasses.replace(one, count=9) == quick("a", 9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.count = 4                       # still frozen
    with pytest.raises(TypeError):
        quick()                             # a required field stays required
    with pytest.raises(TypeError):
        quick("a", 1, [], "n", "extra")


def test_only_frozen_slotted_dataclasses_are_accepted():
    @dataclass(slots=True)
    class Loose:
        name: str

    with pytest.raises(TypeError):
        quick_init(Loose)


def test_the_engine_s_values_keep_their_fields():
    item = Outgoing(OutKind.PROMPT, "Q?", header="1/2", ref="q", update=True)
    assert Outgoing.from_json(item.to_json()) == item and item.options == () and item.update
    inbound = Inbound("telegram", "1", "c", "u", InboundKind.TEXT, text="oui")
    assert (inbound.text, inbound.values, inbound.file, inbound.group) == ("oui", (), None, False)
    assert Addressed("t", "c", item).dedup_key == "" and State().locale == "fr"
    outcome = Outcome(State(), Dossier())
    assert (outcome.changes, outcome.messages, outcome.submission, outcome.view) == ((), (), None, None)
