"""The layers point one way: a table of the import arrows the architecture forbids.

``api/`` (parse, call, format) -> ``actions/`` (use cases) -> the domain (``model``, ``logic``,
``reports``, ``formats``) <- storage (``db``, ``files``); see docs/ARCHITECTURE.md. Each row
of :data:`FORBIDDEN` is one arrow that must not exist, with the reason. The check reads the
source with :mod:`ast`, so it sees every import: at the top of a module, inside a function (a
lazy import is still an arrow) and under ``if TYPE_CHECKING:``. A failure lists every
offending import as ``file:line -> module``.

A pattern names a package and everything in it (``localcap.db``), or with ``.*`` only the
modules inside a package, not the package itself (``localcap.api.methods.*``: the method
modules, not the package's own ``api/methods/__init__.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.source import SourceFile, source_files

_DOMAIN_NO_DB = (
    "the domain holds REDCap's rules and is tested without a database; storage depends on "
    "the domain, never the reverse (use cases in actions/ combine the two)"
)
_DOMAIN_NO_API = (
    "the domain knows no HTTP: it raises DomainError with REDCap's message and api/dispatch.py "
    "alone turns it into REDCap's HTTP error"
)
_NOT_BEHIND_API = (
    "survey pages, project XML and PDF rendering are features the API calls, as the survey "
    "web pages and the CLI do; they must not depend on the API's request handling"
)


@dataclass(frozen=True)
class Forbidden:
    """Modules matching ``importer`` must not import modules matching ``imported``, except
    those in ``allowed``."""

    importer: str
    imported: str
    reason: str
    allowed: tuple[str, ...] = ()

    def forbids(self, importer: str, imported: str) -> bool:
        return (
            _matches(self.importer, importer)
            and _matches(self.imported, imported)
            and imported not in self.allowed
        )

    def __str__(self) -> str:
        but = f" (except {', '.join(self.allowed)})" if self.allowed else ""
        return f"{self.importer} must not import {self.imported}{but}: {self.reason}"


FORBIDDEN: tuple[Forbidden, ...] = (
    Forbidden("localcap.model", "localcap.db", _DOMAIN_NO_DB),
    Forbidden("localcap.model", "localcap.api", _DOMAIN_NO_API),
    Forbidden("localcap.logic", "localcap.db", _DOMAIN_NO_DB),
    Forbidden("localcap.logic", "localcap.api", _DOMAIN_NO_API),
    Forbidden("localcap.reports", "localcap.db", _DOMAIN_NO_DB),
    Forbidden("localcap.reports", "localcap.api", _DOMAIN_NO_API),
    Forbidden("localcap.formats", "localcap.db", _DOMAIN_NO_DB),
    Forbidden("localcap.formats", "localcap.api", _DOMAIN_NO_API),
    Forbidden("localcap.surveys", "localcap.api", _NOT_BEHIND_API),
    Forbidden("localcap.projectxml", "localcap.api", _NOT_BEHIND_API),
    Forbidden("localcap.pdf", "localcap.api", _NOT_BEHIND_API),
    Forbidden(
        "localcap.actions",
        "localcap.api",
        "a use case is called by the API, the survey pages and the CLI alike; it takes plain "
        "arguments and raises DomainError, it never sees a request",
    ),
    Forbidden(
        "localcap.api.methods.*",
        "localcap.api.methods.*",
        "one method family per module: what two families share lives in common.py or below "
        "api/, so that changing one family cannot break another",
        allowed=("localcap.api.methods.common",),
    ),
)


def _matches(pattern: str, module: str) -> bool:
    if pattern.endswith(".*"):
        return module.startswith(pattern[:-1])
    return module == pattern or module.startswith(pattern + ".")


@dataclass(frozen=True)
class Arrow:
    """One import: where the statement is and the module it names (dotted, absolute)."""

    source: SourceFile
    line: int
    module: str

    def __str__(self) -> str:
        return f"{self.source.at(self.line)} -> {self.module}"


def _absolute_base(source: SourceFile, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (resolving ``.``/``..``)."""
    if node.level == 0:
        return node.module or ""
    package = source.module.split(".")
    if not source.is_package:
        package = package[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def arrows(files: Iterable[SourceFile]) -> Iterator[Arrow]:
    """Every import anywhere in the files; ``from p import m`` points at the module ``p.m``
    when there is one (``from . import common``), else at ``p``."""
    files = list(files)
    modules = {f.module for f in files}
    for source in files:
        targets: set[tuple[int, str]] = set()  # (line, module): each counted once
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Import):
                targets.update((node.lineno, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute_base(source, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add((node.lineno, sub if sub in modules else base))
        for line, module in sorted(targets):
            yield Arrow(source, line, module)


def violations(files: Iterable[SourceFile]) -> dict[Forbidden, list[Arrow]]:
    """The offending arrows, per rule (rules without any are left out)."""
    found: dict[Forbidden, list[Arrow]] = {}
    for arrow in arrows(files):
        for rule in FORBIDDEN:
            if rule.forbids(arrow.source.module, arrow.module):
                found.setdefault(rule, []).append(arrow)
    return found


def report(found: dict[Forbidden, list[Arrow]]) -> str:
    """Each broken rule with its reason, then its arrows, one ``file:line -> module`` a line."""
    lines = []
    for rule, offending in found.items():
        lines.append(f"{rule}")
        lines.extend(f"    {arrow}" for arrow in offending)
    return "\n".join(lines)


def test_no_module_imports_across_a_forbidden_arrow() -> None:
    found = violations(source_files())
    if found:
        pytest.fail("Imports against the layering:\n" + report(found), pytrace=False)


def test_every_rule_names_modules_that_exist() -> None:
    """A renamed or removed package would make its rules pass for nothing."""
    modules = {f.module for f in source_files()}
    stale = [
        pattern
        for rule in FORBIDDEN
        for pattern in (rule.importer, rule.imported, *rule.allowed)
        if not any(_matches(pattern, m) for m in modules)
    ]
    if stale:
        pytest.fail(f"Rules naming no module: {sorted(set(stale))}", pytrace=False)


def _write_package(root: Path, files: dict[str, str]) -> Path:
    package_dir = root / "src" / "localcap"
    for name, text in files.items():
        path = package_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package_dir


def test_the_check_sees_lazy_relative_and_type_checking_imports(tmp_path: Path) -> None:
    """The checker itself, on a small package holding one import of each kind."""
    package_dir = _write_package(
        tmp_path,
        {
            "__init__.py": "",
            "db/__init__.py": "",
            "db/records.py": "",
            "api/__init__.py": "",
            "api/errors.py": "",
            "api/methods/__init__.py": "from localcap.api.methods import records, users\n",
            "api/methods/common.py": "",
            "api/methods/users.py": "",
            "api/methods/records.py": "from . import common, users\nfrom .. import errors\n",
            "model/__init__.py": "from .. import api\n",
            "model/rows.py": (
                "from typing import TYPE_CHECKING\n"
                "from localcap.model import rows\n"
                "if TYPE_CHECKING:\n"
                "    from ..db.records import StoredRow\n"
                "def later():\n"
                "    import localcap.api.errors\n"
            ),
        },
    )
    found = violations(source_files(package_dir))
    assert {rule.imported: [str(a) for a in arrows] for rule, arrows in found.items()} == {
        "localcap.api": [
            "src/localcap/model/__init__.py:1 -> localcap.api",
            "src/localcap/model/rows.py:6 -> localcap.api.errors",
        ],
        "localcap.db": ["src/localcap/model/rows.py:4 -> localcap.db.records"],
        "localcap.api.methods.*": [
            "src/localcap/api/methods/records.py:1 -> localcap.api.methods.users"
        ],
    }
