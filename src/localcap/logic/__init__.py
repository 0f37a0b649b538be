"""The REDCap logic language: branching logic, calculations and report filters.

Users paste real REDCap expressions (report "advanced filters", API ``filterLogic``), so this
package follows REDCap's documented behaviour (``docs/LOGIC.md``,
cited as "the reference doc") rather than any one implementation. It has no HTTP or storage
dependencies: callers supply a :class:`LogicContext` that reads one record's values.

Usage::

    logic = compile_logic("[age] >= 18 and [sex] = '1'", fields, events)
    keep = logic.matches(ctx)           # once per row; the expression is compiled only once

Pipeline: ``grammar.lark`` (lark LALR) -> :mod:`.parser` builds frozen AST nodes
(:mod:`.nodes`) during the parse -> :mod:`.compiler` validates names and turns the AST into
nested closures -> :mod:`.functions` / :mod:`.values` implement functions and coercions.

Decisions where the sources are silent or disagree (reference doc §5):

* ``=``/``<>`` are complements: blank equals only blank, so ``[x] = 0`` is false and
  ``[x] <> 0`` true for a blank ``x`` (KB:BL-02 wins over the unconfirmed ROS row 6).
* ``<``, ``>``, ``<=``, ``>=`` against a blank are false (``'' <= ''`` is true).
* Numeric comparison when both sides look like numbers (quoted or not), else case-sensitive
  string comparison; a date/datetime-validated field compares as a date when both sides parse.
* Blank or non-numeric operands, division by zero and non-finite results make arithmetic
  blank. ``-2^2`` is ``-(2^2)``; ``^`` is right-associative.
* ``and`` binds tighter than ``or``; ``not``/``!`` (not documented by REDCap, accepted as a
  superset) bind looser than comparisons. ``==`` is accepted as ``=``.
* ``round`` defaults to 0 decimal places and rounds half away from zero; ``roundup`` /
  ``rounddown`` round away from / toward zero.
* Aggregates (``sum``, ``mean``, ...) skip blank and non-numeric arguments and are blank when
  nothing is left; ``stdev`` is the sample standard deviation (blank for fewer than 2 values).
* ``find``, ``contains``, ``not_contain``, ``starts_with``, ``ends_with`` ignore case;
  ``replace_text`` and ``=`` are case-sensitive.
* ``datediff``: ``y`` = 365.2425 days, ``M`` = 30.44 days, unrounded; absolute unless
  returnSignedValue is true; a 4th argument is a format (``ymd``/``mdy``/``dmy``) or the flag.
  Stored values are ISO; the format only matters for ``mm-dd-yyyy`` style literals.
* Truthiness of a filter result: false for blank, ``0``/``'0'`` and false; true otherwise.
* Field names and event names are matched case-insensitively when there is no exact match.
* A checkbox referenced without ``(code)`` reads as its checked codes joined by ``,``.

Deliberate gaps:

* Smart variables other than ``record-name``, ``record-dag-name``, ``event-name``,
  ``user-name``, ``user-dag-name``, the five ``*-instance`` ones, the four relative
  ``*-event-name`` ones and ``arm-number`` (e.g. ``[project-id]``, ``[user-role-name]``,
  ``[survey-date-completed:...]``, ``[is-form]``) are rejected at compile time.
* ``[previous-event-name][field]`` uses the previous event of the arm in ``events`` order; it
  does not skip events where the field's form is not designated (designations are not known).
* Action tags (``@CALCTEXT``, ``@CALCDATE``, ``@IF``) are not part of the language here; their
  inner expressions are. Functions the reference doc lists as non-core (``percentile``,
  ``countif``, ``ifnull``, ``makedate``, ``today()`` ...) are unknown functions.
* Piping-only modifiers (``:hideunderscore``, ``:inline``, ``:ampm``) are accepted and ignored.
"""

from __future__ import annotations

from .compiler import CompiledLogic, FieldSpec, compare_values, compile_logic
from .context import DictContext, LogicContext, RowContext
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
from .parser import parse, unparse

__all__ = [
    "Arith",
    "BoolOp",
    "Boolean",
    "Call",
    "Compare",
    "CompiledLogic",
    "DictContext",
    "FieldRef",
    "FieldSpec",
    "LogicContext",
    "LogicSyntaxError",
    "Node",
    "Number",
    "Power",
    "RowContext",
    "SmartVar",
    "String",
    "Unary",
    "compare_values",
    "compile_logic",
    "parse",
    "unparse",
]
