"""Fresh projects for tests: described once (:class:`ProjectSpec`), built once per session as
a *template* project, then copied for every test.

Building a project through the API (design, arms, events, DAGs, roles, users, records) takes
a dozen calls; copying it takes five: Create Project from the template's project XML (its
design, DAGs, roles, reports, surveys, records and files, exported once), Import Users, the
user-role and user-DAG mappings, and a token per user from the admin endpoint. The copy is a
new project with its own id, so tests never see each other's changes and nothing needs to be
reset between them. ``benchmarks/bench_project_fixture.py`` measures it (BENCHMARKS.md).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcap.model.project import METADATA_COLUMNS
from localcap.testing.server import LocalcapServer

#: What a user gets unless ``User.rights`` says otherwise (REDCap's Import Users keys): API
#: export and import, record creation, and on every instrument view-and-edit and full data
#: export (``forms``/``forms_export`` are filled in per instrument; a user's own entries win).
DEFAULT_RIGHTS = {"api_export": 1, "api_import": 1, "record_create": 1}
#: The API's names of the data dictionary's columns, in the order REDCap's web UI writes its
#: CSV (whose header says "Variable / Field Name", "Form Name", ...): the Import Metadata
#: method takes only these.
DICTIONARY_COLUMNS = list(METADATA_COLUMNS)
#: The design of a project described by nothing else: one instrument, one text field.
DEFAULT_FIELDS = [
    {
        "field_name": "record_id",
        "form_name": "form_1",
        "field_type": "text",
        "field_label": "Record ID",
    },
]


@dataclass
class User:
    """A project user. ``rights``: Import Users keys over :data:`DEFAULT_RIGHTS` (e.g.
    ``{"forms_export": {"demographics": 2}}``, ``{"api_import": 0}``); ``role``: the label of
    one of the spec's ``roles``; ``dag``: a DAG's name or unique group name."""

    username: str
    rights: dict[str, Any] = field(default_factory=dict)
    role: str | None = None
    dag: str | None = None


@dataclass
class ProjectSpec:
    """A project for tests. The design comes from ``xml`` (a REDCap project XML, which may
    hold records, files, DAGs, roles, reports and surveys), or ``dictionary`` (a data
    dictionary CSV), or ``fields`` (Import Metadata rows), else a one-field project. The other
    lists are the API's JSON rows for the same methods and are applied in this order: arms,
    events, mappings (formEventMapping), repeating (repeatingFormsEvents), dags (names), roles
    (userRole), users, records. Paths may be relative to the test file."""

    title: str = "localcap test project"
    xml: str | Path | None = None
    dictionary: str | Path | None = None
    fields: list[dict[str, Any]] = field(default_factory=list)
    arms: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    mappings: list[dict[str, Any]] = field(default_factory=list)
    repeating: list[dict[str, Any]] = field(default_factory=list)
    dags: list[str] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    def resolved(self, base: Path) -> ProjectSpec:
        """The spec with ``xml``/``dictionary`` made absolute against ``base``."""
        changes = {}
        for name in ("xml", "dictionary"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_absolute():
                changes[name] = base / value
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """What identifies the template: the description and the files' contents."""
        digest = hashlib.sha256(
            json.dumps(dataclasses.asdict(self), sort_keys=True, default=str).encode()
        )
        for path in (self.xml, self.dictionary):
            if path is not None:
                digest.update(Path(path).read_bytes())
        return digest.hexdigest()


@dataclass
class LocalcapProject:
    """A fresh project: ``url`` (the API endpoint), ``project_id``, ``token`` (the super
    user's, full rights: the project's creator, as in REDCap) and ``tokens`` (one per spec
    user, by username)."""

    server: LocalcapServer
    project_id: int
    token: str
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def call(self, user: str | None = None, **params: Any) -> bytes:
        """Call the API as ``user`` (default: the creator); ``data`` lists are sent as JSON."""
        return self.server.api(self.tokens[user] if user else self.token, **params)

    def json(self, user: str | None = None, **params: Any) -> Any:
        return json.loads(self.call(user, format="json", **params))

    def import_records(self, rows: list[dict[str, Any]], user: str | None = None) -> Any:
        return self.json(user, content="record", action="import", data=rows)

    def upload_file(
        self,
        record: str,
        field: str,
        content: bytes,
        filename: str = "file.txt",
        event: str | None = None,
        repeat_instance: int | None = None,
    ) -> None:
        params: dict[str, Any] = {
            "content": "file",
            "action": "import",
            "record": record,
            "field": field,
        }
        if event:
            params["event"] = event
        if repeat_instance:
            params["repeat_instance"] = repeat_instance
        self.call(files={"file": (filename, content)}, **params)


@dataclass
class Template:
    """What a fresh copy is made from (see the module docstring)."""

    xml: bytes
    users: list[dict[str, Any]]
    role_mapping: list[dict[str, Any]]
    dag_mapping: list[dict[str, Any]]


def _create(server: LocalcapServer, spec: ProjectSpec, odm: bytes | None) -> str:
    info = [{"project_title": spec.title, "purpose": 0, "is_longitudinal": int(bool(spec.events))}]
    params: dict[str, Any] = {"content": "project", "format": "json", "data": info}
    if odm is not None:
        params["odm"] = odm.decode("utf-8")
    return server.api(server.super_token, **params).decode().strip()


def _api_dictionary(text: str) -> str:
    """A data dictionary CSV with the API's column names (the web UI's header replaced)."""
    rows = list(csv.reader(io.StringIO(text)))
    if rows and rows[0] and rows[0][0].strip() != "field_name":
        rows[0] = DICTIONARY_COLUMNS[: len(rows[0])]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _user_row(user: User, forms: list[str]) -> dict[str, Any]:
    """Import Users' row for ``user``: :data:`DEFAULT_RIGHTS` under the user's own."""
    row: dict[str, Any] = {"username": user.username, **DEFAULT_RIGHTS, **user.rights}
    for key in ("forms", "forms_export"):
        row[key] = {**dict.fromkeys(forms, 1), **user.rights.get(key, {})}
    return row


def build_template(server: LocalcapServer, spec: ProjectSpec) -> Template:
    """Build ``spec`` once through the API and keep what copies are made from."""
    xml = Path(spec.xml).read_bytes() if spec.xml is not None else None
    token = _create(server, spec, xml)

    def call(**params: Any) -> Any:
        return json.loads(server.api(token, format="json", **params))

    def load(content: str, rows: list[Any], **params: Any) -> None:
        if rows:
            call(content=content, action="import", data=rows, **params)

    if spec.dictionary is not None:
        server.api(
            token,
            content="metadata",
            action="import",
            format="csv",
            data=_api_dictionary(Path(spec.dictionary).read_text(encoding="utf-8-sig")),
        )
    elif spec.fields or xml is None:
        load("metadata", spec.fields or DEFAULT_FIELDS)
    load("arm", spec.arms)
    load("event", spec.events)
    load("formEventMapping", spec.mappings)
    load("repeatingFormsEvents", spec.repeating)
    load("dag", [{"data_access_group_name": n, "unique_group_name": ""} for n in spec.dags])
    load("userRole", spec.roles)
    forms = [i["instrument_name"] for i in call(content="instrument")]
    load("user", [_user_row(u, forms) for u in spec.users])
    if any(u.role for u in spec.users):
        labels = {r["role_label"]: r["unique_role_name"] for r in call(content="userRole")}
        load(
            "userRoleMapping",
            [
                {"username": u.username, "unique_role_name": labels.get(u.role, u.role)}
                for u in spec.users
                if u.role
            ],
        )
    if any(u.dag for u in spec.users):
        names = {d["data_access_group_name"]: d["unique_group_name"] for d in call(content="dag")}
        load(
            "userDagMapping",
            [
                {"username": u.username, "redcap_data_access_group": names.get(u.dag, u.dag)}
                for u in spec.users
                if u.dag
            ],
        )
    load("record", spec.records)
    exported = server.api(
        token,
        content="project_xml",
        returnMetadataOnly="false",
        exportFiles="true",
        exportSurveyFields="true",
        exportDataAccessGroups="true",
    )
    creator = server.super_user  # the copies' creator anyway
    users = [u for u in call(content="user") if u["username"] != creator]
    return Template(
        xml=exported,
        users=users,
        role_mapping=[m for m in call(content="userRoleMapping") if m.get("unique_role_name")],
        dag_mapping=[
            m for m in call(content="userDagMapping") if m.get("redcap_data_access_group")
        ],
    )


def fresh_project(server: LocalcapServer, spec: ProjectSpec) -> LocalcapProject:
    """A new project equal to ``spec``'s template (built on first use in this session)."""
    key = spec.key()
    template = server.templates.get(key)
    if template is None:
        template = server.templates[key] = build_template(server, spec)
    token = _create(server, spec, template.xml)

    def load(content: str, rows: list[Any]) -> None:
        if rows:
            server.api(token, content=content, action="import", format="json", data=rows)

    load("user", template.users)
    load("userRoleMapping", template.role_mapping)
    load("userDagMapping", template.dag_mapping)
    project_id = int(json.loads(server.api(token, content="project", format="json"))["project_id"])
    usernames = [u["username"] for u in template.users]
    tokens = (
        server.admin("tokens", project_id=project_id, usernames=",".join(usernames))
        if usernames
        else {}
    )
    return LocalcapProject(server, project_id, token, tokens)
