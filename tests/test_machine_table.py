"""The conversation machine: every trigger in every mode, and no mode written around it.

The expected table below is written by hand. Each row says where a trigger leads
from a mode, and under which conditions (in the order they are checked); a
trigger with no row for a mode is refused there. Every trigger is fired in every
mode with every combination of the conditions true or false, through the table
the engine reads (`fire`) and through the `transitions` Machine itself, and both
must give the row's answer.
"""
from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from tnlbot.core.machine import TABLE, Condition, Mode, Refused, Trigger, can, fire, fire_machine
from tnlbot.core.turn import State
from tnlbot.store.jsontext import dumps

SUBMIT_CHECKS = "accepting responsible complete checked claim_verified elu_confirmed something_new"
READY = "accepting complete checked claim_verified elu_confirmed"

# mode         trigger             -> destination   [if conditions, in order]
EXPECTED = f"""
new            begin               -> asking
asking         begin               -> asking
confirming     begin               -> asking
idle           begin               -> asking
new            finish              -> idle
asking         finish              -> idle
confirming     finish              -> idle
idle           finish              -> idle
asking         ask_confirmation    -> confirming    if {SUBMIT_CHECKS}
confirming     ask_confirmation    -> confirming    if {SUBMIT_CHECKS}
idle           ask_confirmation    -> confirming    if {SUBMIT_CHECKS}
confirming     confirm             -> idle          if {READY}
confirming     leave               -> asking
confirming     cancel              -> asking
new            restart             -> new
asking         restart             -> new
confirming     restart             -> new
idle           restart             -> new
"""


def _expected() -> dict[tuple[Mode, Trigger], tuple[Mode, tuple[Condition, ...]]]:
    rows = {}
    for line in EXPECTED.strip().splitlines():
        left, right = line.split("->")
        mode, trigger = left.split()
        dest, _, conditions = right.partition(" if ")
        rows[Mode(mode), Trigger(trigger)] = (Mode(dest.strip()), tuple(Condition(c) for c in conditions.split()))
    return rows


ROWS = _expected()
CASES = [(mode, trigger) for mode in Mode for trigger in Trigger]


def _answer(mode: Mode, trigger: Trigger, true: set[Condition]) -> Mode | Refused:
    """What the hand-written table says."""
    row = ROWS.get((mode, trigger))
    if row is None:
        return Refused(mode, trigger)
    dest, conditions = row
    failed = next((c for c in conditions if c not in true), None)
    return dest if failed is None else Refused(mode, trigger, failed)


@pytest.mark.parametrize(("mode", "trigger"), CASES, ids=[f"{m}-{t}" for m, t in CASES])
def test_every_trigger_in_every_mode(mode: Mode, trigger: Trigger) -> None:
    for values in itertools.product((True, False), repeat=len(Condition)):
        true = {c for c, v in zip(Condition, values) if v}
        asked: list[Condition] = []

        def facts(condition: Condition) -> bool:
            asked.append(condition)
            return condition in true

        expected = _answer(mode, trigger, true)
        got = fire(mode, trigger, facts)
        assert got == expected, (mode, trigger, sorted(true))
        # the conditions are asked in the row's order, and none after the first that fails
        wanted = list(ROWS[mode, trigger][1]) if (mode, trigger) in ROWS else []
        if isinstance(expected, Refused) and expected.condition is not None:
            wanted = wanted[:wanted.index(expected.condition) + 1]
        assert asked == wanted
        assert can(mode, trigger, facts) is not isinstance(expected, Refused)
        # the transitions Machine, the source of the table, agrees
        machine = fire_machine(mode, trigger, lambda c: c in true)
        assert machine == (None if isinstance(expected, Refused) else expected), (mode, trigger, sorted(true))


def test_table_is_the_machines_and_nothing_more() -> None:
    assert set(TABLE) == set(ROWS)


def test_a_refusal_does_not_raise_and_leaves_the_mode() -> None:
    assert fire(Mode.NEW, Trigger.CONFIRM) == Refused(Mode.NEW, Trigger.CONFIRM, None)
    assert fire(Mode.IDLE, Trigger.CANCEL) == Refused(Mode.IDLE, Trigger.CANCEL, None)


def test_stored_state_text_is_unchanged() -> None:
    """Modes are str enums: the state's JSON text is what it was with plain strings."""
    state = State(Mode.CONFIRMING, "q1", "en", ("a",), ("q2",))
    text = dumps(state.to_json())
    assert text == '{"cursor":"q1","locale":"en","mode":"confirming","pending":["a"],"skipped":["q2"]}'
    back = State.from_json({"mode": "confirming", "cursor": "q1", "locale": "en",
                            "pending": ["a"], "skipped": ["q2"]})
    assert back == state and type(back.mode) is Mode
    assert State.from_json({}).mode is Mode.NEW            # rows stored before any mode
    assert State(Mode.ASKING, "q", "fr").restarted() == State(Mode.NEW, "", "fr")
    assert State(Mode.IDLE, "", "fr").restarted("en") == State(Mode.NEW, "", "en")


# ------------------------------------------------------------------ no mode written around the machine

ROOT = Path(__file__).resolve().parent.parent / "tnlbot"
THE_MACHINE = {"core/machine.py", "core/turn.py"}   # the machine, and State's own constructor helpers
MODE_NAMES = {m.value for m in Mode}
MODE_NAMES_UPPER = {m.name for m in Mode}


def _offences(tree: ast.AST) -> list[tuple[int, str]]:
    """Where a module writes a mode itself: a State built with a mode other than one it
    read (`x.mode`), `replace(..., mode=)`, an assignment to `.mode` of a State, a
    stored-state dict with a "mode" key, or a Mode member used other than in a comparison."""
    found: list[tuple[int, str]] = []
    compared: set[int] = set()
    aliases = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
               and (n.module or "").endswith("machine") for a in n.names if a.name.upper() in MODE_NAMES_UPPER}
    imports_state = any(isinstance(n, ast.ImportFrom) and any(a.name == "State" for a in n.names)
                        for n in ast.walk(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            compared.update(id(n) for n in [node.left, *node.comparators])
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else (
                node.func.attr if isinstance(node.func, ast.Attribute) else "")
            given = [k.value for k in node.keywords if k.arg == "mode"]
            if name == "State" and node.args:
                given.append(node.args[0])
            if name in ("State", "replace"):
                for value in given:
                    if not (isinstance(value, ast.Attribute) and value.attr == "mode"):
                        found.append((node.lineno, f"{name}(...) given mode {ast.unparse(value)}"))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and imports_state:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "mode":
                    found.append((node.lineno, f"assigns {ast.unparse(target)}"))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "mode" and (
                        isinstance(value, ast.Constant) and value.value in MODE_NAMES
                        or isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
                        and value.value.id == "Mode"):
                    found.append((node.lineno, f'writes "mode": {ast.unparse(value)}'))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Mode"
              or isinstance(node, ast.Name) and node.id in aliases) and id(node) not in compared:
            found.append((node.lineno, f"uses {ast.unparse(node)} outside a comparison"))
        if isinstance(node, ast.Compare) and any(
                isinstance(n, ast.Attribute) and n.attr == "mode" for n in [node.left, *node.comparators]) and any(
                isinstance(n, ast.Constant) and n.value in MODE_NAMES for n in [node.left, *node.comparators]):
            found.append((node.lineno, f"compares a mode with a bare string: {ast.unparse(node)}"))
    return found


def test_no_module_changes_a_mode_around_the_machine() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in THE_MACHINE or "/migrations/" in relative:
            continue
        for line, what in _offences(ast.parse(path.read_text(), str(path))):
            offenders.append(f"tnlbot/{relative}:{line}: {what}")
    assert not offenders, "modes change only through core/machine.py:\n" + "\n".join(offenders)


def test_the_check_finds_each_kind_of_offence() -> None:
    source = '''
from tnlbot.core.turn import State
from dataclasses import replace
a = State("idle", "", "fr")
b = State(mode=Mode.NEW, locale="fr")
c = replace(state, mode="asking")
state.mode = "idle"
d = {"mode": "new", "cursor": ""}
e = Mode.ASKING
f = state.mode == "asking"
from tnlbot.core.machine import IDLE, NEW
g = State(NEW, "", "fr")
ok1 = State(old.mode, "q", old.locale)
ok2 = state.mode == Mode.IDLE
ok3 = State(locale="fr")
ok4 = state.mode != IDLE
'''
    lines = sorted(line for line, _ in _offences(ast.parse(source)))
    assert lines == [4, 5, 5, 6, 7, 8, 9, 10, 12, 12], _offences(ast.parse(source))
