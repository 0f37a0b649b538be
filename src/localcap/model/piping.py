"""Piping: ``[field]`` in a label, note, choice, section header or survey text shows the
record's saved value, as REDCap's piping does.

The forms REDCap documents (Help & FAQ, "Piping"): ``[field]`` (a multiple-choice field shows
its choice label, a checkbox the labels of its checked options), ``[field:value]`` (the raw
code), ``[field:label]`` (the label), and ``[event_name][field]`` for another event's value.
A value not saved yet shows REDCap's placeholder ``______``. Values are HTML-escaped where the
text is HTML (labels, notes, instructions), so a participant's answer piped into a label is
text, never markup. A bracketed name that is not a field is left as it is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping

from localcap.model.project import Field, Project

BLANK = "______"
_PIPE = re.compile(
    r"(?:\[(?P<event>[A-Za-z0-9_]+)\])?\[(?P<field>[A-Za-z0-9_]+)(?::(?P<mod>value|label))?\]"
)

#: (event unique name or None for the page's own event, field) -> the stored value.
Lookup = Callable[[str | None, str], object]


def _shown(f: Field, stored: object, modifier: str | None) -> str:
    if stored is None or stored == "" or stored == []:
        return BLANK
    if isinstance(stored, list):
        if modifier == "value":
            return ", ".join(stored)
        return ", ".join(f.choices.get(code, code) for code in stored)
    text = str(stored)
    if f.choices and modifier != "value":
        return re.sub(r"<[^>]*>", "", f.choices.get(text, text))
    return text


def pipe(project: Project, text: str, lookup: Lookup, *, escape: bool = True) -> str:
    """``text`` with its piping tags replaced by the saved values (escaped for HTML when
    ``escape``)."""
    if "[" not in text:
        return text

    def one(event: str | None, name: str, modifier: str | None, raw: str) -> str:
        f = project.field_by_name.get(name)
        if f is None:
            return raw
        value = _shown(f, lookup(event, name), modifier)
        return html.escape(value) if escape else value

    def replace(match: re.Match[str]) -> str:
        event, name, modifier = match.group("event"), match.group("field"), match.group("mod")
        if event is not None and event not in project.event_by_name:
            # not an event: two tags side by side, ``[a][b]``
            first = one(None, event, None, f"[{event}]")
            rest = match.group(0)[len(event) + 2 :]
            return first + one(None, name, modifier, rest)
        return one(event, name, modifier, match.group(0))

    return _PIPE.sub(replace, text)


def row_lookup(
    project: Project, rows: Mapping[tuple[int, str], Mapping[str, object]], event_id: int
) -> Lookup:
    """A lookup over a record's rows by (event_id, field's form): the page's event unless the
    tag names another."""

    def lookup(event: str | None, name: str) -> object:
        target = project.event_by_name[event].event_id if event else event_id
        form = project.form_of(name) or ""
        return rows.get((target, form), {}).get(name)

    return lookup
