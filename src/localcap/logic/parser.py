"""Parser (lark LALR, inline callbacks) and pretty-printer for REDCap logic.

The parse tree is turned into :mod:`localcap.logic.nodes` by callbacks that run *while* the
LALR parser reduces, so no recursive tree walk is needed and pathological nesting cannot blow
the Python stack. A final iterative depth check rejects expressions nested more deeply than the
evaluator (which does recurse) can handle.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from lark import Lark, Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from .errors import LogicSyntaxError
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

#: Deepest nesting accepted. REDCap itself fails beyond ~80 nested if() (reference §1.4); long
#: flat chains (``[a]+[b]+...``) are n-ary nodes and do not count against this.
MAX_DEPTH = 120

#: Modifiers accepted after a field name (piping modifiers; logic uses the raw value anyway).
FIELD_MODIFIERS = frozenset(
    {"value", "label", "checked", "unchecked", "hideunderscore", "inline", "ampm", "raw"}
)
INSTANCE_VARS = frozenset(
    {"current-instance", "previous-instance", "next-instance", "first-instance", "last-instance"}
)
EVENT_VARS = frozenset(
    {"event-name", "previous-event-name", "next-event-name", "first-event-name", "last-event-name"}
)
#: Bare (unquoted) words accepted as values: ``@CALCDATE(today, ...)`` is documented.
BARE_WORDS = frozenset({"today", "now"})

_COMP_NORMAL = {"!=": "<>", "==": "="}
_FIELD_RE = re.compile(r"\[([^\[\]():]+)(?:\(([^()]*)\))?((?::[^:\]]+)*)\]")


def _unescape(body: str, quote: str) -> str:
    """Undo ``\\'`` / ``\\"`` / ``\\\\``; any other backslash is kept literally."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in (quote, "\\"):
            out.append(body[i + 1])
            i += 2
            continue
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in "'\"":
            # the other quote char escaped: REDCap users write \" inside '...' too
            out.append(body[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _err(message: str, pos: int, token: str) -> LogicSyntaxError:
    return LogicSyntaxError(message, pos, token)


class _Callbacks:
    """Inline LALR callbacks: each receives the rule's children and returns a node."""

    # lark looks callbacks up by rule/alias name via getattr.

    def number(self, c: list[Any]) -> Node:
        tok: Token = c[0]
        return Number(str(tok), pos=tok.start_pos)

    def string(self, c: list[Any]) -> Node:
        tok: Token = c[0]
        text = str(tok)
        return String(_unescape(text[1:-1], text[0]), pos=tok.start_pos)

    def true(self, c: list[Any]) -> Node:
        return Boolean(True)

    def false(self, c: list[Any]) -> Node:
        return Boolean(False)

    def bare_word(self, c: list[Any]) -> Node:
        tok: Token = c[0]
        word = str(tok).lower()
        if word in BARE_WORDS:
            return String(word, pos=tok.start_pos)
        raise _err(
            "unknown word (field names go in [brackets], text in quotes)", tok.start_pos, str(tok)
        )

    def call(self, c: list[Any]) -> Node:
        tok: Token = c[0]
        args = tuple(c[1]) if len(c) > 1 else ()
        return Call(str(tok).lower(), args, pos=tok.start_pos)

    def arglist(self, c: list[Any]) -> list[Node]:
        return list(c)

    def not_op(self, c: list[Any]) -> Node:
        return Unary("not", c[0], pos=_pos(c[0]))

    def unary(self, c: list[Any]) -> Node:
        tok: Token = c[0]
        return Unary(str(tok), c[1], pos=tok.start_pos)

    def power(self, c: list[Any]) -> Node:
        return Power(c[0], c[1], pos=_pos(c[0]))

    def term(self, c: list[Any]) -> Node:
        return Arith(tuple(c[0::2]), tuple(str(t) for t in c[1::2]), pos=_pos(c[0]))

    arith = term

    def comparison(self, c: list[Any]) -> Node:
        op = str(c[1])
        return Compare(_COMP_NORMAL.get(op, op), c[0], c[2], pos=c[1].start_pos)

    def and_test(self, c: list[Any]) -> Node:
        return BoolOp("and", tuple(c), pos=_pos(c[0]))

    def or_test(self, c: list[Any]) -> Node:
        return BoolOp("or", tuple(c), pos=_pos(c[0]))

    def ref(self, c: list[Any]) -> Node:
        toks: list[Token] = c
        for prev, nxt in zip(toks, toks[1:], strict=False):
            if prev.end_pos != nxt.start_pos:
                raise _err(
                    "no space is allowed between the [bracket] parts of a reference",
                    nxt.start_pos,
                    str(nxt),
                )
        if len(toks) == 1 and toks[0].type == "SMART_BR":
            inner = str(toks[0])[1:-1]
            name, *params = inner.split(":")
            return SmartVar(name.lower(), tuple(params), pos=toks[0].start_pos)
        event: str | None = None
        event_pos = -1
        rest = toks
        if toks[0].type == "SMART_BR" or (len(toks) >= 2 and toks[1].type == "FIELD_BR"):
            ev_tok = toks[0]
            event = str(ev_tok)[1:-1]
            event_pos = ev_tok.start_pos
            if ev_tok.type == "SMART_BR":
                event = event.lower()
                if event not in EVENT_VARS:
                    raise _err("not an event reference", ev_tok.start_pos, str(ev_tok))
            elif not _plain_name(event):
                raise _err("invalid event name", ev_tok.start_pos, str(ev_tok))
            rest = toks[1:]
        field_tok = rest[0]
        m = _FIELD_RE.fullmatch(str(field_tok))
        if m is None:  # pragma: no cover - the lexer regex guarantees the shape
            raise _err("invalid field reference", field_tok.start_pos, str(field_tok))
        name, code, mods = m.group(1), m.group(2), m.group(3)
        modifiers = tuple(x.lower() for x in mods.split(":")[1:]) if mods else ()
        mod_pos = field_tok.start_pos + 1 + len(name) + (len(code) + 2 if code is not None else 0)
        for mod in modifiers:
            if mod not in FIELD_MODIFIERS:
                raise _err("unknown field modifier", mod_pos, f":{mod}")
            mod_pos += len(mod) + 1
        instance: str | None = None
        if len(rest) == 2:
            inst_tok = rest[1]
            instance = str(inst_tok)[1:-1].lower()
            if inst_tok.type == "SMART_BR" and instance not in INSTANCE_VARS:
                raise _err("not an instance reference", inst_tok.start_pos, str(inst_tok))
            if inst_tok.type == "INST_BR":
                instance = str(int(instance))
                if instance == "0":
                    raise _err("instance numbers start at 1", inst_tok.start_pos, str(inst_tok))
        return FieldRef(
            name,
            event,
            code,
            modifiers,
            instance,
            pos=toks[0].start_pos,
            field_pos=field_tok.start_pos + 1,
            event_pos=event_pos + 1 if event_pos >= 0 else -1,
        )


def _plain_name(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_]+", name) is not None


def _pos(node: Any) -> int:
    return int(getattr(node, "pos", -1))


_GRAMMAR = resources.files("localcap.logic").joinpath("grammar.lark").read_text(encoding="utf-8")
_PARSER = Lark(
    _GRAMMAR,
    parser="lalr",
    lexer="contextual",
    transformer=_Callbacks(),  # type: ignore[arg-type]
    propagate_positions=False,
    maybe_placeholders=False,
)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Power):
        return (node.base, node.exponent)
    if isinstance(node, Arith | BoolOp):
        return node.operands
    if isinstance(node, Compare):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def _check_depth(root: Node, text: str) -> None:
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            pos = max(_pos(node), 0)
            raise _err(
                f"expression nested more than {MAX_DEPTH} levels deep", pos, text[pos : pos + 20]
            )
        stack.extend((child, depth + 1) for child in _children(node))


def _bracket_text(text: str, pos: int) -> str:
    end = text.find("]", pos)
    nl = text.find("\n", pos)
    if end == -1 or (nl != -1 and nl < end):
        return text[pos : pos + 20]
    return text[pos : end + 1]


def _describe(tok: Token) -> str:
    return "end of expression" if tok.type == "$END" else repr(str(tok))


def parse(expr: str) -> Node:
    """Parse a REDCap logic expression into an AST.

    Raises :class:`LogicSyntaxError` (and nothing else) for any malformed input.
    """
    if not isinstance(expr, str):
        raise LogicSyntaxError("expression must be a string", 0, repr(expr)[:20])
    if expr.strip() == "" or _only_comments(expr):
        raise LogicSyntaxError("empty expression", 0, "")
    try:
        tree = _PARSER.parse(expr)
    except LogicSyntaxError:
        raise
    except UnexpectedCharacters as e:
        pos = e.pos_in_stream
        ch = expr[pos] if pos < len(expr) else ""
        if ch == "[":
            raise _err("invalid reference", pos, _bracket_text(expr, pos)) from None
        if ch in "'\"":
            raise _err(
                "unterminated string (quotes must match)", pos, expr[pos : pos + 20]
            ) from None
        raise _err("unexpected character", pos, ch) from None
    except UnexpectedToken as e:
        tok = e.token
        if tok.type == "$END":
            raise _err("unexpected end of expression", len(expr), "") from None
        pos = tok.start_pos if tok.start_pos is not None else 0
        raise _err(f"unexpected {_describe(tok)}", pos, str(tok)) from None
    except UnexpectedEOF:
        raise _err("unexpected end of expression", len(expr), "") from None
    except LarkError as e:  # any other lark failure is still a syntax error for the caller
        # lark wraps exceptions raised inside callbacks in some code paths
        orig = getattr(e, "orig_exc", None)
        if isinstance(orig, LogicSyntaxError):
            raise orig from None
        raise _err(f"syntax error ({type(e).__name__})", 0, expr[:20]) from None
    node: Node = tree  # type: ignore[assignment]
    _check_depth(node, expr)
    return node


_COMMENT_LINE = re.compile(r"^\s*(#|//).*$")


def _only_comments(expr: str) -> bool:
    return all(_COMMENT_LINE.match(line) or not line.strip() for line in expr.splitlines())


# --------------------------------------------------------------------------- pretty printer

_P_OR, _P_AND, _P_NOT, _P_CMP, _P_ADD, _P_MUL, _P_UNARY, _P_POW, _P_ATOM = range(1, 10)


def _prec(node: Node) -> int:
    if isinstance(node, BoolOp):
        return _P_OR if node.op == "or" else _P_AND
    if isinstance(node, Unary):
        return _P_NOT if node.op == "not" else _P_UNARY
    if isinstance(node, Compare):
        return _P_CMP
    if isinstance(node, Arith):
        return _P_ADD if node.ops and node.ops[0] in "+-" else _P_MUL
    if isinstance(node, Power):
        return _P_POW
    return _P_ATOM


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def unparse(node: Node) -> str:
    """Pretty-print an AST in canonical form; ``parse(unparse(n)) == n`` for any parsed ``n``."""

    def wrap(child: Node, min_prec: int) -> str:
        text = unparse(child)
        return f"({text})" if _prec(child) < min_prec else text

    if isinstance(node, Number):
        return node.text
    if isinstance(node, String):
        return _quote(node.value)
    if isinstance(node, Boolean):
        return "true" if node.value else "false"
    if isinstance(node, SmartVar):
        return "[" + ":".join((node.name, *node.params)) + "]"
    if isinstance(node, FieldRef):
        out = f"[{node.event}]" if node.event is not None else ""
        out += "[" + node.field
        if node.code is not None:
            out += f"({node.code})"
        out += "".join(f":{m}" for m in node.modifiers) + "]"
        if node.instance is not None:
            out += f"[{node.instance}]"
        return out
    if isinstance(node, Unary):
        if node.op == "not":
            return "not " + wrap(node.operand, _P_NOT)
        return node.op + wrap(node.operand, _P_UNARY)
    if isinstance(node, Power):
        return wrap(node.base, _P_ATOM) + " ^ " + wrap(node.exponent, _P_UNARY)
    if isinstance(node, Arith):
        level = _prec(node) + 1
        parts = [wrap(node.operands[0], level)]
        for op, operand in zip(node.ops, node.operands[1:], strict=False):
            parts.append(f" {op} {wrap(operand, level)}")
        return "".join(parts)
    if isinstance(node, Compare):
        return f"{wrap(node.left, _P_ADD)} {node.op} {wrap(node.right, _P_ADD)}"
    if isinstance(node, BoolOp):
        level = _P_AND if node.op == "or" else _P_NOT
        return f" {node.op} ".join(wrap(o, level) for o in node.operands)
    if isinstance(node, Call):
        return node.name + "(" + ", ".join(unparse(a) for a in node.args) + ")"
    raise TypeError(f"not a logic AST node: {node!r}")


__all__ = ["MAX_DEPTH", "parse", "unparse"]
