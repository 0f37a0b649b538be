"""What the evaluator needs from its caller: one record's data and who is asking."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

Value = str | list[str]


@runtime_checkable
class LogicContext(Protocol):
    """The record (and row) an expression is evaluated against.

    ``value()`` returns the raw stored value: ``''`` when blank, a list of checked codes for a
    checkbox field. ``event=None`` means the current event; ``instance=None`` means "the
    instance this field naturally has here" (the current instance for a field of the current
    repeating instrument/event, 1 otherwise) - the context knows the repeating setup, the
    evaluator does not.

    Optionally a context may define ``instances(field: str | None, event: str | None) ->
    Sequence[int]`` (instances that exist, ascending) to support ``[first-instance]`` and
    ``[last-instance]``; without it ``first`` is 1 and ``last`` is blank.
    """

    record: str
    event: str | None
    repeat_instrument: str
    instance: int
    dag: str
    user: str
    user_dag: str

    def value(self, field: str, event: str | None = None, instance: int | None = None) -> Value:
        """Raw stored value of ``field``; ``''`` when blank or absent."""
        ...


RowKey = tuple[str | None, int]


@dataclass
class DictContext:
    """A whole record in memory: ``rows[(event, instance)] = {field: value}``.

    Use ``event=None`` keys for classic (non-longitudinal) projects. A field absent from the
    current repeating row is looked up in the event's instance-1 row, which is where data of
    non-repeating forms lives. Mutable on purpose: an export loop can move ``event``/``instance``
    along a record's rows without rebuilding the context.
    """

    rows: dict[RowKey, dict[str, Value]] = field(default_factory=dict)
    record: str = ""
    event: str | None = None
    repeat_instrument: str = ""
    instance: int = 1
    dag: str = ""
    user: str = ""
    user_dag: str = ""

    def value(self, field: str, event: str | None = None, instance: int | None = None) -> Value:
        ev = self.event if event is None else event
        inst = self.instance if instance is None else instance
        row = self.rows.get((ev, inst))
        if row is not None:
            v = row.get(field)
            if v is not None:
                return v
        if instance is None and inst != 1:
            row = self.rows.get((ev, 1))
            if row is not None:
                v = row.get(field)
                if v is not None:
                    return v
        return ""

    def instances(self, field: str | None, event: str | None = None) -> list[int]:
        """Instances of ``event`` (current if None) holding a non-blank ``field`` (any if None)."""
        ev = self.event if event is None else event
        found = set()
        for (e, inst), row in self.rows.items():
            if e != ev:
                continue
            if field is None or row.get(field) not in (None, "", []):
                found.add(inst)
        return sorted(found)


class RowContext:
    """A single flat row, cheap to re-point: the shape a streaming export loop wants.

    Assign ``ctx.row`` (and the other attributes) for each exported row; unprefixed field
    references read ``row`` directly. References to other events/instances go to ``lookup``
    (``lookup(field, event, instance)``) when given, else read blank.
    """

    __slots__ = (
        "dag",
        "event",
        "instance",
        "lookup",
        "record",
        "repeat_instrument",
        "row",
        "user",
        "user_dag",
    )

    def __init__(
        self,
        row: Mapping[str, Value] | None = None,
        *,
        record: str = "",
        event: str | None = None,
        repeat_instrument: str = "",
        instance: int = 1,
        dag: str = "",
        user: str = "",
        user_dag: str = "",
        lookup: Callable[[str, str | None, int | None], Value] | None = None,
    ) -> None:
        self.row: Mapping[str, Value] = row if row is not None else {}
        self.record = record
        self.event = event
        self.repeat_instrument = repeat_instrument
        self.instance = instance
        self.dag = dag
        self.user = user
        self.user_dag = user_dag
        self.lookup = lookup

    def value(self, field: str, event: str | None = None, instance: int | None = None) -> Value:
        if event is None and instance is None:
            v = self.row.get(field)
            return "" if v is None else v
        if self.lookup is None:
            return ""
        return self.lookup(field, event, instance)


__all__ = ["DictContext", "LogicContext", "RowContext"]
