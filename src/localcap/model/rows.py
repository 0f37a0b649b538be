"""The stored row: one per (record, event, repeat instrument, instance).

It is the domain's record type: storage reads and writes it, the exporters, the import
checks, the logic engine and the survey pages consume it, none of them knowing where it
came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StoredRow:
    record: str
    event_id: int
    repeat_instrument: str
    instance: int
    data: dict[str, Any] = field(default_factory=dict)
    group_id: int | None = None
    #: Whether any stored value holds a CR, LF or ``"`` (what line-break removal changes);
    #: found by one scan of the stored JSON text instead of a look at every value.
    has_breaks_or_quotes: bool = True

    @property
    def key(self) -> tuple[int, str, int]:
        return (self.event_id, self.repeat_instrument, self.instance)
