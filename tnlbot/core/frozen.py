"""A quicker constructor for the frozen, slotted dataclasses made on every event.

A frozen dataclass's generated `__init__` sets each field through
`object.__setattr__` (its own `__setattr__` refuses), a generic call that looks
the field up on the type every time: about three times the cost of a plain
assignment, on objects (events, messages, states) built several times per
answer. `quick_init` gives such a class an `__init__` with the same signature
that sets each slot through the slot's own descriptor, found once. The class
stays frozen (assignment still raises), and equality, hashing, `repr` and
`dataclasses.replace` are unchanged.
"""
from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

C = TypeVar("C", bound=type)


def quick_init(cls: C) -> C:
    """Use as the outer decorator of `@dataclass(frozen=True, slots=True)`."""
    params = getattr(cls, "__dataclass_params__", None)
    if not is_dataclass(cls) or params is None or not params.frozen or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__} is not a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__")
    env: dict[str, Any] = {"_MISSING": MISSING}
    signature: list[str] = []
    body: list[str] = []
    for f in fields(cls):
        if not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain fields are supported")
        env[f"_set_{f.name}"] = vars(cls)[f.name].__set__
        if f.default is not MISSING:
            env[f"_default_{f.name}"] = f.default
            signature.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not MISSING:
            env[f"_factory_{f.name}"] = f.default_factory
            signature.append(f"{f.name}=_MISSING")
            body.append(f" if {f.name} is _MISSING: {f.name} = _factory_{f.name}()")
        else:
            signature.append(f.name)
        body.append(f" _set_{f.name}(self, {f.name})")
    source = f"def __init__(self, {', '.join(signature)}) -> None:\n" + ("\n".join(body) or " pass") + "\n"
    exec(source, env)   # built from the class's own field names, as dataclasses does
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init   # type: ignore[method-assign]
    return cls
