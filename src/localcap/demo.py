"""The demo project `localcap serve --demo` creates once: something to curl at once.

Longitudinal with two arms, a repeating instrument, a checkbox, identifier fields, two DAGs,
users with different export rights, and a few dozen records.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from sqlalchemy import Engine, select

from localcap.actions.create_project import Schedule, create_project
from localcap.actions.import_records import ImportOptions, import_records
from localcap.db import projects as store
from localcap.db import schema as t
from localcap.db.reports import list_reports, save_reports
from localcap.db.roles import set_user_role
from localcap.db.tokens import create_project_token
from localcap.db.transactions import read_snapshot, write_transaction
from localcap.model.project import Arm, Event, Field, Project
from localcap.model.record_import import ImportChecker
from localcap.model.rights import DEIDENTIFIED, FULL, NO_ACCESS, REMOVE_IDENTIFIERS, Rights
from localcap.reports.definition import ReportDefinition

DEMO_TITLE = "localcap demo project"


def _f(name: str, form: str, ftype: str, label: str, **extra: str) -> Field:
    return Field(field_name=name, form_name=form, field_type=ftype, field_label=label, **extra)


DICTIONARY = [
    _f("record_id", "enrolment", "text", "Study ID"),
    _f("name", "enrolment", "text", "Participant name", identifier="y"),
    _f(
        "dob",
        "enrolment",
        "text",
        "Date of birth",
        identifier="y",
        text_validation_type_or_show_slider_number="date_ymd",
    ),
    _f("sex", "enrolment", "radio", "Sex", select_choices_or_calculations="0, Female|1, Male"),
    _f(
        "conditions",
        "enrolment",
        "checkbox",
        "Conditions",
        select_choices_or_calculations="1, Diabetes|2, Hypertension|3, Asthma",
    ),
    _f("smoker", "enrolment", "yesno", "Smoker?"),
    _f("comments", "enrolment", "notes", "Comments"),
    _f(
        "weight",
        "visit",
        "text",
        "Weight (kg)",
        text_validation_type_or_show_slider_number="number",
    ),
    _f("sbp", "visit", "text", "Systolic BP", text_validation_type_or_show_slider_number="integer"),
    _f(
        "visit_date",
        "visit",
        "text",
        "Visit date",
        text_validation_type_or_show_slider_number="date_ymd",
    ),
    _f("ae_description", "adverse_event", "text", "Adverse event"),
    _f(
        "ae_severity",
        "adverse_event",
        "dropdown",
        "Severity",
        select_choices_or_calculations="1, Mild|2, Moderate|3, Severe",
    ),
]

#: The demo project's owner: every right. The other demo users are restricted: each has
#: exactly what its name says and no right that would let it raise its own rights.
OWNER = "alice_full"
#: User Rights (Import Users/Roles), Project Design (the identifier flags, reports) and Data
#: Access Groups (leaving a DAG) each let a user widen what it may export.
RIGHTS_RAISING = ("user_rights", "design", "data_access_groups")

#: Two arms; every instrument at Baseline, the visits again at the Treatment arm's Follow-up.
SCHEDULE = Schedule(
    [Arm(1, "Treatment"), Arm(2, "Control")],
    [
        Event(0, 1, "Baseline", "baseline_arm_1"),
        Event(0, 1, "Follow-up", "followup_arm_1"),
        Event(0, 2, "Baseline", "baseline_arm_2"),
    ],
    [
        ("baseline_arm_1", "enrolment"),
        ("baseline_arm_1", "visit"),
        ("baseline_arm_1", "adverse_event"),
        ("followup_arm_1", "visit"),
        ("baseline_arm_2", "enrolment"),
        ("baseline_arm_2", "visit"),
        ("baseline_arm_2", "adverse_event"),
    ],
)

DAGS = {"site_a": "Site A", "site_b": "Site B"}

USERS = [
    # username, export level, DAG unique name (None: sees every DAG)
    (OWNER, FULL, None),
    ("bob_deidentified", DEIDENTIFIED, None),
    ("carol_no_identifiers", REMOVE_IDENTIFIERS, None),
    ("dave_site_a", FULL, "site_a"),
    ("erin_no_export", NO_ACCESS, None),
]


REPORTS = [
    {
        "title": "Enrolment overview",
        "fields": [
            "record_id",
            "name",
            "dob",
            "sex",
            "conditions",
            "smoker",
            "comments",
            "enrolment_complete",
        ],
        "output_dags": True,
    },
    {
        "title": "Moderate or severe adverse events",
        "fields": ["record_id", "ae_description", "ae_severity"],
        "filter_logic": "[ae_severity] >= 2",
        "order_by": [{"field": "ae_severity", "direction": "DESC"}],
    },
]


def _records(rng: random.Random) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    names = ["Ada", "Ben", "Cleo", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon"]
    for n in range(1, 37):
        arm = 1 if n <= 24 else 2
        baseline = f"baseline_arm_{arm}"
        dag = "site_a" if n % 2 else "site_b"
        rows.append(
            {
                "record_id": str(n),
                "redcap_event_name": baseline,
                "redcap_data_access_group": dag,
                "name": f"{rng.choice(names)} {chr(65 + n % 26)}.",
                "dob": f"19{rng.randint(40, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "sex": str(rng.randint(0, 1)),
                "smoker": str(rng.randint(0, 1)),
                f"conditions___{rng.randint(1, 3)}": "1",
                "comments": "Line one\r\nline two" if n % 7 == 0 else "",
                "enrolment_complete": "2",
                "weight": f"{rng.uniform(50, 110):.1f}",
                "sbp": str(rng.randint(100, 160)),
                "visit_date": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "visit_complete": "1",
            }
        )
        if arm == 1:
            rows.append(
                {
                    "record_id": str(n),
                    "redcap_event_name": "followup_arm_1",
                    "weight": f"{rng.uniform(50, 110):.1f}",
                    "sbp": str(rng.randint(100, 160)),
                    "visit_complete": "2",
                }
            )
        for i in range(1, rng.randint(0, 3) + 1):
            rows.append(
                {
                    "record_id": str(n),
                    "redcap_event_name": baseline,
                    "redcap_repeat_instrument": "adverse_event",
                    "redcap_repeat_instance": str(i),
                    "ae_description": rng.choice(["Headache", "Nausea", "Rash"]),
                    "ae_severity": str(rng.randint(1, 3)),
                    "adverse_event_complete": "2",
                }
            )
    return rows


def ensure_demo(engine: Engine, url: str) -> Iterator[str]:
    """Create the demo project unless it exists; yield lines telling how to use it."""
    with read_snapshot(engine) as conn:
        row = conn.execute(
            select(t.projects.c.project_id).where(t.projects.c.project_title == DEMO_TITLE)
        ).first()
    existing = None if row is None else row.project_id
    # An existing demo project's users are rewritten under its write lock, as any other
    # change to a project (another server on the same database may be answering requests).
    with write_transaction(engine, existing) as conn:
        pid = _create(conn) if existing is None else existing
        _grant_rights(conn, pid)
        yield f"Demo project {pid} ({DEMO_TITLE}) at {url}"
        for report in list_reports(conn, pid):
            yield f"  report_id={report.report_id}: {report.title}"
        yield "Tokens (each call mints a fresh one; earlier ones stop working):"
        for username, level, dag in USERS:
            token = create_project_token(conn, pid, username)
            what = {
                FULL: "full data set",
                DEIDENTIFIED: "de-identified",
                REMOVE_IDENTIFIERS: "identifiers removed",
                NO_ACCESS: "no export",
            }[level]
            yield f"  {username:<22} {token}  ({what}{', DAG site_a only' if dag else ''})"
        yield ("Try: curl -s -d token=<TOKEN> -d content=record -d format=csv " + url)


def demo_rights(project: Project, username: str, level: int) -> Rights:
    """The owner's rights, with the user's export level on every instrument, and for a
    restricted user none of the rights that would let it raise its own."""
    rights = Rights.full(project)
    rights.data_export = level
    rights.forms_export = {f.form_name: level for f in project.forms}
    if username != OWNER:
        rights.flags.update(dict.fromkeys(RIGHTS_RAISING, 0))
    return rights


def _grant_rights(conn, pid: int) -> None:  # noqa: ANN001 - a SQLAlchemy connection
    """Give every demo user its rights and DAG, out of any role, on every start: a demo
    project made by an older localcap (which gave everyone User Rights) is put right, and
    rights given or taken while playing with the demo do not outlive a restart."""
    project = store.load_project(conn, pid)
    assert project is not None
    for username, level, dag in USERS:
        store.ensure_user(conn, username, email=f"{username}@example.org")
        rights = demo_rights(project, username, level)
        group_id = None
        if dag:  # the DAG is made again if the owner deleted it
            group = project.dag_by_name.get(dag)
            group_id = group.group_id if group else store.save_dag(conn, pid, DAGS[dag], dag)
        store.save_project_user(conn, pid, username, rights, group_id)
        set_user_role(conn, pid, username, None)


def _create(conn) -> int:  # noqa: ANN001 - a SQLAlchemy connection
    project = create_project(conn, DEMO_TITLE, {"purpose": 0}, DICTIONARY, SCHEDULE)
    pid = project.project_id
    ids = {e.unique_event_name: e.event_id for e in project.events}
    store.replace_repeating(
        conn,
        pid,
        [
            (ids["baseline_arm_1"], "adverse_event", ""),
            (ids["baseline_arm_2"], "adverse_event", ""),
        ],
    )
    for unique, label in DAGS.items():
        store.save_dag(conn, pid, label, unique)
    project = store.load_project(conn, pid)
    assert project is not None
    plan = ImportChecker(project).check(_records(random.Random(42)), None)
    import_records(conn, project, [plan], ImportOptions())
    save_reports(conn, pid, [ReportDefinition.from_json(r) for r in REPORTS])
    return pid
