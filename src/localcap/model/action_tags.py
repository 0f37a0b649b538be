"""Action tags: the ``@TAGS`` of a field's annotation that govern what a survey shows and takes.

REDCap reads action tags from the Field Annotation column of the data dictionary
(``field_annotation``). The ones localcap's survey page acts on, as REDCap documents them in
its Action Tags help (Project Setup > "What are Action Tags?"):

* ``@HIDDEN``: the field is hidden on data entry forms and survey pages; ``@HIDDEN-SURVEY``:
  on survey pages only. ``@HIDDEN-FORM`` and ``@HIDDEN-APP`` hide it elsewhere, not on a
  survey, so the survey page ignores them.
* ``@READONLY``: the field is shown but cannot be changed, on forms and surveys;
  ``@READONLY-SURVEY``: on survey pages only (``@READONLY-FORM`` is ignored on surveys).
* ``@FORCE-MINMAX``: a value outside the field's validation minimum/maximum is refused (without
  it REDCap only warns, and so does the Import Records check localcap reuses: it saves).
* ``@DEFAULT='value'``: the value a blank field starts with when the instrument has no data
  yet; ``@NOW`` (date and time) and ``@TODAY`` (date) set a blank field to the current time
  when the page opens, in the stored (Y-M-D) format the field's validation gives.
* ``@CALCTEXT(expression)``: a text field whose shown value is the expression's result
  (REDCap's logic language), never an input.

localcap's reading, where the help page is silent: a hidden or read-only field is never an
input on the page and any value posted for it is ignored; its stored value is kept. A hidden
or read-only field with ``@DEFAULT``/``@NOW``/``@TODAY`` and no stored value gets that value
when the page is saved (the common ``@NOW @READONLY`` timestamp), as REDCap's form does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from localcap.model.project import Field
from localcap.model.validation import DATE_FORMATS, value_is_valid

#: A tag: ``@`` then letters, digits, ``-`` and ``_`` (REDCap's tags are upper case).
_TAG = re.compile(r"@([A-Za-z][A-Za-z0-9_-]*)")
#: The quoted argument of ``@DEFAULT='...'`` / ``@DEFAULT="..."``.
_QUOTED = re.compile(r"\s*=\s*(['\"])(.*?)\1", re.S)
#: Validation types whose values are numbers, compared as numbers for ``@FORCE-MINMAX``.
_NUMERIC = ("integer", "int", "number", "float")


def parse_tags(annotation: str) -> dict[str, str]:
    """Tag name (upper case) -> its argument ("" when none): ``@DEFAULT='x'`` gives
    ``{"DEFAULT": "x"}``, ``@CALCTEXT(...)`` the text between its balanced parentheses."""
    tags: dict[str, str] = {}
    pos = 0
    while found := _TAG.search(annotation, pos):
        name = found.group(1).upper()
        pos = found.end()
        argument = ""
        quoted = _QUOTED.match(annotation, pos)
        if quoted:
            argument, pos = quoted.group(2), quoted.end()
        elif annotation.startswith("(", pos):
            depth, end = 0, pos
            for end in range(pos, len(annotation)):
                depth += {"(": 1, ")": -1}.get(annotation[end], 0)
                if depth == 0:
                    break
            argument, pos = annotation[pos + 1 : end], end + 1
        tags.setdefault(name, argument)
    return tags


@dataclass(frozen=True)
class SurveyTags:
    """What a field's action tags mean on a survey page."""

    hidden: bool = False
    readonly: bool = False
    force_minmax: bool = False
    #: ``@DEFAULT``'s value (None: no default).
    default: str | None = None
    #: ``"NOW"``, ``"TODAY"`` or "".
    now: str = ""
    #: ``@CALCTEXT``'s expression ("" when none).
    calctext: str = ""

    @property
    def is_input(self) -> bool:
        """Whether the respondent may answer the field on the page."""
        return not (self.hidden or self.readonly or self.calctext)


def survey_tags(f: Field) -> SurveyTags:
    if "@" not in f.field_annotation:
        return SurveyTags()
    tags = parse_tags(f.field_annotation)
    return SurveyTags(
        hidden="HIDDEN" in tags or "HIDDEN-SURVEY" in tags,
        readonly="READONLY" in tags or "READONLY-SURVEY" in tags,
        force_minmax="FORCE-MINMAX" in tags,
        default=tags.get("DEFAULT"),
        now="NOW" if "NOW" in tags else "TODAY" if "TODAY" in tags else "",
        calctext=tags.get("CALCTEXT", "").strip() if f.field_type == "text" else "",
    )


#: ``@NOW``'s format for the validations that hold a time but no date.
_TIME_FORMATS = {"time": "%H:%M", "time_hh_mm_ss": "%H:%M:%S", "time_mm_ss": "%M:%S"}


def initial_value(f: Field, tags: SurveyTags, now: datetime) -> str:
    """The value a blank field starts with (``@NOW``/``@TODAY``, else ``@DEFAULT``; "" none).
    A value the field's validation would refuse is not offered (it would block the save of a
    page whose respondent cannot change it)."""
    value = tags.default or ""
    if tags.now:
        fmt = DATE_FORMATS.get(f.validation) or _TIME_FORMATS.get(f.validation)
        if tags.now == "TODAY" and (not f.validation or f.validation.startswith("date_")):
            fmt = "%Y-%m-%d"
        value = now.strftime(fmt or "%Y-%m-%d %H:%M:%S")
    if value and f.validation and not value_is_valid(f.validation, value):
        return ""
    return value


def _bound(validation: str, text: str) -> Decimal | str | None:
    text = text.strip()
    if not text:
        return None
    if validation in _NUMERIC:
        try:
            return Decimal(text)
        except InvalidOperation:
            return None
    return text if validation in DATE_FORMATS or validation.startswith("time") else None


def outside_range(f: Field, value: str) -> str:
    """``@FORCE-MINMAX``'s refusal of a value outside the field's min/max ("" when it fits).
    Dates, times and numbers compare as REDCap stores them (Y-M-D text sorts as dates)."""
    low = _bound(f.validation, f.text_validation_min)
    high = _bound(f.validation, f.text_validation_max)
    given = _bound(f.validation, value)
    if given is None or (low is None and high is None):
        return ""
    try:
        if (low is not None and given < low) or (high is not None and given > high):  # type: ignore[operator]
            limits = f"{f.text_validation_min or '...'} to {f.text_validation_max or '...'}"
            return f"The value must be within the range {limits}."
    except TypeError:
        return ""
    return ""
