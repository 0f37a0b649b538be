"""The rules of arms, events, the instrument-event mapping and the repeating setup: how the
design methods' rows become the design they save (checked against the design as of the
project's write lock), without HTTP or a database."""

from __future__ import annotations

import re

from localcap.model.errors import DomainError
from localcap.model.numbers import MAX_ID
from localcap.model.project import CLASSIC_EVENT_ID, Arm, Event, Project

UNIQUE_EVENT = re.compile(r"^[a-z0-9_]+_arm_\d+$")


def positive_number(value: object, what: str) -> int:
    """An arm number (1..MAX_ID) given as text, refused in REDCap's style otherwise."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise DomainError(f"The {what} '{value}' is not a valid integer") from None
    if not 0 < number <= MAX_ID:
        raise DomainError(f"The {what} '{value}' is out of range")
    return number


def unique_event_name(event_name: str, arm_num: int, taken: set[str]) -> str:
    """REDCap's rule: lower-cased label, non-alphanumerics to ``_``, trimmed, ``_arm_N``."""
    base = re.sub(r"[^a-z0-9]+", "_", event_name.lower()).strip("_")[:18].rstrip("_") or "event"
    name = f"{base}_arm_{arm_num}"
    suffix = 0
    while name in taken:
        suffix += 1
        name = f"{base}{chr(ord('a') + suffix - 1)}_arm_{arm_num}"
    return name


def plan_arms(rows: list[dict[str, str]]) -> list[Arm]:
    """Import Arms' rows as arms: a number and a name each."""
    arms = []
    for row in rows:
        if not str(row.get("name", "")).strip():
            raise DomainError("The arm name is missing")
        arms.append(Arm(positive_number(row.get("arm_num", ""), "arm number"), row["name"].strip()))
    return arms


def plan_events(project: Project, rows: list[dict[str, str]], override: bool) -> list[Event]:
    """The events to save, each with the unique name it keeps or gets."""
    taken = set() if override else set(project.event_by_name)
    events = []
    for row in rows:
        name = str(row.get("event_name", "")).strip()
        if not name:
            raise DomainError("The event name is missing")
        arm_num = positive_number(row.get("arm_num", ""), "arm number")
        if arm_num not in project.arm_by_num:
            raise DomainError(f"The arm number '{arm_num}' does not exist in the project")
        # A known unique name updates that event. An unknown one (PyCap's integration tests
        # restore exported events this way into real REDCap) adds an event under that name
        # when it is a valid, free name for the row's arm, else under the name derived from
        # the label (redcapAPI's suite: "event_2_arm_2" given for an arm 1 event becomes
        # "event_2_arm_1").
        unique = str(row.get("unique_event_name", "") or "").strip()
        is_new = override or unique not in project.event_by_name
        fits = UNIQUE_EVENT.match(unique) and unique.endswith(f"_arm_{arm_num}")
        if is_new and not (fits and unique not in taken):
            unique = unique_event_name(name, arm_num, taken)
        taken.add(unique)
        events.append(
            Event(
                0,
                arm_num,
                name,
                unique,
                str(row.get("day_offset", "0") or "0"),
                str(row.get("offset_min", "0") or "0"),
                str(row.get("offset_max", "0") or "0"),
                str(row.get("custom_event_label", "") or ""),
            )
        )
    return events


def plan_mapping(project: Project, rows: list[dict[str, str]]) -> list[tuple[int, str]]:
    """(event id, form name) per imported row; one refusal listing every bad row."""
    pairs: list[tuple[int, str]] = []
    errors = []
    for row in rows:
        event = project.event_by_name.get(str(row.get("unique_event_name", "")).strip())
        form = str(row.get("form", "")).strip()
        if event is None:
            errors.append(
                f"The unique event name '{row.get('unique_event_name', '')}' is not valid"
            )
            continue
        if form not in project.form_by_name:
            errors.append(f"The instrument '{form}' does not exist")
            continue
        arm = row.get("arm_num")
        if arm not in (None, "") and positive_number(str(arm), "arm number") != event.arm_num:
            errors.append(f"The event '{event.unique_event_name}' is not in arm {arm}")
            continue
        pairs.append((event.event_id, form))
    if errors:
        raise DomainError("\n".join(errors))
    return pairs


def plan_repeating(project: Project, rows: list[dict[str, str]]) -> list[tuple[int, str, str]]:
    """(event id, form name or "" for a whole event, custom label) per imported row."""
    entries: list[tuple[int, str, str]] = []
    for row in rows:
        form = str(row.get("form_name", "") or "").strip()
        label = str(row.get("custom_form_label", "") or "")
        name = str(row.get("event_name", "") or "").strip()
        if project.is_longitudinal or name:
            event = project.event_by_name.get(name) if project.is_longitudinal else None
            if event is None:
                raise DomainError(f"event '{name}' is not available in project")
            event_id = event.event_id
            if form and form not in project.event_forms.get(event_id, []):
                raise DomainError(
                    f"The instrument '{form}' is not designated for the event '{name}'"
                )
        else:
            event_id = CLASSIC_EVENT_ID
            if not form:
                raise DomainError("The form_name is missing")
        if form and form not in project.form_by_name:
            raise DomainError(f"The instrument '{form}' does not exist")
        entries.append((event_id, form, label))
    return entries
