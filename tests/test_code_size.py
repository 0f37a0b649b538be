"""No function in the package is longer than 60 lines.

A function that long does several things; split it where the steps are (the developer guide's
limit, with the docstring counted: it is part of what a reader must take in). Complexity has
its own limit, checked by ruff (``C901``, ``max-complexity = 20`` in pyproject.toml). Alembic
migrations are exempt from both: they are written once, replayed as they are, never edited.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from support.source import SourceFile, source_files

MAX_LINES = 60
EXEMPT = ("localcap.migrations",)


def long_functions(files: Iterable[SourceFile]) -> Iterator[str]:
    """``file:line name (N lines)`` for each function, method or nested function over the
    limit, counted from its ``def`` line (decorators aside) to its last line."""
    for source in files:
        if source.module.startswith(EXEMPT):
            continue
        for node in ast.walk(source.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    yield f"{source.at(node.lineno)} {node.name} ({lines} lines)"


def test_no_function_is_longer_than_60_lines() -> None:
    found = sorted(long_functions(source_files()))
    if found:
        pytest.fail(
            f"Functions over {MAX_LINES} lines (split them):\n" + "\n".join(found), pytrace=False
        )


def test_the_check_counts_docstrings_methods_and_nested_functions(tmp_path: Path) -> None:
    """The checker itself, on functions of exactly 60 and 61 lines."""
    package_dir = tmp_path / "src" / "localcap"
    (package_dir / "migrations").mkdir(parents=True)
    body_58 = "    x = 1\n" * 58
    sixty = f'def fits():\n    """Doc."""\n{body_58}'
    sixty_one = f'@decorated\nasync def too_long():\n    """Doc\n    more."""\n{body_58}'
    nested = "class C:\n    def method(self):\n        def inner():\n" + "            x = 1\n" * 60
    (package_dir / "mod.py").write_text(sixty + sixty_one + nested)
    (package_dir / "migrations" / "0001_x.py").write_text(sixty_one)
    assert sorted(long_functions(source_files(package_dir))) == [
        "src/localcap/mod.py:124 method (62 lines)",
        "src/localcap/mod.py:125 inner (61 lines)",
        "src/localcap/mod.py:62 too_long (61 lines)",
    ]
