"""Survey settings and survey codes: what a survey-enabled instrument's settings mean.

A survey's settings are the attributes of a project XML's ``<redcap:Surveys>`` element, kept
as strings exactly as REDCap writes them (so that a round trip loses nothing); this module
reads the few localcap acts on. Codes and link hashes come from :mod:`secrets`:

* link hashes: 16 characters of ``A-Z0-9`` (REDCap's links look like ``?s=EHXE4PNJW8E3MDAE``),
  about 82 bits, so a link cannot be guessed from another;
* access codes: 9 characters (REDCap's length), return codes: 8 characters, both from an
  alphabet without look-alike characters (no 0/O, 1/I/L) since people type them.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from localcap.model.project import Project

HASH_ALPHABET = string.ascii_uppercase + string.digits
CODE_ALPHABET = "".join(c for c in HASH_ALPHABET if c not in "0O1IL")
HASH_LENGTH = 16
ACCESS_CODE_LENGTH = 9
RETURN_CODE_LENGTH = 8

#: The settings a new survey gets (REDCap's defaults for a newly enabled survey).
DEFAULT_SETTINGS: dict[str, str] = {
    "title": "",
    "instructions": "<p><strong>Please complete the survey below.</strong></p>\n<p>Thank you!</p>",
    "acknowledgement": (
        "<p><strong>Thank you for taking the survey.</strong></p>\n<p>Have a nice day!</p>"
    ),
    "survey_enabled": "1",
    "save_and_return": "0",
    "hide_title": "0",
    "show_required_field_text": "1",
    "edit_completed_response": "0",
    "survey_expiration": "",
    "response_limit": "",
    "response_limit_include_partials": "1",
    # REDCap's default text, as its project XML exports carry it
    "response_limit_custom_text": (
        "<p>Thank you for your interest; however, the survey is closed because the maximum "
        "number of responses has been reached.</p>"
    ),
}
#: What an expired survey says (REDCap's wording is not documented; localcap's).
EXPIRED_TEXT = "This survey has expired: it no longer accepts responses."


def new_hash() -> str:
    return "".join(secrets.choice(HASH_ALPHABET) for _ in range(HASH_LENGTH))


def new_access_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))


def new_return_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(RETURN_CODE_LENGTH))


@dataclass
class Survey:
    """One survey-enabled instrument and its settings (all strings, as in the project XML)."""

    form_name: str
    settings: dict[str, Any] = field(default_factory=dict)

    def _get(self, name: str) -> str:
        value = self.settings.get(name, DEFAULT_SETTINGS.get(name, ""))
        return "" if value is None else str(value)

    def _on(self, name: str) -> bool:
        return self._get(name).strip() == "1"

    @property
    def title(self) -> str:
        return self._get("title")

    @property
    def instructions(self) -> str:
        return self._get("instructions")

    @property
    def acknowledgement(self) -> str:
        return self._get("acknowledgement")

    @property
    def enabled(self) -> bool:
        return self._on("survey_enabled")

    @property
    def save_and_return(self) -> bool:
        return self._on("save_and_return")

    @property
    def hide_title(self) -> bool:
        return self._on("hide_title")

    @property
    def show_required_text(self) -> bool:
        return self._on("show_required_field_text")

    @property
    def edit_completed_response(self) -> bool:
        return self._on("edit_completed_response")

    @property
    def expiration(self) -> datetime | None:
        """``survey_expiration`` (server local time, as REDCap's ``YYYY-MM-DD HH:MM[:SS]``);
        None when not set or not a date."""
        text = self._get("survey_expiration").strip()
        try:
            return datetime.fromisoformat(text) if text else None
        except ValueError:
            return None

    def expired(self, now: datetime) -> bool:
        return self.expiration is not None and now >= self.expiration

    @property
    def response_limit(self) -> int:
        """``response_limit``: the most responses the survey takes (0: no limit)."""
        text = self._get("response_limit").strip()
        return int(text) if text.isdigit() and len(text) < 10 else 0

    @property
    def limit_counts_partials(self) -> bool:
        """Whether partial (saved for later) responses count toward the limit."""
        return self._on("response_limit_include_partials")

    @property
    def response_limit_text(self) -> str:
        return self._get("response_limit_custom_text")


@dataclass(frozen=True)
class Participant:
    """One row of ``survey_participants``: a record's (or a listed person's) survey access."""

    participant_id: int
    project_id: int
    form_name: str
    event_id: int
    record: str | None
    instance: int
    email: str
    identifier: str
    hash: str
    access_code: str
    return_code: str
    first_submit_time: str
    completion_time: str
    #: Wrong return codes in a row, and until when (UTC, ISO 8601) every code is refused.
    return_failures: int = 0
    return_locked_until: str = ""

    @property
    def partial(self) -> bool:
        """Saved with Save & Return Later and not completed yet."""
        return bool(self.first_submit_time) and not self.completion_time

    @property
    def response_status(self) -> int:
        """REDCap's 0 no response, 1 partial, 2 completed."""
        if self.completion_time:
            return 2
        return 1 if self.first_submit_time else 0


def record_arms(project: Project, data_events: Iterable[int]) -> set[int]:
    """The arms a record is in: those of the events holding its data (``data_events``)."""
    return {
        project.event_by_id[event_id].arm_num
        for event_id in data_events
        if event_id in project.event_by_id
    }


def in_records_arm(project: Project, event_id: int, data_events: Iterable[int]) -> bool:
    """Whether a survey of this event belongs to the record: in a longitudinal project, the
    event must be in the record's arm (a record with no data yet is in the first arm). A
    survey answered in another arm's event would put the record into that arm."""
    if not project.is_longitudinal:
        return True
    event = project.event_by_id.get(event_id)
    if event is None:
        return False
    arms = record_arms(project, data_events) or {min(e.arm_num for e in project.events)}
    return event.arm_num in arms


@dataclass(frozen=True)
class QueueCondition:
    """When a survey queue entry is offered (a project XML's ``redcap:SurveysQueue``):
    another survey completed (``condition_surveycomplete_survey_id``, the form, in
    ``condition_surveycomplete_event_id``, a unique event name), and/or REDCap logic true
    (``condition_logic``), combined by ``condition_andor`` (AND unless it says OR)."""

    survey_form: str = ""
    survey_event: str = ""
    logic: str = ""
    use_or: bool = False

    @classmethod
    def of(cls, settings: dict[str, Any]) -> QueueCondition:
        def get(name: str) -> str:
            value = settings.get(name)
            return "" if value is None else str(value).strip()

        return cls(
            get("condition_surveycomplete_survey_id"),
            get("condition_surveycomplete_event_id"),
            get("condition_logic"),
            get("condition_andor").upper() == "OR",
        )

    def met(self, survey_completed: bool, logic_true: bool) -> bool:
        """Whether the entry is offered, given the two conditions' states (an entry with no
        condition at all is offered: localcap's reading, REDCap asks for one in its setup)."""
        tests = []
        if self.survey_form:
            tests.append(survey_completed)
        if self.logic:
            tests.append(logic_true)
        if not tests:
            return True
        return any(tests) if self.use_or else all(tests)


def survey_link(base: str, hash_: str) -> str:
    """A participant's survey link on the server reached at ``base`` (the API's Export
    Survey Link answers it; the survey pages show it after Save & Return)."""
    return f"{base}/surveys/?s={hash_}"


def queue_link(base: str, hash_: str) -> str:
    """A record's survey queue link (``<base>/surveys/?sq=<hash>``)."""
    return f"{base}/surveys/?sq={hash_}"
