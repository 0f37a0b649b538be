"""Small hand-made projects for in-process domain tests (no server, no database).

Two designs, each small enough to read at a glance:

``trial()`` -- a classic project with DAGs and a repeating instrument::

    demographics: record_id, name (identifier), dob (date_ymd), sex (radio 0 Female / 1 Male),
                  race (checkbox 1 White / 2 Black / 98 Other), weight (number, kg), bmi_note
                  (descriptive), level (slider)
    visits (repeating): visit_date (date_ymd), hb (number)
    DAGs: site_a (group 1), site_b (group 2)

``cohort()`` -- a longitudinal one: events ``baseline_arm_1`` (demographics and visits) and
``followup_arm_1`` (visits only), the latter a repeating event.
"""

from __future__ import annotations

from localcap.model.project import Arm, Dag, Event, Field, Form, Project
from localcap.model.rows import StoredRow

FIELDS = [
    Field("record_id", "demographics", "text", "Record ID"),
    Field("name", "demographics", "text", "Name", identifier="y"),
    Field(
        "dob",
        "demographics",
        "text",
        "Date of birth",
        text_validation_type_or_show_slider_number="date_ymd",
    ),
    Field(
        "sex", "demographics", "radio", "Sex", select_choices_or_calculations="0, Female | 1, Male"
    ),
    Field(
        "race",
        "demographics",
        "checkbox",
        "Race",
        select_choices_or_calculations="1, White | 2, Black | 98, Other",
    ),
    Field(
        "weight",
        "demographics",
        "text",
        "Weight (kg)",
        text_validation_type_or_show_slider_number="number",
    ),
    Field("bmi_note", "demographics", "descriptive", "BMI is computed on the next page"),
    Field("level", "demographics", "slider", "Pain level"),
    Field(
        "visit_date",
        "visits",
        "text",
        "Visit date",
        text_validation_type_or_show_slider_number="date_ymd",
    ),
    Field(
        "hb", "visits", "text", "Haemoglobin", text_validation_type_or_show_slider_number="number"
    ),
]
FORMS = [Form("demographics", "Demographics"), Form("visits", "Visits")]
DAGS = [Dag(1, "Site A", "site_a"), Dag(2, "Site B", "site_b")]
BASELINE, FOLLOWUP = 10, 11


def trial() -> Project:
    """The classic project: visits is a repeating instrument (event id 0, classic)."""
    return Project(
        project_id=1,
        project_title="Trial",
        is_longitudinal=False,
        info={},
        fields=list(FIELDS),
        forms=list(FORMS),
        repeating={(0, "visits"): ""},
        dags=list(DAGS),
    )


def cohort() -> Project:
    """The longitudinal project: follow-up holds visits only, and repeats as a whole."""
    return Project(
        project_id=2,
        project_title="Cohort",
        is_longitudinal=True,
        info={},
        fields=list(FIELDS),
        forms=list(FORMS),
        arms=[Arm(1, "Arm 1")],
        events=[
            Event(BASELINE, 1, "Baseline", "baseline_arm_1"),
            Event(FOLLOWUP, 1, "Follow-up", "followup_arm_1"),
        ],
        event_forms={BASELINE: ["demographics", "visits"], FOLLOWUP: ["visits"]},
        repeating={(FOLLOWUP, ""): ""},
        dags=list(DAGS),
        longitudinal_enabled=True,
    )


def row(record: str, group_id: int | None = None, **data: object) -> StoredRow:
    """A classic, non-repeating stored row of ``record``."""
    return StoredRow(record, 0, "", 1, dict(data), group_id)
