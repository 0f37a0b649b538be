"""The package's own source files, parsed, for the tests that check its shape.

tests/test_architecture.py (which layer imports which) and tests/test_code_size.py (how long a
function may be) read the code as text with :mod:`ast` instead of importing it, so that they
see every import and function, including ones that never run in the test process.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "src" / "localcap"


@dataclass(frozen=True)
class SourceFile:
    """One module of the package: its path (from the repository root), its dotted name and
    its syntax tree."""

    path: Path
    module: str
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        """An ``__init__.py``: its relative imports start from the package itself."""
        return self.path.name == "__init__.py"

    def at(self, line: int) -> str:
        """``src/localcap/x.py:12``, as a reader would open it."""
        return f"{self.path}:{line}"


def source_files(package_dir: Path = PACKAGE_DIR) -> Iterator[SourceFile]:
    """Every ``.py`` file of the package in ``<root>/src/<package>`` (default: localcap), in a
    stable order."""
    src = package_dir.parent
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        tree = ast.parse(path.read_bytes(), str(path))
        yield SourceFile(path.relative_to(src.parent), ".".join(parts), tree)
