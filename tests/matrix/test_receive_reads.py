"""The Matrix receiving side reads nothing about an event from the store beside its transaction.

What an event means may depend on the store (which question a tap or a reply answers, whether
an edited message was handled, the language of a notice): those reads go through the `Lookup`
the dispatcher hands the event's `Step`, inside its savepoint. A read beside it would see the
store as it was before the batch's earlier events, or between two transactions.
"""
from __future__ import annotations

import ast
from pathlib import Path

import tnlbot.transports

RECEIVING = ("matrix_sync.py", "matrix_events.py", "matrix_rooms.py", "matrix_render.py")
# what the receiving side may still ask the store itself, and why
ALLOWED = {
    "begin": "a transaction of its own, for the acknowledgement when the batch's did not hold it",
    "enqueue": "writes the notices, inside the batch's transaction (`then`)",
    "set_checkpoint": "writes the sync token, inside the batch's transaction (`then`)",
    "checkpoint": "where the stream resumes, read once at start, before any event",
    "pending_for": "back-pressure before a chunk: how many replies wait, not what an event means",
}


def store_calls(source: str) -> list[tuple[int, str]]:
    """(line, method) of each `<...>.store.<method>` or `store.<method>` used in a module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        named = (owner.attr if isinstance(owner, ast.Attribute)
                 else owner.id if isinstance(owner, ast.Name) else "")
        if named == "store":
            found.append((node.lineno, node.attr))
    return found


def direct_reads(source: str) -> list[tuple[int, str]]:
    return [(line, name) for line, name in store_calls(source) if name not in ALLOWED]


def test_the_receiving_side_reads_an_event_only_through_its_step():
    folder = Path(tnlbot.transports.__file__).parent
    offenders = {name: direct_reads((folder / name).read_text(encoding="utf-8")) for name in RECEIVING}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_a_direct_read_is_flagged():
    source = ("class Receiver:\n"
              "    def _notice(self, notice):\n"
              "        return self.store.conversation_locale('matrix', notice.room_id, notice.user_id)\n"
              "    def prompt(self, room_id, event_id):\n"
              "        return store.prompt_sent_as('matrix', room_id, event_id)\n"
              "    def _acknowledge(self, conn):\n"
              "        self.store.set_checkpoint(conn, 'matrix.sync_token', 's1')\n")
    assert direct_reads(source) == [(3, "conversation_locale"), (5, "prompt_sent_as")]
