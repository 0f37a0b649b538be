"""AST of the REDCap logic language.

Nodes are frozen dataclasses so that they are hashable, comparable and safe to share between
threads and compiled closures. Source positions are kept for error messages but excluded from
equality, so ``parse(unparse(node)) == node`` holds although the pretty-printed text differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Number:
    """A numeric literal, kept as written (``18``, ``14.384``, ``.58``) so it round-trips."""

    text: str
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class String:
    """A quoted literal, unescaped. ``''`` is the blank value."""

    value: str
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Boolean:
    """``true`` / ``false`` (used as datediff's returnSignedValue argument)."""

    value: bool
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class FieldRef:
    """``[event][field(code):modifier][instance]``.

    ``event`` is an event unique name, a relative-event smart variable such as
    ``previous-event-name`` or ``None`` (current event). ``instance`` is a decimal string, a
    relative-instance smart variable such as ``previous-instance`` or ``None`` (current).
    """

    field: str
    event: str | None = None
    code: str | None = None
    modifiers: tuple[str, ...] = ()
    instance: str | None = None
    pos: int = field(default=-1, compare=False, repr=False)
    field_pos: int = field(default=-1, compare=False, repr=False)
    event_pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class SmartVar:
    """A context value such as ``[record-name]``; ``params`` are the ``:``-separated parts."""

    name: str
    params: tuple[str, ...] = ()
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Unary:
    """``-x``, ``+x`` or ``not x`` (``!x`` parses to the same node)."""

    op: str
    operand: Node
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Power:
    """``base ^ exponent`` (right-associative, binds tighter than unary minus)."""

    base: Node
    exponent: Node
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Arith:
    """A left-to-right chain of one precedence level: ``+``/``-`` or ``*``/``/``.

    ``ops[i]`` joins ``operands[i]`` and ``operands[i + 1]``.
    """

    operands: tuple[Node, ...]
    ops: tuple[str, ...]
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Compare:
    """One comparison; ``op`` is normalised: ``!=`` becomes ``<>`` and ``==`` becomes ``=``."""

    op: str
    left: Node
    right: Node
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class BoolOp:
    """An n-ary ``and`` / ``or`` chain (short-circuiting)."""

    op: str
    operands: tuple[Node, ...]
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Call:
    """A function call; ``name`` is lower-cased because function names are case-insensitive."""

    name: str
    args: tuple[Node, ...]
    pos: int = field(default=-1, compare=False, repr=False)


Node = (
    Number
    | String
    | Boolean
    | FieldRef
    | SmartVar
    | Unary
    | Power
    | Arith
    | Compare
    | BoolOp
    | Call
)

__all__ = [
    "Arith",
    "BoolOp",
    "Boolean",
    "Call",
    "Compare",
    "FieldRef",
    "Node",
    "Number",
    "Power",
    "SmartVar",
    "String",
    "Unary",
]
