"""What a parser returns for input it refuses: the locale message to show and its values."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True, slots=True)
class Problem:
    key: str
    params: Mapping[str, str] = field(default_factory=dict)
