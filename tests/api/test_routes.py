"""README's method table and the route table (api/routes.py) say the same thing: the same
contents in the same order, each with every action it serves and the module serving it."""

from __future__ import annotations

import re
from pathlib import Path

from localcap.api.routes import ROUTES

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(
    r"^\| `(?P<content>[A-Za-z_]+)` \| (?P<actions>.+) \| `(?P<module>[a-z_/]+\.py)` \|$"
)


def readme_rows() -> list[tuple[str, str, str]]:
    """(content, actions text, module) per row of the table under '## API methods'."""
    section = README.read_text(encoding="utf-8").split("## API methods", 1)[1]
    rows = []
    for line in section.split("\n## ", 1)[0].splitlines():
        match = ROW.match(line)
        if match:
            rows.append((match["content"], match["actions"], match["module"]))
    return rows


def routed() -> dict[str, tuple[list[str], set[str]]]:
    """content -> (its actions in table order, the modules of their handlers)."""
    contents: dict[str, tuple[list[str], set[str]]] = {}
    for (content, action), handler in ROUTES.items():
        actions, modules = contents.setdefault(content, ([], set()))
        actions.append(action)
        module = handler.__module__.removeprefix("localcap.").replace(".", "/") + ".py"
        modules.add(module)
    return contents


def test_the_readme_table_lists_every_content_in_the_route_tables_order():
    assert [content for content, _, _ in readme_rows()] == list(routed())


def test_each_readme_row_names_the_module_and_every_action_of_its_content():
    contents = routed()
    for content, actions_text, module in readme_rows():
        actions, modules = contents[content]
        assert modules == {module}, content
        words = set(re.findall(r"[A-Za-z]+", actions_text))
        assert set(actions) <= words, (content, sorted(set(actions) - words))
