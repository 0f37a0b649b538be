"""No forbidden value, record or file leaks through any method, for any rights level or DAG.

Values carry markers: IDENT (identifier fields), FREETEXT (unvalidated text and notes, removed
under De-Identified), 1901-02-03 (an identifier date), SITEB (records of the other DAG), ROLEONLY
(a File Repository folder limited to a role none of these users is in). Every export method, in
every format, is asked by users of every export level, in and out of a DAG: records (flat and
EAV), reports, project XML, logs, files, PDFs (one record, all records, compact), the survey
participant list and survey links, the File Repository, users and roles. ``roled_all`` has Full
Data Set rights of its own but is in a role that removes identifiers: the role's rights rule.
"""

from __future__ import annotations

import io
import json
import re

import pytest
import requests
from pypdf import PdfReader
from sqlalchemy import select

from builders import Api, clinical_classic, project_id
from localcap.db import schema as t
from localcap.db.tokens import create_project_token
from localcap.db.transactions import read_snapshot
from surveys.survey_helpers import enable_survey

LEVELS = {"full": 1, "deidentified": 2, "no_identifiers": 3, "no_access": 0}
#: The rights every user here has besides the export level: the methods they open are tested.
OTHER_RIGHTS = {
    "api_export": 1,
    "logging": 1,
    "file_repository": 1,
    "manage_survey_participants": 1,
    "forms": "demographics:1,visit:1,adverse_events:1",
}
#: Exports whose content is not governed by the export level (the rest are 403 at No Access).
NOT_DATA = ("log", "repo", "users", "roles", "survey")
FORMS = ("demographics", "visit")


@pytest.fixture(scope="module")
def project(server) -> tuple[Api, dict[str, Api]]:
    api = clinical_classic(server, repeating=False)
    api.import_json(
        "dag",
        [
            {"data_access_group_name": "Site A", "unique_group_name": ""},
            {"data_access_group_name": "Site B", "unique_group_name": ""},
        ],
    )
    rows = []
    for n, site in ((1, "site_a"), (2, "site_a"), (3, "site_b")):
        marker = "SITEB" if site == "site_b" else "SITEA"
        rows.append(
            {
                "record_id": str(n),
                "redcap_data_access_group": site,
                "first_name": f"IDENT{marker}{n}",
                "dob": "1901-02-03",
                "notes": f"FREETEXT{marker}{n}",
                "email": f"ok{marker}{n}@example.org",
                "sex": "1",
                "weight": "70",
            }
        )
    api.json(content="record", action="import", data=rows)
    for n in (1, 3):
        api.ok(
            content="file",
            action="import",
            record=str(n),
            field="scan",
            files={"file": (f"scan{n}.txt", f"FILE{'SITEB' if n == 3 else 'SITEA'}{n}".encode())},
        )
    api.ok(
        content="report",
        action="import",
        format="json",
        data=json.dumps(
            [
                {
                    "title": "everything",
                    "fields": ["record_id", "first_name", "dob", "notes", "email", "sex", "scan"],
                    "output_dags": True,
                }
            ]
        ),
    )
    pid = api.json(content="project")["project_id"]
    enable_survey(api, "demographics")
    repository(api)
    users: dict[str, Api] = {}
    for name, level in LEVELS.items():
        for dag in ("", "site_a"):
            username = f"{name}_{dag or 'all'}"
            row = {"username": username, "data_export": level, "data_access_group": dag}
            api.import_json("user", [{**row, **OTHER_RIGHTS}])
            with api.server.engine.begin() as conn:
                users[username] = Api(api.server, create_project_token(conn, pid, username))
    # A user whose own rights are Full Data Set, in a role that removes identifiers.
    low = {**OTHER_RIGHTS, "data_export": 3, "forms_export": ",".join(f"{f}:3" for f in FORMS)}
    api.import_json("userRole", [{"role_label": "Low", **low}])
    [role] = [
        r["unique_role_name"] for r in api.json(content="userRole") if r["role_label"] == "Low"
    ]
    api.import_json("user", [{"username": "roled_all", "data_export": 1, **OTHER_RIGHTS}])
    api.import_json("userRoleMapping", [{"username": "roled_all", "unique_role_name": role}])
    with api.server.engine.begin() as conn:
        users["roled_all"] = Api(api.server, create_project_token(conn, pid, "roled_all"))
    return api, users


def repository(api: Api) -> None:
    """File Repository: an open file, a folder limited to site_b, one limited to a role."""
    pid = project_id(api)
    rights = {"api_export": 1, "api_import": 1, "file_repository": 1}
    api.import_json("userRole", [{"role_label": "Secret", **rights}])
    [secret] = [r["unique_role_name"] for r in api.json(content="userRole")]
    api.import_json("user", [{"username": "secret_member"}])
    api.import_json("userRoleMapping", [{"username": "secret_member", "unique_role_name": secret}])
    with api.server.engine.begin() as conn:
        member = Api(api.server, create_project_token(conn, pid, "secret_member"))

    def folder(name: str, by: Api = api, **limits: str) -> str:
        return str(
            by.json(content="fileRepository", action="createFolder", name=name, **limits)[0][
                "folder_id"
            ]
        )

    def put(name: str, content: bytes, folder_id: str = "", by: Api = api) -> None:
        by.ok(
            content="fileRepository",
            action="import",
            folder_id=folder_id,
            files={"file": (name, content)},
        )

    with api.server.engine.connect() as conn:  # the API exports DAG and role names only
        group_id = conn.execute(
            select(t.dags.c.group_id).where(
                t.dags.c.project_id == pid, t.dags.c.unique_name == "site_b"
            )
        ).scalar_one()
        role_id = conn.execute(
            select(t.user_roles.c.role_id).where(
                t.user_roles.c.project_id == pid, t.user_roles.c.role_label == "Secret"
            )
        ).scalar_one()
    put("open.txt", b"OPENREPOFILE")
    put("b.txt", b"REPOSITEB", folder("SITEB folder", dag_id=str(group_id)))
    put("r.txt", b"REPOROLEONLY", folder("ROLEONLY", member, role_id=str(role_id)), member)


def exports(user: Api) -> list[tuple[str, int, str]]:
    """(what, status, body) of every export a client can ask for."""
    out = []
    for fmt in ("json", "csv", "xml"):
        r = user.call(content="record", format=fmt, exportDataAccessGroups="true")
        out.append((f"record/{fmt}", r.status_code, r.text))
        r = user.call(content="record", format=fmt, rawOrLabel="label")
        out.append((f"record-label/{fmt}", r.status_code, r.text))
    for what, params in (  # records picked by when they changed, or by a visible value
        ("record-since", {"dateRangeBegin": "2000-01-01 00:00:00"}),
        ("record-until", {"dateRangeEnd": "2999-01-01 00:00:00", "type": "eav"}),
        ("record-filter", {"filterLogic": '[sex] = "1" and [email] <> ""'}),
    ):
        r = user.call(content="record", format="json", exportDataAccessGroups="true", **params)
        out.append((f"{what}/json", r.status_code, r.text))
    for fmt in ("json", "csv", "xml", "odm"):
        r = user.call(content="report", report_id=str(report_of(user)), format=fmt)
        out.append((f"report/{fmt}", r.status_code, r.text))
    r = user.call(
        content="project_xml",
        returnMetadataOnly="false",
        exportFiles="true",
        exportDataAccessGroups="true",
    )
    out.append(("project_xml", r.status_code, r.text))
    r = user.call(content="log", format="json")
    out.append(("log", r.status_code, r.text))
    for record in ("1", "3"):
        r = user.call(content="file", action="export", record=record, field="scan")
        out.append((f"file/{record}", r.status_code, r.content.decode("latin-1")))
    for fmt in ("json", "csv", "xml"):
        r = user.call(content="record", format=fmt, type="eav", exportDataAccessGroups="true")
        out.append((f"record-eav/{fmt}", r.status_code, r.text))
    for what, params in (
        ("pdf/1", {"record": "1"}),
        ("pdf/3", {"record": "3"}),
        ("pdf/all", {"allRecords": "1"}),
        ("pdf/compact", {"allRecords": "1", "compactDisplay": "1"}),
        ("pdf/compact/3", {"record": "3", "compactDisplay": "1"}),
    ):
        out.append((what, *pdf_text(user.call(content="pdf", **params))))
    out.extend(survey_exports(user))
    out.extend(repository_exports(user))
    for content in ("user", "userDagMapping", "dag"):
        r = user.call(content=content, format="json")
        out.append((f"users/{content}", r.status_code, r.text))
    for content in ("userRole", "userRoleMapping"):
        r = user.call(content=content, format="json")
        out.append((f"roles/{content}", r.status_code, r.text))
    return out


def pdf_text(response: requests.Response) -> tuple[int, str]:
    if response.status_code != 200:
        return response.status_code, response.text
    pages = PdfReader(io.BytesIO(response.content)).pages
    return 200, "\n".join(page.extract_text() for page in pages)


def survey_exports(user: Api) -> list[tuple[str, int, str]]:
    out = []
    for fmt in ("json", "csv", "xml"):
        r = user.call(content="participantList", instrument="demographics", format=fmt)
        out.append((f"survey/participantList/{fmt}", r.status_code, r.text))
    for content in ("surveyLink", "surveyAccessCode", "surveyReturnCode"):
        for record in ("1", "3"):
            r = user.call(content=content, instrument="demographics", record=record)
            out.append((f"survey/{content}/{record}", r.status_code, r.text))
    return out


def repository_exports(user: Api) -> list[tuple[str, int, str]]:
    """Every File Repository folder and file on the server asked for: this project's and
    those of the other tests' projects, which share the session's server."""
    with user.server.engine.connect() as conn:
        doc_ids = conn.execute(select(t.repository_files.c.doc_id)).scalars().all()
        folder_ids = conn.execute(select(t.repository_folders.c.folder_id)).scalars().all()
    out = []
    for fmt in ("json", "csv", "xml"):
        r = user.call(content="fileRepository", action="list", format=fmt)
        out.append((f"repo/list/{fmt}", r.status_code, r.text))
    for folder_id in folder_ids:
        r = user.call(content="fileRepository", action="list", format="json", folder_id=folder_id)
        out.append((f"repo/list/{folder_id}", r.status_code, r.text))
    for doc_id in doc_ids:
        r = user.call(content="fileRepository", action="export", doc_id=doc_id)
        out.append((f"repo/file/{doc_id}", r.status_code, r.content.decode("latin-1")))
    return out


_REPORTS: dict[str, int] = {}


def report_of(user: Api) -> int:
    key = user.server.url
    if key not in _REPORTS:
        listing = user.call(content="report", action="list", format="json")
        _REPORTS[key] = listing.json()[0]["report_id"] if listing.status_code == 200 else 0
    return _REPORTS[key]


USERNAMES = [f"{n}_{d}" for n in LEVELS for d in ("all", "site_a")] + ["roled_all"]


@pytest.mark.parametrize("username", USERNAMES)
def test_no_forbidden_value_reaches_any_export(project, username):
    _, users = project
    user = users[username]
    in_dag = username.endswith("_site_a")
    level = username.removesuffix("_site_a" if in_dag else "_all")
    level = "no_identifiers" if level == "roled" else level
    seen = {}
    for what, status, body in exports(user):
        seen[what] = (status, body)
        if what != "log":  # the log names the folder made (REDCap's too); never its files
            assert "ROLEONLY" not in body, (username, what)  # no user here is in that role
        if what.startswith("roles/"):  # User Rights are needed, and no user here has them
            assert status == 403, (what, status, body[:200])
        if level == "no_access" and not what.startswith(NOT_DATA):
            assert status == 403, (what, status, body[:200])
            continue
        assert status < 500, (what, body[:300])
        if what in ("record/json", "record-eav/json", "pdf/all", "record-since/json"):
            # the markers are really there for those allowed to see them
            assert "okSITEA1" in body, (what, body[:300])
            assert ("IDENTSITEA1" in body) == (level == "full"), what
            assert ("SITEB" in body) == (not in_dag), what
        if level in ("deidentified", "no_identifiers"):
            assert "IDENT" not in body, (username, what)
            assert "1901-02-03" not in body, (username, what)
        if level == "deidentified":
            assert "FREETEXT" not in body, (username, what)
        if in_dag:
            assert "SITEB" not in body, (username, what)
            if what.endswith("/3") and not what.startswith("repo"):  # file, pdf, survey
                assert status == 400, (username, what, "another DAG's record must look absent")
    assert "OPENREPOFILE" in "".join(body for _, body in seen.values())
    assert (
        seen["survey/surveyLink/1"][0] == 200 and "/surveys/?s=" in seen["survey/surveyLink/1"][1]
    )
    participants = seen["survey/participantList/json"][1]
    assert ('"record":"3"' in participants.replace(" ", "")) == (not in_dag), participants
    # The token never appears in what the server says about the calls.
    log = user.call(content="log", format="json").text
    assert user.token not in log and user.token.lower() not in log


# -- side channels: filters and sorting on fields the user cannot export -----------------------
#: Fields each export level removes, among those the project's records fill in.
HIDDEN = {
    "full": set(),
    "deidentified": {"first_name", "dob", "notes"},
    "no_identifiers": {"first_name", "dob"},
    "roled": {"first_name", "dob"},
}
#: Questions about record 1's hidden values, each asked true and false: a user who may not
#: export the field must get the same answer to both.
PROBES = {
    "first_name": (
        ('[first_name] = "IDENTSITEA1"', '[first_name] = "IDENTSITEA9"'),
        ('starts_with([first_name], "IDENTSITEA")', 'starts_with([first_name], "B")'),
    ),
    "dob": (('[dob] <= "1941-12-09"', '[dob] > "1941-12-09"'),),
    "notes": (('contains([notes], "FREETEXT")', '[notes] = ""'),),
}


def level_of(username: str) -> str:
    return username.removesuffix("_site_a").removesuffix("_all")


def filtered_exports(user: Api, expression: str) -> list[tuple[str, requests.Response]]:
    """Every export that takes the caller's own filterLogic, in every format."""
    out = []
    for fmt in ("json", "csv", "xml"):
        for record_type in ("flat", "eav"):
            r = user.call(content="record", format=fmt, type=record_type, filterLogic=expression)
            out.append((f"record-{record_type}/{fmt}", r))
    r = user.call(content="project_xml", returnMetadataOnly="false", filterLogic=expression)
    out.append(("project_xml", r))
    return out


@pytest.mark.parametrize("username", [u for u in USERNAMES if not u.startswith("no_access")])
def test_a_filter_cannot_ask_about_values_the_user_cannot_export(project, username):
    """Export Records (flat and EAV, every format) and Export Project XML refuse the caller's
    own filterLogic when it reads a field the caller cannot export: 400 naming the field, the
    same body whether the question's answer is yes or no, or whether any data exist."""
    _, users = project
    user = users[username]
    hidden = HIDDEN[level_of(username)]
    for name, pairs in PROBES.items():
        for yes, no in pairs:
            answers = {}
            for expression in (yes, no, f'[sex] = "1" and ({yes})'):
                for what, response in filtered_exports(user, expression):
                    answers.setdefault(what, []).append(response)
            for what, (a, b, mixed) in answers.items():
                if name in hidden:
                    assert a.status_code == b.status_code == mixed.status_code == 400, (
                        what,
                        a.text,
                    )
                    assert a.text == b.text == mixed.text, (username, what, yes)
                    assert name in a.text and "export rights" in a.text, a.text
                    assert "IDENT" not in a.text and "SITEA1" not in a.text
                    if what.endswith("/json"):
                        assert "export rights" in a.json()["error"]
                    elif what.endswith("/csv"):
                        assert not a.text.lstrip().startswith(("{", "<")), a.text
                    else:
                        assert "<error>" in a.text, a.text
                else:  # the same questions really would tell: the probes are not blind
                    assert a.status_code == b.status_code == 200, (what, a.text[:200])
                    if what != "project_xml":
                        assert a.text != b.text, (what, yes)
    # Fields the user may export still filter.
    for what, response in filtered_exports(user, '[email] = "okSITEA1@example.org"'):
        assert response.status_code == 200, (what, response.text[:200])
        assert "okSITEA1" in response.text, what


def report_ids(api: Api) -> dict[str, int]:
    return {r["title"]: r["report_id"] for r in api.json(content="report", action="list")}


@pytest.fixture(scope="module")
def side_reports(project) -> dict[str, int]:
    """Reports the project's designer made: sorted and filtered on identifiers."""
    api, _ = project
    definitions = [
        {
            "title": "by name",
            "fields": ["record_id", "sex", "email"],
            "order_by": [
                {"field": "first_name", "direction": "DESC"},
                {"field": "email", "direction": "ASC"},
            ],
        },
        {
            "title": "by dob then email",
            "fields": ["record_id", "email"],
            "order_by": [
                {"field": "dob", "direction": "ASC"},
                {"field": "email", "direction": "DESC"},
            ],
        },
        {
            "title": "site a names",
            "fields": ["record_id", "email"],
            "filter_logic": 'starts_with([first_name], "IDENTSITEA")',
        },
    ]
    api.ok(content="report", action="import", format="json", data=json.dumps(definitions))
    return report_ids(api)


@pytest.mark.parametrize("username", [u for u in USERNAMES if not u.startswith("no_access")])
def test_a_report_sorted_on_a_hidden_field_does_not_rank_the_hidden_values(
    project, side_reports, username
):
    """A sort key on a field the user cannot export is skipped for that user: the rows keep
    their default order (then the keys the user may see), so the order ranks no hidden
    value. A filter someone else wrote is REDCap's: it applies (docs/RIGHTS.md)."""
    _, users = project
    user = users[username]
    hidden = HIDDEN[level_of(username)]
    in_dag = username.endswith("_site_a")
    ids = ["1", "2"] if in_dag else ["1", "2", "3"]
    for fmt in ("json", "csv", "xml", "odm"):
        by_name = user.call(content="report", report_id=side_reports["by name"], format=fmt)
        assert by_name.status_code == 200, by_name.text
        order = [i for i in order_in(by_name.text, ids)]
        expected = ids if "first_name" in hidden else sorted(ids, reverse=True)
        assert order == expected, (username, fmt, order)
        assert "IDENT" not in by_name.text or "first_name" not in hidden
    by_dob = user.json(content="report", report_id=side_reports["by dob then email"])
    # Every dob is the same: the tie is broken by email DESC for everyone.
    assert [r["record_id"] for r in by_dob] == sorted(ids, reverse=True)
    filtered = user.json(content="report", report_id=side_reports["site a names"])
    assert [r["record_id"] for r in filtered] == ["1", "2"]
    assert all(set(r) == {"record_id", "email"} for r in filtered)


def order_in(body: str, ids: list[str]) -> list[str]:
    """The record ids in the order they first appear as a row key in any format's body."""
    marks = {i: body.find(f"okSITE{'B' if i == '3' else 'A'}{i}@") for i in ids}
    return sorted(ids, key=lambda i: marks[i])


def test_a_report_a_user_defines_may_not_filter_or_sort_on_what_the_user_cannot_export(project):
    """Defining a report is writing one's own filter: the same rule as filterLogic."""
    api, _ = project
    pid = project_id(api)
    rights = {**OTHER_RIGHTS, "api_import": 1, "design": 1}
    api.import_json("user", [{"username": "deid_designer", "data_export": 2, **rights}])
    api.import_json("user", [{"username": "full_designer", "data_export": 1, **rights}])
    with api.server.engine.begin() as conn:
        deid = Api(api.server, create_project_token(conn, pid, "deid_designer"))
        full = Api(api.server, create_project_token(conn, pid, "full_designer"))
    before = api.json(content="report", action="list")
    for definition in (
        {"filter_logic": '[dob] <= "1941-12-09"'},
        {"filter_logic": '[dob] > "1941-12-09"'},
        {"filter_logic": '[sex] = "1" or [notes] <> ""'},
        {"order_by": [{"field": "first_name", "direction": "ASC"}]},
        {"order_by": [{"field": "sex", "direction": "ASC"}, "dob"]},
    ):
        data = {"title": "probe", "fields": ["record_id", "sex"], **definition}
        for fmt in ("json", "csv", "xml"):
            response = deid.call(
                content="report",
                action="import",
                format="json",
                returnFormat=fmt,
                data=json.dumps(data),
            )
            assert response.status_code == 400, response.text
            assert "export rights" in response.text and "probe" in response.text
            assert any(n in response.text for n in ("dob", "first_name", "notes"))
        assert (
            full.call(
                content="report", action="import", format="json", data=json.dumps(data)
            ).status_code
            == 200
        )
    listed = [r for r in api.json(content="report", action="list") if r["title"] == "probe"]
    assert len(listed) == 5  # the full user's, none of the de-identified user's
    assert len(api.json(content="report", action="list")) == len(before) + 5
    ok = {
        "title": "mine",
        "fields": ["record_id", "sex"],
        "filter_logic": '[email] <> ""',
        "order_by": [{"field": "sex", "direction": "DESC"}],
    }
    assert (
        deid.call(content="report", action="import", format="json", data=json.dumps(ok)).status_code
        == 200
    )


def same_answer(body: bytes) -> bytes:
    """The body with the two record names asked about and the time of the export set aside."""
    body = re.sub(rb"\d{4}-\d\d-\d\d[ T_]?\d\d:?\d\d(:\d\d)?", b"<time>", body)
    return re.sub(rb"(?<![\w.-])(3|99)(?![\w.-])", b"<record>", body)


def per_record_answers(user: Api, record: str) -> list[tuple[str, requests.Response]]:
    """Every export that names one record."""
    out = [
        ("record", user.call(content="record", format="json", **{"records[0]": record})),
        ("record-eav", user.call(content="record", format="csv", type="eav", records=record)),
        ("file", user.call(content="file", action="export", record=record, field="scan")),
        ("pdf", user.call(content="pdf", record=record)),
        ("pdf-compact", user.call(content="pdf", record=record, compactDisplay="1")),
        ("log", user.call(content="log", format="json", record=record)),
        ("xml", user.call(content="project_xml", returnMetadataOnly="false", records=record)),
        ("queue", user.call(content="surveyQueueLink", record=record, format="json")),
        ("signature", user.call(content="file", action="export", record=record, field="signature")),
    ]
    for content in ("surveyLink", "surveyAccessCode", "surveyReturnCode"):
        r = user.call(content=content, instrument="demographics", record=record, format="json")
        out.append((content, r))
    return out


@pytest.mark.parametrize("username", [u for u in USERNAMES if u.endswith("_site_a")])
def test_another_dags_record_looks_exactly_like_one_that_does_not_exist(project, username):
    """Record 3 (site_b) and record 99 (nowhere) get the same answer, byte for byte once the
    record name is set aside, on every method that names a record: a DAG's user cannot even
    tell that the other DAG's record exists."""
    _, users = project
    user = users[username]
    there = per_record_answers(user, "3")
    absent = per_record_answers(user, "99")
    for (what, a), (_, b) in zip(there, absent, strict=True):
        assert a.status_code == b.status_code, (what, a.text[:200], b.text[:200])
        if what.startswith("pdf") and a.status_code == 200:
            continue  # never the case: a PDF of a record the user cannot see is a 400
        assert same_answer(a.content) == same_answer(b.content), (what, a.text[:300])


def test_the_log_never_shows_a_filter_to_a_reader_who_may_not_see_what_it_asks(project):
    """A filter is written in values (``[first_name] = "Jane Doe"``): the log keeps only its
    size, so a reader with the Logging right and fewer export rights never reads it."""
    api, users = project
    secret = 'starts_with([first_name], "IDENTLOGPROBE") or [dob] = "1899-12-30"'
    users["full_all"].ok(content="record", format="json", filterLogic=secret)
    users["full_all"].ok(content="project_xml", filterLogic=secret)
    for username in USERNAMES:
        for fmt in ("json", "csv", "xml"):
            log = users[username].call(content="log", format=fmt)
            assert log.status_code == 200, log.text
            assert "IDENTLOGPROBE" not in log.text and "1899-12-30" not in log.text, username
    with read_snapshot(api.server.engine) as conn:
        stored = [
            json.loads(row.params)
            for row in conn.execute(select(t.audit_log).where(t.audit_log.c.username == "full_all"))
        ]
    kept = [p.get("filterLogic") for p in stored if p and "filterLogic" in p]
    assert kept == [f"<{len(secret)} characters>"] * 2  # both calls logged, the filter as a size
