"""Hypothesis fuzzing of the importers: whatever a client sends as ``data``, the parsers and the
record checker answer with their own clear error, never anything else (which would be a 500)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import CLINICAL_DICTIONARY
from localcap.formats.parsers import DataParseError, parse_data
from localcap.model.project import Field, Form, Project
from localcap.model.record_import import ImportChecker, RecordImportError

PROJECT = Project(
    project_id=1,
    project_title="fuzz",
    is_longitudinal=False,
    info={},
    fields=[Field(**f) for f in CLINICAL_DICTIONARY],
    forms=[Form(name, name) for name in dict.fromkeys(f["form_name"] for f in CLINICAL_DICTIONARY)],
    repeating={(0, "adverse_events"): ""},
)
NAMES = st.sampled_from(
    [f["field_name"] for f in CLINICAL_DICTIONARY]
    + [
        "race___1",
        "race___98",
        "demographics_complete",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "redcap_event_name",
        "redcap_data_access_group",
        "nope",
    ]
)
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "1",
            "0",
            "2",
            "98",
            "new",
            "-1",
            "99999999999999999999",
            "2020-02-30",
            "1999-12-31",
            "adverse_events",
            "a@b.co",
            "1.5",
            " 1 ",
        ]
    ),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400), fmt=st.sampled_from(["json", "csv", "xml"]))
def test_parsers_only_raise_their_own_error(text, fmt):
    try:
        rows = parse_data(text, fmt)
    except DataParseError:
        return
    assert isinstance(rows, list)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.dictionaries(NAMES, VALUES, max_size=8), max_size=6),
    date_format=st.sampled_from(["YMD", "MDY", "DMY"]),
)
def test_record_checker_only_raises_its_own_error(rows, date_format):
    prepared = [{k: v if isinstance(v, str) else str(v) for k, v in row.items()} for row in rows]
    try:
        plan = ImportChecker(PROJECT, date_format).check(prepared, None)
    except RecordImportError:
        return
    assert len(plan.records) <= len(rows)
