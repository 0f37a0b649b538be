"""Compile a logic AST into nested Python closures.

A report filter is evaluated once per exported row, so the AST is turned into closures once and
every per-row decision that can be made up front is: field names are resolved, constants are
pre-converted to numbers, comparisons of a field against a literal get a specialised closure,
and boolean contexts (``matches``, ``if()`` conditions, and/or) get closures returning ``bool``
directly instead of a value that must then be tested for truthiness.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .context import LogicContext
from .errors import LogicSyntaxError
from .functions import SPECIAL_FORMS, Spec, library
from .nodes import (
    Arith,
    Boolean,
    BoolOp,
    Call,
    Compare,
    FieldRef,
    Node,
    Number,
    Power,
    SmartVar,
    String,
    Unary,
)
from .parser import parse
from .values import (
    BLANK,
    date_format_of,
    num_result,
    parse_datetime,
    parse_number,
    to_number,
    to_text,
    truthy,
)

Fn = Callable[[Any], object]
Cond = Callable[[Any], bool]

_IMPLIED_CHOICES = {
    "yesno": {"1": "Yes", "0": "No"},
    "truefalse": {"1": "True", "0": "False"},
}
_CHOICE_TYPES = frozenset({"radio", "dropdown", "select", "checkbox", "yesno", "truefalse"})
_ARM_RE = re.compile(r"_arm_(\d+)$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<>": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class FieldSpec:
    """What the evaluator needs to know of a field (a slice of the data dictionary)."""

    name: str
    field_type: str
    validation: str = ""
    choices: dict[str, str] = field(default_factory=dict)


class CompiledLogic:
    """A validated, compiled expression; thread-safe and reusable for any number of rows."""

    expr: str
    ast: Node
    fields_referenced: frozenset[str]
    events_referenced: frozenset[str]

    def __init__(
        self,
        expr: str,
        ast: Node,
        value_fn: Fn,
        cond_fn: Cond,
        fields_referenced: frozenset[str],
        events_referenced: frozenset[str],
    ) -> None:
        self.expr = expr
        self.ast = ast
        self.fields_referenced = fields_referenced
        self.events_referenced = events_referenced
        # Instance attributes shadow the methods below: callers get the closures themselves,
        # saving one Python call per row on the hot path.
        self.evaluate = value_fn  # type: ignore[method-assign]
        self.matches = cond_fn  # type: ignore[method-assign]

    def evaluate(self, ctx: LogicContext) -> object:  # pragma: no cover - shadowed
        """Raw result: a number, a string (``''`` is blank) or a bool."""
        raise NotImplementedError

    def matches(self, ctx: LogicContext) -> bool:  # pragma: no cover - shadowed
        """Whether a report filter keeps the row (see :func:`localcap.logic.values.truthy`)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"CompiledLogic({self.expr!r})"


# ------------------------------------------------------------------------------ comparisons


def compare_values(op: str, a: object, b: object, date_fmt: str | None = None) -> bool:
    """REDCap comparison semantics (reference doc §2.2).

    * blank equals blank (``''``) and nothing else; ordering against a blank is false;
    * when ``date_fmt`` is set (a date/datetime field is involved) and both sides parse as
      dates, they compare as dates;
    * numeric comparison when both sides look numeric, else case-sensitive string comparison.
    """
    a_blank = a == "" or a is None
    b_blank = b == "" or b is None
    if a_blank or b_blank:
        if op == "=":
            return a_blank and b_blank
        if op == "<>":
            return not (a_blank and b_blank)
        return a_blank and b_blank and op in ("<=", ">=")
    if date_fmt is not None:
        da = parse_datetime(a, date_fmt, keywords=False)
        if da is not None:
            db = parse_datetime(b, date_fmt, keywords=False)
            if db is not None:
                return _OPS[op](da, db)
    na = to_number(a)
    if na is not None:
        nb = to_number(b)
        if nb is not None:
            return _OPS[op](na, nb)
    return _OPS[op](to_text(a), to_text(b))


class _Compiler:
    def __init__(
        self,
        fields: Mapping[str, FieldSpec],
        events: Collection[str],
        missing_codes: Collection[str],
    ) -> None:
        self.fields = fields
        self.fields_ci = {k.lower(): k for k in fields}
        self.events = list(events)
        self.events_ci = {e.lower(): e for e in self.events}
        self.arms: dict[str, list[str]] = {}
        for e in self.events:
            m = _ARM_RE.search(e)
            self.arms.setdefault(m.group(1) if m else "", []).append(e)
        self.arm_of = {e: arm for arm, evs in self.arms.items() for e in evs}
        self.functions: dict[str, Spec] = library(missing_codes)
        self.missing_codes = list(missing_codes)
        self.fields_used: set[str] = set()
        self.events_used: set[str] = set()

    # -- entry points ----------------------------------------------------------------------

    def value(self, node: Node) -> Fn:
        """Closure computing the node's value."""
        fn, _is_bool = self._compile(node)
        return fn

    def cond(self, node: Node) -> Cond:
        """Closure computing the node's truthiness as a bool."""
        fn, is_bool = self._compile(node)
        if is_bool:
            return fn  # type: ignore[return-value]
        return lambda ctx: truthy(fn(ctx))

    # -- dispatch --------------------------------------------------------------------------

    def _compile(self, node: Node) -> tuple[Fn, bool]:
        if isinstance(node, Number):
            num = float(node.text)
            return (lambda ctx: num), False
        if isinstance(node, String):
            s = node.value
            return (lambda ctx: s), False
        if isinstance(node, Boolean):
            b = node.value
            return (lambda ctx: b), True
        if isinstance(node, FieldRef):
            return self._field(node), False
        if isinstance(node, SmartVar):
            return self._smart(node), False
        if isinstance(node, Compare):
            return self._compare(node), True
        if isinstance(node, BoolOp):
            return self._boolop(node), True
        if isinstance(node, Unary):
            return self._unary(node)
        if isinstance(node, Arith):
            return self._arith(node), False
        if isinstance(node, Power):
            return self._power(node), False
        if isinstance(node, Call):
            return self._call(node)
        raise TypeError(f"not a logic AST node: {node!r}")  # pragma: no cover

    # -- references ------------------------------------------------------------------------

    def _resolve_field(self, node: FieldRef) -> FieldSpec:
        name = node.field
        key = name if name in self.fields else self.fields_ci.get(name.lower())
        if key is None:
            raise LogicSyntaxError("unknown field", max(node.field_pos, 0), name)
        self.fields_used.add(key)
        return self.fields[key]

    def _event_resolver(self, node: FieldRef) -> str | Callable[[Any], str | None] | None:
        """None (current event), a fixed event name, or a per-row function (None = blank)."""
        ev = node.event
        if ev is None:
            return None
        if ev == "event-name":
            return lambda ctx: ctx.event
        if ev in ("previous-event-name", "next-event-name", "first-event-name", "last-event-name"):
            self.events_used.update(self.events)
            return self._relative_event(ev)
        canonical = ev if ev in self.events else self.events_ci.get(ev.lower())
        if canonical is None:
            raise LogicSyntaxError("unknown event", max(node.event_pos, 0), ev)
        self.events_used.add(canonical)
        return canonical

    def _relative_event(self, which: str) -> Callable[[Any], str | None]:
        arms, arm_of = self.arms, self.arm_of

        def resolve(ctx: Any) -> str | None:
            cur = ctx.event
            if cur is None or cur not in arm_of:
                return None
            evs = arms[arm_of[cur]]
            i = evs.index(cur)
            if which == "previous-event-name":
                return evs[i - 1] if i > 0 else None
            if which == "next-event-name":
                return evs[i + 1] if i + 1 < len(evs) else None
            return evs[0] if which == "first-event-name" else evs[-1]

        return resolve

    @staticmethod
    def _instance_resolver(
        name: str, inst: str | None
    ) -> int | Callable[[Any, str | None], int | None] | None:
        if inst is None:
            return None
        if re.fullmatch(r"[0-9]{1,18}", inst):  # not isdigit(): "²" and 5,000 digits
            return int(inst)
        if inst == "current-instance":
            return lambda ctx, ev: ctx.instance
        if inst == "previous-instance":
            return lambda ctx, ev: ctx.instance - 1 if ctx.instance > 1 else None
        if inst == "next-instance":
            return lambda ctx, ev: ctx.instance + 1
        first = inst == "first-instance"

        def resolve(ctx: Any, ev: str | None) -> int | None:
            lister = getattr(ctx, "instances", None)
            if lister is None:
                return 1 if first else None
            found = lister(name, ev)
            if not found:
                return None
            return found[0] if first else found[-1]

        return resolve

    def _field(self, node: FieldRef) -> Fn:
        """Closure reading a field reference, shaped by its ``(code)`` and modifiers."""
        spec = self._resolve_field(node)
        name = spec.name
        ev_r = self._event_resolver(node)
        fetch = _fetcher(name, ev_r, self._instance_resolver(name, node.instance))
        ftype = spec.field_type.lower()
        choices = spec.choices or _IMPLIED_CHOICES.get(ftype, {})
        mods = set(node.modifiers)
        if node.code is not None:
            return self._checkbox_option(node, node.code, ftype == "checkbox", choices, mods, fetch)
        if ftype == "checkbox":
            return _checkbox_codes(fetch, choices, mods)
        if "label" in mods and choices:

            def label(ctx: Any) -> object:
                v = fetch(ctx)
                return choices.get(v, v) if isinstance(v, str) else to_text(v)  # type: ignore[call-overload]

            return label
        if "comma_decimal" in spec.validation:

            def comma(ctx: Any) -> object:
                v = fetch(ctx)
                return v.replace(",", ".") if isinstance(v, str) else v

            return comma
        return fetch

    def _checkbox_option(
        self,
        node: FieldRef,
        code: str,
        is_checkbox: bool,
        choices: dict[str, str],
        mods: set[str],
        fetch: Fn,
    ) -> Fn:
        """``[field(code)]``: one checkbox option, as ``"1"``/``"0"`` or (with a modifier)
        its label or blank; a code in another letter case names the option."""
        if not is_checkbox:
            raise LogicSyntaxError(
                "(code) is only valid on checkbox fields", max(node.field_pos, 0), node.field
            )
        known = [*choices, *self.missing_codes]
        if choices and code.lower() not in {c.lower() for c in known}:
            code_pos = max(node.field_pos, 0) + len(node.field) + 1
            raise LogicSyntaxError("unknown checkbox option", code_pos, code)
        if code not in known:
            code = next((c for c in known if c.lower() == code.lower()), code)
        if "label" in mods or "checked" in mods or "unchecked" in mods:
            label = choices.get(code, code)

            def opt_label(ctx: Any) -> object:
                return label if code in _codes(fetch(ctx)) else BLANK

            return opt_label

        def option(ctx: Any) -> object:
            v = fetch(ctx)
            if isinstance(v, str):
                return "1" if v == code or code in v.split(",") else "0"
            return "1" if code in v else "0"  # type: ignore[operator]

        return option

    def _smart(self, node: SmartVar) -> Fn:
        name = node.name
        simple: dict[str, Fn] = {
            "record-name": lambda ctx: ctx.record,
            "record-dag-name": lambda ctx: ctx.dag or BLANK,
            "event-name": lambda ctx: ctx.event or BLANK,
            "user-name": lambda ctx: ctx.user or BLANK,
            "user-dag-name": lambda ctx: ctx.user_dag or BLANK,
            "current-instance": lambda ctx: str(ctx.instance),
            "previous-instance": lambda ctx: str(ctx.instance - 1) if ctx.instance > 1 else BLANK,
            "next-instance": lambda ctx: str(ctx.instance + 1),
            "arm-number": _arm_number,
        }
        if name in simple:
            return simple[name]
        if name in ("first-instance", "last-instance"):
            resolve = self._instance_resolver_any(name == "first-instance")
            return resolve
        if name in (
            "previous-event-name",
            "next-event-name",
            "first-event-name",
            "last-event-name",
        ):
            rel = self._relative_event(name)
            return lambda ctx: rel(ctx) or BLANK
        raise LogicSyntaxError(
            "smart variable not supported in this context", max(node.pos, 0), f"[{name}]"
        )

    @staticmethod
    def _instance_resolver_any(first: bool) -> Fn:
        def resolve(ctx: Any) -> object:
            lister = getattr(ctx, "instances", None)
            if lister is None:
                return "1" if first else BLANK
            found = lister(None, ctx.event)
            if not found:
                return BLANK
            return str(found[0] if first else found[-1])

        return resolve

    # -- operators -------------------------------------------------------------------------

    def _date_fmt(self, node: Node) -> str | None:
        if isinstance(node, FieldRef) and "label" not in node.modifiers and node.code is None:
            spec = self.fields.get(node.field) or self.fields.get(
                self.fields_ci.get(node.field.lower(), "")
            )
            if spec is not None:
                return date_format_of(spec.validation)
        return None

    def _compare(self, node: Compare) -> Fn:
        op = node.op
        date_fmt = self._date_fmt(node.left) or self._date_fmt(node.right)
        left, right = node.left, node.right
        lf, rf = self.value(left), self.value(right)
        if date_fmt is None and isinstance(right, Number | String) and _is_text_valued(left):
            return _compare_const(op, lf, right, self._plain_name(left))
        if date_fmt is None and isinstance(left, Number | String) and _is_text_valued(right):
            flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
            return _compare_const(flipped, rf, left, self._plain_name(right))
        cmp = compare_values
        return lambda ctx: cmp(op, lf(ctx), rf(ctx), date_fmt)

    def _plain_name(self, node: Node) -> str | None:
        """Field name when ``node`` is a plain current-row reference (fast path), else None."""
        if (
            isinstance(node, FieldRef)
            and node.event is None
            and node.instance is None
            and node.code is None
            and not node.modifiers
        ):
            key = node.field if node.field in self.fields else self.fields_ci[node.field.lower()]
            spec = self.fields[key]
            if spec.field_type.lower() != "checkbox" and "comma_decimal" not in spec.validation:
                return spec.name
        return None

    def _boolop(self, node: BoolOp) -> Fn:
        conds = [self.cond(o) for o in node.operands]
        if node.op == "and":
            if len(conds) == 2:
                a, b = conds
                return lambda ctx: a(ctx) and b(ctx)
            if len(conds) == 3:
                a, b, c = conds
                return lambda ctx: a(ctx) and b(ctx) and c(ctx)

            def all_(ctx: Any) -> bool:
                for c in conds:  # noqa: SIM110 - a plain loop is faster than all(genexpr) per row
                    if not c(ctx):
                        return False
                return True

            return all_
        if len(conds) == 2:
            a, b = conds
            return lambda ctx: a(ctx) or b(ctx)

        def any_(ctx: Any) -> bool:
            for c in conds:  # noqa: SIM110 - a plain loop is faster than any(genexpr) per row
                if c(ctx):
                    return True
            return False

        return any_

    def _unary(self, node: Unary) -> tuple[Fn, bool]:
        if node.op == "not":
            c = self.cond(node.operand)
            return (lambda ctx: not c(ctx)), True
        f = self.value(node.operand)
        neg = node.op == "-"

        def unary(ctx: Any) -> object:
            n = to_number(f(ctx))
            if n is None:
                return BLANK
            return -n if neg else n

        return unary, False

    def _arith(self, node: Arith) -> Fn:
        fns = [self.value(o) for o in node.operands]
        first = fns[0]
        rest = list(zip(node.ops, fns[1:], strict=True))

        def arith(ctx: Any) -> object:
            acc = to_number(first(ctx))
            if acc is None:
                return BLANK
            for op, g in rest:
                x = to_number(g(ctx))
                if x is None:
                    return BLANK
                if op == "+":
                    acc += x
                elif op == "-":
                    acc -= x
                elif op == "*":
                    acc *= x
                elif x == 0.0:
                    return BLANK  # division by zero: blank, like any NaN in a calc
                else:
                    acc /= x
            return num_result(acc)

        return arith

    def _power(self, node: Power) -> Fn:
        bf, ef = self.value(node.base), self.value(node.exponent)

        def power(ctx: Any) -> object:
            b = to_number(bf(ctx))
            e = to_number(ef(ctx))
            if b is None or e is None:
                return BLANK
            try:
                return num_result(math.pow(b, e))
            except (ValueError, OverflowError, ZeroDivisionError):
                return BLANK

        return power

    def _call(self, node: Call) -> tuple[Fn, bool]:
        name = node.name
        n = len(node.args)
        if name in SPECIAL_FORMS:
            lo, hi = SPECIAL_FORMS[name]
        elif name in self.functions:
            lo, hi, _ = self.functions[name]
        else:
            raise LogicSyntaxError("unknown function", max(node.pos, 0), name)
        if n < lo or (hi is not None and n > hi):
            want = (
                f"{lo}" if lo == hi else (f"{lo} to {hi}" if hi is not None else f"at least {lo}")
            )
            raise LogicSyntaxError(
                f"wrong number of arguments ({n}; {name}() takes {want})", max(node.pos, 0), name
            )
        if name == "if":
            c = self.cond(node.args[0])
            (a, a_bool), (b, b_bool) = self._compile(node.args[1]), self._compile(node.args[2])
            return (lambda ctx: a(ctx) if c(ctx) else b(ctx)), (a_bool and b_bool)
        impl = self.functions[name][2]
        args = [self.value(a) for a in node.args]
        returns_bool = name in _BOOL_FUNCTIONS
        if n == 1:
            (x,) = args
            return (lambda ctx: impl(x(ctx))), returns_bool
        if n == 2:
            x, y = args
            return (lambda ctx: impl(x(ctx), y(ctx))), returns_bool
        return (lambda ctx: impl(*[g(ctx) for g in args])), returns_bool


_BOOL_FUNCTIONS = frozenset(
    {
        "isnumber",
        "isinteger",
        "isblankormissingcode",
        "isblanknotmissingcode",
        "ismissingcode",
        "hasmissingcode",
        "contains",
        "not_contain",
        "starts_with",
        "ends_with",
    }
)


def _fetcher(
    name: str,
    ev_r: str | Callable[[Any], str | None] | None,
    inst_r: int | Callable[[Any, str | None], int | None] | None,
) -> Fn:
    """The raw read of a field; the common cases (no event, a fixed event) get their own
    closure so that the per-row path makes no resolver calls."""
    if ev_r is None and inst_r is None:

        def fetch(ctx: Any) -> object:
            return ctx.value(name)

    elif isinstance(ev_r, str) and inst_r is None:
        ev_const = ev_r

        def fetch(ctx: Any) -> object:
            return ctx.value(name, ev_const)

    else:

        def fetch(ctx: Any) -> object:
            ev = ev_r(ctx) if callable(ev_r) else ev_r
            if callable(ev_r) and ev is None:
                return BLANK
            if inst_r is None:
                return ctx.value(name, ev)
            inst = inst_r(ctx, ev) if callable(inst_r) else inst_r
            if inst is None:
                return BLANK
            return ctx.value(name, ev, inst)

    return fetch


def _checkbox_codes(fetch: Fn, choices: dict[str, str], mods: set[str]) -> Fn:
    """``[checkbox]`` without a code: the checked (or, with ``:unchecked``, the unchecked)
    codes in choice order, or their labels with ``:label``/``:checked``/``:unchecked``."""
    order = list(choices)
    want_labels = ("label" in mods or "checked" in mods or "unchecked" in mods) and (
        "value" not in mods
    )
    unchecked = "unchecked" in mods

    def checkbox(ctx: Any) -> object:
        got = _codes(fetch(ctx))
        codes = [c for c in order if (c in got) != unchecked]
        if not unchecked:
            codes += [c for c in got if c not in choices]  # e.g. missing data codes
        if want_labels:
            return ", ".join(choices.get(c, c) for c in codes)
        return ",".join(codes)

    return checkbox


def _codes(v: object) -> list[str]:
    if isinstance(v, str):
        return [c for c in v.split(",") if c] if v else []
    if isinstance(v, list | tuple | set | frozenset):
        return [str(c) for c in v]
    return []


def _arm_number(ctx: Any) -> object:
    m = _ARM_RE.search(ctx.event or "")
    return m.group(1) if m else ("1" if ctx.event else BLANK)


def _is_text_valued(node: Node) -> bool:
    """Nodes whose value is always a ``str`` (field and smart-variable references)."""
    return isinstance(node, FieldRef | SmartVar)


def _compare_const(op: str, getter: Fn, const: Number | String, plain: str | None) -> Fn:
    """Specialised ``<text-valued expr> op <literal>``; ``plain`` = field name for a direct read.

    Equivalent to :func:`compare_values` with the literal's blank/numeric status decided once.
    Every case has a closure reading ``ctx.value(plain)`` itself when it can, saving the
    getter's call per row.
    """
    text = const.text if isinstance(const, Number) else const.value
    cnum = float(const.text) if isinstance(const, Number) else parse_number(text)
    if text == "":
        return _compare_blank(op, getter, plain)
    if cnum is None:  # a non-numeric literal: plain string comparison, blank never matches
        return _compare_text(op, getter, text, plain)
    if op in ("=", "<>"):
        return _number_equality(op == "=", getter, text, cnum, plain)
    return _number_order(_OPS[op], getter, text, cnum, plain)


def _compare_blank(op: str, getter: Fn, plain: str | None) -> Fn:
    """``x op ""``: only (in)equality and ``<=``/``>=`` can hold, and only on a blank."""
    if op in ("=", "<>", "<=", ">="):
        want_blank = op != "<>"
        if plain is not None:
            return lambda ctx: (ctx.value(plain) == "") is want_blank
        return lambda ctx: (getter(ctx) == "") is want_blank
    return lambda ctx: False


def _compare_text(op: str, getter: Fn, text: str, plain: str | None) -> Fn:
    """``x op "text"`` for a non-numeric literal: string comparison; ordering never holds
    for a blank."""
    if op == "=":
        if plain is not None:
            return lambda ctx: ctx.value(plain) == text
        return lambda ctx: getter(ctx) == text
    if op == "<>":
        if plain is not None:
            return lambda ctx: ctx.value(plain) != text
        return lambda ctx: getter(ctx) != text
    pyop = _OPS[op]

    def str_order(ctx: Any) -> bool:
        v = getter(ctx)
        return v != "" and pyop(v, text)

    return str_order


def _number_equality(eq: bool, getter: Fn, text: str, cnum: float, plain: str | None) -> Fn:
    """``x = 5`` / ``x <> 5``: the same text is equal without parsing, a blank never is,
    anything else compares as a number."""
    num = parse_number
    if plain is not None:

        def num_eq_plain(ctx: Any) -> bool:
            v = ctx.value(plain)
            if v == text:
                return eq
            if v == "":
                return not eq
            n = num(v)
            return (n == cnum) is eq

        return num_eq_plain

    def num_eq(ctx: Any) -> bool:
        v = getter(ctx)
        if v == text:
            return eq
        if v == "":
            return not eq
        n = num(v)  # type: ignore[arg-type]
        return (n == cnum) is eq

    return num_eq


def _number_order(
    pyop: Callable[[Any, Any], bool], getter: Fn, text: str, cnum: float, plain: str | None
) -> Fn:
    """``x < 5`` and friends: a blank never orders, a number compares as a number, any other
    text compares as a string with the literal's text."""
    num = parse_number
    if plain is not None:

        def num_order_plain(ctx: Any) -> bool:
            v = ctx.value(plain)
            if v == "":
                return False
            n = num(v)
            if n is None:
                return pyop(v, text)
            return pyop(n, cnum)

        return num_order_plain

    def num_order(ctx: Any) -> bool:
        v = getter(ctx)
        if v == "":
            return False
        n = num(v)  # type: ignore[arg-type]
        if n is None:
            return pyop(v, text)
        return pyop(n, cnum)

    return num_order


def compile_logic(
    expr: str,
    fields: Mapping[str, FieldSpec],
    events: Collection[str] = (),
    *,
    missing_codes: Collection[str] = (),
) -> CompiledLogic:
    """Parse, validate and compile ``expr`` against a project's fields and events.

    ``fields`` maps field name -> :class:`FieldSpec` for every field (record-id included);
    ``events`` lists unique event names in project order (the order drives
    ``[previous-event-name]`` etc.; empty for classic projects); ``missing_codes`` are the
    project's missing-data codes for ``isblankormissingcode()`` and friends.
    Raises :class:`LogicSyntaxError` for syntax errors, unknown fields/events/functions and
    wrong argument counts.
    """
    ast = parse(expr)
    comp = _Compiler(fields, events, missing_codes)
    value_fn = comp.value(ast)
    cond_fn = comp.cond(ast)
    return CompiledLogic(
        expr,
        ast,
        value_fn,
        cond_fn,
        frozenset(comp.fields_used),
        frozenset(comp.events_used),
    )


__all__ = ["CompiledLogic", "FieldSpec", "compare_values", "compile_logic"]
