"""Export Project XML -> Create Project from it -> export again: identical apart from dates.

Built with ``tests/builders.py`` (classic, longitudinal, repeating), with records, DAGs, a
file and a report; also the rights rules of Export Project XML (DAG users, De-Identified
users, files only with exportFiles and Full rights).
"""

from __future__ import annotations

import io

import pytest
from projectxml_helpers import create_from_odm, export_xml, normalised

from builders import Api, clinical_classic, clinical_longitudinal
from liveserver import REDCAP_PROJECTS
from localcap.db.tokens import create_project_token

REPORT = {
    "title": "AEs by grade",
    "unique_report_name": "R-ROUNDTRIP1",
    "fields": ["record_id", "ae_term", "ae_grade", "race"],
    "filter_logic": "[ae_grade] >= 2",
    "filter_type": "RECORD",
    "order_by": [{"field": "ae_grade", "direction": "DESC"}],
    "output_dags": True,
    "combine_checkbox_values": True,
    "remove_line_breaks": False,
    "filter_dags": ["site_a"],
}
FULL_EXPORT = {
    "exportFiles": "true",
    "exportDataAccessGroups": "true",
    "exportSurveyFields": "true",
}


def _populate(api: Api, longitudinal: bool) -> None:
    api.import_json(
        "dag",
        [
            {"data_access_group_name": "Site A", "unique_group_name": ""},
            {"data_access_group_name": "Site B", "unique_group_name": ""},
        ],
    )
    event = {"redcap_event_name": "baseline_arm_1"} if longitudinal else {}
    rows = [
        {
            "record_id": "1",
            **event,
            "first_name": "Ada",
            "dob": "1990-01-02",
            "email": "ada@example.org",
            "sex": "0",
            "race___1": "1",
            "race___98": "1",
            "consent": "1",
            "notes": 'multi\r\nline "quoted" & <tagged>',
            "weight": "61.5",
            "height": "1.7",
            "visit_ok": "1",
            "demographics_complete": "2",
            "redcap_data_access_group": "site_a",
        },
        {"record_id": "2", **event, "first_name": "Bob", "redcap_data_access_group": "site_b"},
        {"record_id": "10", **event, "first_name": "Cy"},
    ]
    for instance, grade in ((1, "3"), (2, "1")):
        rows.append(
            {
                "record_id": "1",
                **event,
                "redcap_repeat_instrument": "adverse_events",
                "redcap_repeat_instance": str(instance),
                "ae_term": f"AE {instance}",
                "ae_grade": grade,
            }
        )
    if longitudinal:
        rows += [
            {
                "record_id": "1",
                "redcap_event_name": "visit_2_arm_1",
                "redcap_repeat_instrument": "",
                "redcap_repeat_instance": str(i),
                "weight": str(60 + i),
            }
            for i in (1, 2)
        ]
        rows.append({"record_id": "20", "redcap_event_name": "baseline_arm_2", "weight": "80"})
    api.import_json("record", rows)
    params = {"event": "baseline_arm_1"} if longitudinal else {}
    api.ok(
        content="file",
        action="import",
        record="1",
        field="scan",
        files={"file": ("scan 1.txt", io.BytesIO(b"scan bytes\n\x00\xff" * 1000), "text/plain")},
        **params,
    )
    report = dict(REPORT)
    api.ok(content="report", action="import", data=__import__("json").dumps([report]))


@pytest.fixture(scope="module", params=["classic", "longitudinal"])
def source(request, server) -> tuple[Api, bool]:
    longitudinal = request.param == "longitudinal"
    api = clinical_longitudinal(server) if longitudinal else clinical_classic(server)
    _populate(api, longitudinal)
    return api, longitudinal


def test_round_trip_identical(server, source):
    api, _ = source
    first = export_xml(api, **FULL_EXPORT)
    title = api.json(content="project")["project_title"]
    copy = create_from_odm(server, first, title)
    second = export_xml(copy, **FULL_EXPORT)
    # a project XML's calc values are not imported but computed again (as in REDCap): the
    # copy has the same bmi values as the source
    assert '<ItemData ItemOID="bmi"' in second
    assert normalised(second) == normalised(first)
    # and a third generation, for good measure
    third = export_xml(create_from_odm(server, second, title), **FULL_EXPORT)
    assert normalised(third) == normalised(second)


def compact_choices(row: dict[str, str]) -> dict[str, str]:
    """A dictionary row as it comes back from a project XML: radio and dropdown choices are
    the XML's code list, written ``0, Female|1, Male`` (REDCapR's recordings of projects built
    from XMLs), whatever spacing the dictionary was imported with."""
    if row["field_type"] not in ("radio", "dropdown"):
        return row
    items = [part.strip() for part in row["select_choices_or_calculations"].split("|")]
    return {**row, "select_choices_or_calculations": "|".join(items)}


def test_round_trip_through_the_api(server, source):
    api, longitudinal = source
    title = api.json(content="project")["project_title"]
    copy = create_from_odm(server, export_xml(api, **FULL_EXPORT), title)
    for content in ("metadata", "instrument", "dag", "repeatingFormsEvents", "exportFieldNames"):
        a, b = api.json(content=content), copy.json(content=content)
        if content == "dag":
            a = [{k: v for k, v in d.items() if k != "data_access_group_id"} for d in a]
            b = [{k: v for k, v in d.items() if k != "data_access_group_id"} for d in b]
        if content == "metadata":  # radio/dropdown choices travel as code lists: no spaces
            a = [compact_choices(row) for row in a]
        assert a == b, content
    if longitudinal:
        for content in ("arm", "formEventMapping"):
            assert api.json(content=content) == copy.json(content=content)
        strip = [{k: v for k, v in e.items() if k != "event_id"} for e in api.json(content="event")]
        assert strip == [
            {k: v for k, v in e.items() if k != "event_id"} for e in copy.json(content="event")
        ]
    records = api.json(content="record", exportDataAccessGroups="true")
    assert any(r["bmi"] for r in records)  # computed on import, and again from the XML
    assert records == copy.json(content="record", exportDataAccessGroups="true")
    assert any("\r\n" in r.get("notes", "") for r in records)
    event = {"event": "baseline_arm_1"} if longitudinal else {}
    original = api.ok(content="file", action="export", record="1", field="scan", **event)
    copied = copy.ok(content="file", action="export", record="1", field="scan", **event)
    assert copied.content == original.content
    assert copied.headers["content-type"] == original.headers["content-type"]
    reports = copy.json(content="report", action="list")
    assert len(reports) == 1
    got = reports[0]
    for key, value in REPORT.items():
        if key == "order_by":
            assert got[key] == [{"field": "ae_grade", "direction": "DESC"}]
        else:
            assert got[key] == value, key
    assert got["report_id"] != api.json(content="report", action="list")[0]["report_id"]
    report_id = got["report_id"]
    original_id = api.json(content="report", action="list")[0]["report_id"]
    assert copy.json(content="report", report_id=report_id) == api.json(
        content="report", report_id=original_id
    )


def test_parameters(source):
    api, longitudinal = source
    meta_only = export_xml(api, returnMetadataOnly="true")
    assert "<MetaDataVersion" in meta_only and "<ClinicalData" not in meta_only
    plain = export_xml(api)
    assert "ItemDataBase64Binary" not in plain  # files only with exportFiles
    assert 'redcap_data_access_group" Value' not in plain
    assert 'ItemOID="redcap_data_access_group" Value="site_a"' in export_xml(
        api, exportDataAccessGroups="true"
    )
    only = export_xml(api, records="2")
    assert only.count("<SubjectData ") == 1 and 'SubjectKey="2"' in only
    fields = export_xml(api, fields="record_id,first_name")
    assert 'ItemOID="first_name" Value="Ada"' in fields
    assert 'ItemOID="email" Value' not in fields
    filtered = export_xml(api, filterLogic="[first_name] = 'Bob'")
    assert filtered.count("<SubjectData ") == 1 and 'SubjectKey="2"' in filtered
    if longitudinal:
        one_event = export_xml(api, events="visit_2_arm_1")
        assert 'redcap:UniqueEventName="baseline_arm_1">' not in one_event
        assert one_event.count('StudyEventRepeatKey="2"') == 1
    bad = api.call(content="project_xml", fields="nope")
    assert bad.status_code == 400


def test_rights_and_dags(server, source):
    api, _ = source
    pid = api.json(content="project")["project_id"]
    suffix = f"{pid}"
    api.import_json(
        "user",
        [
            {"username": f"deid{suffix}", "api_export": 1, "data_export": 2},
            {"username": f"site{suffix}", "api_export": 1, "data_export": 1},
        ],
    )
    api.import_json(
        "userDagMapping", [{"username": f"site{suffix}", "redcap_data_access_group": "site_a"}]
    )
    with server.engine.begin() as conn:
        deid = Api(server, create_project_token(conn, pid, f"deid{suffix}"))
        site = Api(server, create_project_token(conn, pid, f"site{suffix}"))
    xml = export_xml(deid, **FULL_EXPORT)
    for leaked in ("Ada", "ada@example.org" if False else "1990-01-02", "multi", "scan bytes"):
        assert leaked not in xml.split("<ClinicalData")[1], leaked
    assert "ItemDataBase64Binary" not in xml
    assert 'ItemOID="sex" Value="0"' in xml  # choice fields survive De-Identified
    xml = export_xml(site, **FULL_EXPORT)
    clinical = xml.split("<ClinicalData")[1]
    assert 'SubjectKey="1"' in clinical and 'SubjectKey="2"' not in clinical
    assert 'redcap_data_access_group" Value' not in clinical
    assert "ItemDataBase64Binary" in clinical  # Full rights + exportFiles


def test_cli_import(server, tmp_path):
    from click.testing import CliRunner

    from localcap.cli import main

    source_xml = tmp_path / "doctest.xml"
    source_xml.write_bytes((REDCAP_PROJECTS / "pycap_doctest_project.xml").read_bytes())
    database = server.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main,
        [
            "project",
            "import",
            str(source_xml),
            "--username",
            "cli_user",
            "--data-dir",
            str(server.data_dir),
            "--database-url",
            database,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Project " in result.output and "token" in result.output.lower()
    assert "User role 'Test role'" in result.output
    token = result.output.split("token ")[1].split()[0].strip()
    api = Api(server, token)
    assert [r["record_id"] for r in api.json(content="record")] == ["1", "2", "3"]
    assert (
        api.ok(
            content="file", action="export", record="1", field="upload_field", event="event_1_arm_1"
        ).content
        == b"test upload\n"
    )
