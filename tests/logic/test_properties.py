"""Property tests: the parser is total (only LogicSyntaxError escapes) and printing round-trips.

Reports accept user-typed filters, so any input must end in either an AST or a clean
LogicSyntaxError that the API can turn into a client error - never a 500.
"""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localcap.logic import (
    Arith,
    Boolean,
    BoolOp,
    Call,
    Compare,
    DictContext,
    FieldRef,
    FieldSpec,
    LogicSyntaxError,
    Node,
    Number,
    Power,
    SmartVar,
    String,
    Unary,
    compile_logic,
    parse,
    unparse,
)
from localcap.logic.parser import EVENT_VARS, FIELD_MODIFIERS, INSTANCE_VARS

KEYWORDS = {"and", "or", "not", "true", "false"}

# ------------------------------------------------------------------------- arbitrary input


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_parse_total_on_arbitrary_text(text: str) -> None:
    try:
        parse(text)
    except LogicSyntaxError as e:
        assert 0 <= e.position <= len(text)
        assert isinstance(e.token, str)


VOCAB = [
    "[age]",
    "[weight]",
    "[chk(1)]",
    "[chk(2):value]",
    "[age:label]",
    "[baseline_arm_1]",
    "[baseline_arm_1][age]",
    "[age][2]",
    "[age][previous-instance]",
    "[record-name]",
    "[event-name]",
    "[previous-event-name]",
    "[",
    "]",
    "[]",
    "[ age]",
    "[1]",
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "^",
    "=",
    "==",
    "<>",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    "!",
    "and",
    "AND",
    "or",
    "Or",
    "not",
    "true",
    "false",
    "today",
    "now",
    "if",
    "datediff",
    "round",
    "sum",
    "concat_ws",
    "contains",
    "not_contain",
    "foo",
    "'x'",
    '"y"',
    "''",
    "'a\\'b'",
    "'",
    '"',
    "\\",
    "1",
    "0",
    "18",
    ".5",
    "1.",
    "14.384",
    "# comment\n",
    "// c\n",
    "\n",
    ":",
    ";",
    "&",
    "|",
    "{",
    "}",
    "é",
    "\x00",
]


@st.composite
def token_soup(draw: st.DrawFn) -> str:
    toks = draw(st.lists(st.sampled_from(VOCAB), min_size=0, max_size=25))
    seps = draw(
        st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=len(toks), max_size=len(toks))
    )
    return "".join(t + s for t, s in zip(toks, seps, strict=True))


FIELDS = {
    "age": FieldSpec("age", "text", "integer"),
    "weight": FieldSpec("weight", "text", "number"),
    "chk": FieldSpec("chk", "checkbox", "", {"1": "One", "2": "Two"}),
}
EVENTS = ["baseline_arm_1", "visit_1_arm_1"]
VALUES = st.sampled_from(["", "0", "1", "18", "-3.5", "abc", "2024-07-01", "NASK", "1e5", "nan"])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_soup(), VALUES, VALUES)
def test_near_grammar_input(text: str, age: str, weight: str) -> None:
    """Parse is total; whatever parses re-prints stably; whatever compiles evaluates."""
    try:
        node = parse(text)
    except LogicSyntaxError as e:
        assert 0 <= e.position <= len(text)
        return
    assert parse(unparse(node)) == node
    try:
        logic = compile_logic(text, FIELDS, EVENTS)
    except LogicSyntaxError:
        return
    ctx = DictContext(
        rows={
            ("baseline_arm_1", 1): {"age": age, "weight": weight, "chk": ["1"]},
            ("visit_1_arm_1", 1): {"age": weight},
        },
        event="visit_1_arm_1",
        record="1-2",
    )
    value = logic.evaluate(ctx)
    assert isinstance(value, str | int | float | bool)
    assert isinstance(logic.matches(ctx), bool)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=3000))
def test_deep_nesting_is_a_syntax_error_not_a_crash(depth: int) -> None:
    for text in (
        "(" * depth + "1" + ")" * depth,
        "-" * depth + "1",
        "if(1," * depth + "1" + ")" * depth,
    ):
        with contextlib.suppress(LogicSyntaxError):
            parse(text)


def test_long_flat_chains_are_fine() -> None:
    text = "+".join("[age]" for _ in range(2000))
    logic = compile_logic(text, FIELDS)
    assert logic.evaluate(DictContext(rows={(None, 1): {"age": "1"}})) == 2000


# ------------------------------------------------------------------------------ round trip

names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
func_names = st.one_of(
    st.sampled_from(["if", "datediff", "round", "sum", "concat_ws", "not_contain", "today"]),
    names.filter(lambda n: n not in KEYWORDS),
)
smart_names = st.from_regex(r"[a-z][a-z0-9_]{0,5}(-[a-z0-9_]{1,5}){1,3}", fullmatch=True)

leaves = st.one_of(
    st.from_regex(r"(\d{1,6}(\.\d{0,4})?|\.\d{1,4})", fullmatch=True).map(Number),
    st.text(max_size=12).map(String),
    st.booleans().map(Boolean),
    st.builds(
        FieldRef,
        field=names,
        event=st.none() | names | st.sampled_from(sorted(EVENT_VARS)),
        code=st.none() | st.from_regex(r"[A-Za-z0-9_.\-]{1,4}", fullmatch=True),
        modifiers=st.lists(st.sampled_from(sorted(FIELD_MODIFIERS)), max_size=2).map(tuple),
        instance=st.none()
        | st.integers(min_value=1, max_value=999).map(str)
        | st.sampled_from(sorted(INSTANCE_VARS)),
    ),
    st.builds(
        SmartVar,
        name=smart_names,
        params=st.lists(st.from_regex(r"[A-Za-z0-9_\-]{1,5}", fullmatch=True), max_size=2).map(
            tuple
        ),
    ),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    pair = st.lists(children, min_size=2, max_size=4)
    return st.one_of(
        st.builds(Unary, st.sampled_from(["-", "+", "not"]), children),
        st.builds(Power, children, children),
        pair.flatmap(
            lambda ops: st.sampled_from([["+", "-"], ["*", "/"]]).flatmap(
                lambda cls: st.lists(
                    st.sampled_from(cls), min_size=len(ops) - 1, max_size=len(ops) - 1
                ).map(lambda o: Arith(tuple(ops), tuple(o)))
            )
        ),
        st.builds(Compare, st.sampled_from(["=", "<>", "<", ">", "<=", ">="]), children, children),
        st.builds(BoolOp, st.sampled_from(["and", "or"]), pair.map(tuple)),
        st.builds(Call, func_names, st.lists(children, max_size=4).map(tuple)),
    )


asts = st.recursive(leaves, _extend, max_leaves=25)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(asts)
def test_unparse_round_trips(node: Node) -> None:
    text = unparse(node)
    assert parse(text) == node, text
    assert unparse(parse(text)) == text
