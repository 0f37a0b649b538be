"""Concurrent writers never lose, merge or refuse each other's writes (issue 14, items 1-3).

Each test starts four clients together (a barrier) against the real server, as the issue
reproduced them, and then checks every write each client was told succeeded.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from builders import (
    CLINICAL_DICTIONARY,
    Api,
    clinical_classic,
    create_project,
    project_id,
    user_api,
)
from localcap.db.projects import (
    bump_design,
    delete_dags,
    load_project,
    replace_arms,
    replace_event_forms,
    replace_metadata,
    save_dag,
    save_events,
)
from localcap.db.roles import set_switch_dags
from localcap.db.tokens import create_project_token
from localcap.db.transactions import lock_timeout, set_lock_timeout, write_transaction
from localcap.model.project import Arm, Event

CLIENTS = 4


def run_together(clients: int, work: Callable[[int, requests.Session], Any]) -> list[Any]:
    """Run ``work(client_number, session)`` in ``clients`` threads released at once."""
    barrier = threading.Barrier(clients)

    def client(n: int) -> Any:
        with requests.Session() as session:
            barrier.wait()
            return work(n, session)

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(client, range(clients)))


def post(api: Api, session: requests.Session, **params: Any) -> requests.Response:
    return session.post(api.url, data={"token": api.token, **params}, timeout=120)


def import_rows(api: Api, session: requests.Session, rows: list[dict[str, str]], **params: Any):
    return post(api, session, content="record", format="json", data=json.dumps(rows), **params)


def export(api: Api) -> list[dict[str, str]]:
    return api.json(content="record")


def test_concurrent_updates_of_one_row_keep_every_field(server):
    """Item 1: four clients set a different field on the same row of records 1-24."""
    api = clinical_classic(server, repeating=False)
    records = [str(r) for r in range(1, 25)]
    api.ok(content="record", format="json", data=json.dumps([{"record_id": r} for r in records]))
    fields = ("first_name", "notes", "email", "weight")

    def value(client: int, record: str) -> str:
        return f"{record}.{client}@x.org" if fields[client] == "email" else f"{record}{client}"

    def work(client: int, session: requests.Session) -> list[int]:
        name = fields[client]
        return [
            import_rows(api, session, [{"record_id": r, name: value(client, r)}]).status_code
            for r in records
        ]

    statuses = [s for per_client in run_together(CLIENTS, work) for s in per_client]
    assert statuses == [200] * (CLIENTS * len(records))
    stored = {row["record_id"]: row for row in export(api)}
    lost = [
        (r, fields[c])
        for r in records
        for c in range(CLIENTS)
        if stored[r][fields[c]] != value(c, r)
    ]
    assert lost == [], f"{len(lost)} of {CLIENTS * len(records)} acknowledged updates lost"


def test_force_auto_number_gives_every_import_its_own_record(server):
    """Item 2: 4 clients x 30 auto-numbered imports; each is told a name no one else got and
    that record holds its payload alone."""
    api = clinical_classic(server, repeating=False)
    per_client = 30

    def work(client: int, session: requests.Session) -> list[tuple[int, str, str]]:
        told = []
        for i in range(per_client):
            payload = f"client{client}-import{i}"
            response = import_rows(
                api,
                session,
                [{"record_id": "temp", "notes": payload}],
                forceAutoNumber="true",
                returnContent="auto_ids",
            )
            told.append((response.status_code, response.text, payload))
        return told

    told = [t for per in run_together(CLIENTS, work) for t in per]
    assert [status for status, _, _ in told] == [200] * len(told), told
    names = {}
    for _, body, payload in told:
        [pair] = json.loads(body)
        new_name, old_name = pair.split(",")
        assert old_name == "temp"
        assert new_name not in names, f"{new_name} was given to {names[new_name]} and {payload}"
        names[new_name] = payload
    stored = {row["record_id"]: row for row in export(api)}
    assert set(stored) == set(names)
    assert {r: stored[r]["notes"] for r in names} == names


def test_creating_the_same_new_record_together_is_never_a_500(server):
    """Item 3: four clients create the same 30 new records, each with its own field."""
    api = clinical_classic(server, repeating=False)
    records = [f"n{i}" for i in range(30)]
    fields = ("first_name", "notes", "email", "ae_term")

    def value(client: int, record: str) -> str:
        return f"{record}@x.org" if fields[client] == "email" else f"{record}{client}"

    def work(client: int, session: requests.Session) -> list[tuple[int, str]]:
        out = []
        for r in records:
            response = import_rows(
                api, session, [{"record_id": r, fields[client]: value(client, r)}]
            )
            out.append((response.status_code, response.text))
        return out

    answers = [a for per in run_together(CLIENTS, work) for a in per]
    assert [a for a in answers if a[0] != 200] == []
    stored = {row["record_id"]: row for row in export(api)}
    assert set(stored) == set(records)
    for r in records:
        assert [stored[r][f] for f in fields] == [value(c, r) for c in range(CLIENTS)]


def test_new_repeat_instances_from_four_clients_each_get_their_own(server):
    """Item 3: ``redcap_repeat_instance=new`` on one record from four clients at once."""
    api = clinical_classic(server, repeating=True)
    api.ok(content="record", format="json", data=json.dumps([{"record_id": "1"}]))
    per_client = 30

    def work(client: int, session: requests.Session) -> list[tuple[int, str]]:
        out = []
        for i in range(per_client):
            row = {
                "record_id": "1",
                "redcap_repeat_instrument": "adverse_events",
                "redcap_repeat_instance": "new",
                "ae_term": f"c{client}-{i}",
            }
            response = import_rows(api, session, [row])
            out.append((response.status_code, response.text))
        return out

    answers = [a for per in run_together(CLIENTS, work) for a in per]
    assert [a for a in answers if a[0] != 200] == []
    instances = [r for r in export(api) if r["redcap_repeat_instrument"] == "adverse_events"]
    terms = sorted(r["ae_term"] for r in instances)
    expected = sorted(f"c{c}-{i}" for c in range(CLIENTS) for i in range(per_client))
    assert terms == expected
    assert sorted(int(r["redcap_repeat_instance"]) for r in instances) == list(
        range(1, CLIENTS * per_client + 1)
    )


def test_the_same_explicit_new_instance_from_four_clients_merges(server):
    """Item 3: four clients write instance k of one record (each its own field) together."""
    api = clinical_classic(server, repeating=True)
    api.ok(content="record", format="json", data=json.dumps([{"record_id": "1"}]))
    instances = range(1, 31)
    fields = ("ae_term", "ae_grade", "adverse_events_complete", "ae_term")

    def work(client: int, session: requests.Session) -> list[tuple[int, str]]:
        out = []
        for k in instances:
            name = fields[client]
            value = {"ae_term": f"t{k}", "ae_grade": "2", "adverse_events_complete": "1"}[name]
            row = {
                "record_id": "1",
                "redcap_repeat_instrument": "adverse_events",
                "redcap_repeat_instance": str(k),
                name: value,
            }
            response = import_rows(api, session, [row])
            out.append((response.status_code, response.text))
        return out

    answers = [a for per in run_together(CLIENTS, work) for a in per]
    assert [a for a in answers if a[0] != 200] == []
    stored = {
        int(r["redcap_repeat_instance"]): r
        for r in export(api)
        if r["redcap_repeat_instrument"] == "adverse_events"
    }
    assert sorted(stored) == list(instances)
    for k in instances:
        assert (stored[k]["ae_term"], stored[k]["ae_grade"]) == (f"t{k}", "2")
        assert stored[k]["adverse_events_complete"] == "1"


def test_one_new_user_imported_into_two_projects_at_once(server):
    """Users are server-wide: two projects' imports (each under its own project's lock) may
    create the same new user at the same moment; neither may fail."""
    projects = [clinical_classic(server, repeating=False) for _ in range(2)]
    names = [f"shared_user_{server.backend}_{i}" for i in range(30)]
    each_name = threading.Barrier(CLIENTS)  # all clients import each name at the same moment

    def work(client: int, session: requests.Session) -> list[tuple[int, str]]:
        api = projects[client % 2]
        out = []
        for name in names:
            each_name.wait()
            row = {"username": name, "email": f"{name}@x.org", "api_export": 1}
            response = post(api, session, content="user", format="json", data=json.dumps([row]))
            out.append((response.status_code, response.text))
        return out

    answers = [a for per in run_together(CLIENTS, work) for a in per]
    assert [a for a in answers if a[0] != 200] == []
    for api in projects:
        assert set(names) <= {u["username"] for u in api.json(content="user")}


def call_while_locked(
    api: Api, change: Callable[[Any, int], None], **params: Any
) -> requests.Response:
    """``api.call(**params)`` sent while this test holds the project's write lock; ``change``
    (given the connection and the project id) is committed under that lock while the call
    waits for it. The call's answer."""
    pid = project_id(api)
    answers: list[requests.Response] = []
    with write_transaction(api.server.engine, pid) as conn:
        caller = threading.Thread(target=lambda: answers.append(api.call(**params)))
        caller.start()
        time.sleep(1.5)  # the call now waits for the lock this test holds
        assert not answers
        change(conn, pid)
    caller.join(timeout=60)
    [response] = answers
    return response


def test_an_import_waiting_for_the_lock_is_checked_against_the_design_it_lands_in(server):
    """A design change committed while an import waits for the project's lock: the import is
    checked again against the new design (here the field it sets is gone: a 400, nothing
    written), never written against the design it was first checked with."""
    api = clinical_classic(server, repeating=False)

    def drop_notes(conn: Any, pid: int) -> None:
        project = load_project(conn, pid)
        replace_metadata(conn, project, [f for f in project.fields if f.field_name != "notes"])

    response = call_while_locked(
        api,
        drop_notes,
        content="record",
        format="json",
        data=json.dumps([{"record_id": "1", "notes": "written blind"}]),
    )
    assert response.status_code == 400, response.text
    assert "notes" in response.json()["error"]
    assert api.json(content="record") == []


def test_a_report_import_waiting_for_the_lock_is_checked_against_the_identifiers_it_lands_in(
    server,
):
    """A De-Identified designer's report filters on a field that is no identifier when it is
    sent, and becomes one while the import waits for the project's lock: checked again under
    the lock, the report is refused (400 naming the field, nothing saved), as it would be if
    sent afterwards; saved, it would let that user bisect the new identifier's values."""
    api = clinical_classic(server, repeating=False)
    pid = project_id(api)
    rights = {"api_export": 1, "api_import": 1, "design": 1, "forms": "demographics:1,visit:1"}
    api.import_json("user", [{"username": "deid_designer", "data_export": 2, **rights}])
    with server.engine.begin() as conn:
        designer = Api(server, create_project_token(conn, pid, "deid_designer"))
    report = {"title": "by email", "fields": ["record_id"], "filter_logic": '[email] <> ""'}

    def flag_email(conn: Any, pid: int) -> None:
        project = load_project(conn, pid)
        replace_metadata(
            conn,
            project,
            [
                dataclasses.replace(f, identifier="y") if f.field_name == "email" else f
                for f in project.fields
            ],
        )

    response = call_while_locked(
        designer,
        flag_email,
        content="report",
        action="import",
        format="json",
        data=json.dumps(report),
    )
    assert response.status_code == 400, response.text
    assert "email" in response.json()["error"]
    assert api.json(content="report", action="list") == []


def test_a_dag_import_waiting_for_the_lock_names_its_dag_against_the_dags_it_lands_in(server):
    """A DAG "Site A" created while a second import of "Site A" waits for the project's lock:
    the waiting import picks its unique name among the DAGs as of the lock and creates a
    second DAG, as the same two imports one after the other do, rather than renaming the
    DAG created meanwhile under the unique name it chose before."""
    api = clinical_classic(server, repeating=False)

    def add_site_a(conn: Any, pid: int) -> None:
        save_dag(conn, pid, "Site A", "site_a")
        bump_design(conn, pid)

    response = call_while_locked(
        api,
        add_site_a,
        content="dag",
        action="import",
        format="json",
        data=json.dumps([{"data_access_group_name": "Site A"}]),
    )
    assert response.status_code == 200, response.text
    dags = api.json(content="dag")
    assert sorted(d["data_access_group_name"] for d in dags) == ["Site A", "Site A"]
    assert len({d["unique_group_name"] for d in dags}) == 2


def test_an_event_import_waiting_for_the_lock_sees_the_events_added_meanwhile(server):
    """A project without events gets one (designated for one instrument) while an event
    import waits for the lock: the waiting import finds events as of the lock, so it adds its
    event without giving the first event every instrument (the rule for a project that had
    no events) and the designation made meanwhile stays as it was."""
    api = create_project(server, longitudinal=True)
    api.import_json("metadata", CLINICAL_DICTIONARY)
    api.ok(content="event", action="delete", **{"events[0]": "event_1_arm_1"})

    def add_baseline(conn: Any, pid: int) -> None:
        save_events(conn, pid, [Event(0, 1, "Baseline", "baseline_arm_1")], override=False)
        [baseline] = load_project(conn, pid).events
        replace_event_forms(conn, pid, [(baseline.event_id, "demographics")], {1})

    response = call_while_locked(
        api,
        add_baseline,
        content="event",
        action="import",
        format="json",
        data=json.dumps([{"event_name": "Follow up", "arm_num": 1}]),
    )
    assert response.status_code == 200, response.text
    assert api.json(content="formEventMapping") == [
        {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "demographics"}
    ]


def dags_of(api: Api) -> dict[str, int]:
    return {d["unique_group_name"]: d["data_access_group_id"] for d in api.json(content="dag")}


def with_dags(server, *names: str) -> Api:
    api = clinical_classic(server, repeating=False)
    rows = [{"data_access_group_name": n, "unique_group_name": ""} for n in names]
    api.import_json("dag", rows)
    return api


def test_a_mapping_import_waiting_for_the_lock_replaces_the_mapping_as_of_the_lock(server):
    """An arm (with an event and its instruments) added while a formEventMapping import waits:
    the import replaces the whole mapping as of the lock, every arm's, as the same two calls
    one after the other do; not only the arms there were when it was sent."""
    api = create_project(server, longitudinal=True)
    api.import_json("metadata", CLINICAL_DICTIONARY)
    row = {"arm_num": 1, "unique_event_name": "event_1_arm_1", "form": "visit"}

    def add_arm_2(conn: Any, pid: int) -> None:
        replace_arms(conn, pid, [Arm(2, "Arm 2")], override=False)
        save_events(conn, pid, [Event(0, 2, "Baseline", "baseline_arm_2")], override=False)
        [event] = [e for e in load_project(conn, pid).events if e.arm_num == 2]
        replace_event_forms(conn, pid, [(event.event_id, "demographics")], {2})

    response = call_while_locked(
        api,
        add_arm_2,
        content="formEventMapping",
        action="import",
        format="json",
        data=json.dumps([row]),
    )
    assert response.status_code == 200, response.text
    assert api.json(content="formEventMapping") == [row]


def test_a_dag_delete_waiting_for_the_lock_finds_its_dag_by_the_names_as_of_the_lock(server):
    """DAG site_a renamed (now site_z) while a delete of ``site_a`` waits: the delete finds
    no DAG site_a (400, nothing deleted), rather than deleting the DAG now called site_z."""
    api = with_dags(server, "Site A")

    def rename(conn: Any, pid: int) -> None:
        save_dag(conn, pid, "Site Z", "site_a", "site_z")
        bump_design(conn, pid)

    response = call_while_locked(
        api, rename, content="dag", action="delete", **{"dags[0]": "site_a"}
    )
    assert response.status_code == 400, response.text
    assert "site_a" in response.text
    assert list(dags_of(api)) == ["site_z"]


def test_a_user_dag_import_waiting_for_the_lock_is_checked_against_the_dags_as_of_it(server):
    """The DAG a userDagMapping import assigns is deleted while it waits: a 400 naming it,
    nothing changed, as the two calls one after the other give; never a user in a DAG that
    no longer exists."""
    api = with_dags(server, "Site A")
    user_api(api, "alice")
    site_a = dags_of(api)["site_a"]
    rows = [{"username": "alice", "redcap_data_access_group": "site_a"}]
    response = call_while_locked(
        api,
        lambda conn, pid: delete_dags(conn, pid, [site_a]),
        content="userDagMapping",
        action="import",
        format="json",
        data=json.dumps(rows),
    )
    assert response.status_code == 400, response.text
    assert "site_a" in response.json()["error"]
    mapping = api.json(content="userDagMapping")
    assert {"username": "alice", "redcap_data_access_group": ""} in mapping


def test_a_dag_switch_waiting_for_the_lock_names_its_dag_as_of_the_lock(server):
    """site_b renamed (now site_c) while its user's switch to ``site_b`` waits: no DAG is
    called site_b any more (400), and the user stays where they were."""
    api = with_dags(server, "Site A", "Site B")
    dags = dags_of(api)
    blind = user_api(api, "blind")
    with server.engine.begin() as conn:
        set_switch_dags(conn, project_id(api), "blind", [dags["site_a"], dags["site_b"]])

    def rename(conn: Any, pid: int) -> None:
        save_dag(conn, pid, "Site C", "site_b", "site_c")
        bump_design(conn, pid)

    response = call_while_locked(
        blind, rename, content="dag", action="switch", dag="site_b", format="json"
    )
    assert response.status_code == 400, response.text
    assert "does not exist" in response.json()["error"]
    assert {"username": "blind", "redcap_data_access_group": ""} in api.json(
        content="userDagMapping"
    )


def test_a_role_mapping_import_waiting_for_the_lock_is_checked_against_the_dags_as_of_it(server):
    """userRoleMapping's DAG is deleted while the import waits: 400, the user stays out of
    any DAG."""
    api = with_dags(server, "Site A")
    user_api(api, "alice")
    site_a = dags_of(api)["site_a"]
    rows = [{"username": "alice", "unique_role_name": "", "data_access_group": "site_a"}]
    response = call_while_locked(
        api,
        lambda conn, pid: delete_dags(conn, pid, [site_a]),
        content="userRoleMapping",
        action="import",
        format="json",
        data=json.dumps(rows),
    )
    assert response.status_code == 400, response.text
    assert "site_a" in response.json()["error"]
    assert {"username": "alice", "redcap_data_access_group": ""} in api.json(
        content="userDagMapping"
    )


def test_a_folder_created_while_its_dag_is_deleted_is_refused(server):
    """The DAG a new File Repository folder is limited to is deleted while the call waits:
    400 and no folder, never a folder limited to a DAG that no longer exists (open to all)."""
    api = with_dags(server, "Site A")
    site_a = dags_of(api)["site_a"]
    response = call_while_locked(
        api,
        lambda conn, pid: delete_dags(conn, pid, [site_a]),
        content="fileRepository",
        action="createFolder",
        format="json",
        name="Site A only",
        dag_id=str(site_a),
    )
    assert response.status_code == 400, response.text
    assert "dag_id" in response.json()["error"]
    assert api.json(content="fileRepository", action="list") == []


def test_a_write_that_waits_too_long_for_the_lock_is_a_503_and_writes_nothing(server):
    """Another write holds the project's lock beyond the bound (1 s here; 30 s by default):
    the waiting import is answered 503 with Retry-After and REDCap's error shape in the
    requested format, nothing of it is written, and the next call succeeds."""
    api = clinical_classic(server, repeating=False)
    pid = project_id(api)
    before = lock_timeout(server.engine)
    set_lock_timeout(server.engine, 1.0)
    rows = json.dumps([{"record_id": "1", "notes": "waited"}])
    answers: dict[str, requests.Response] = {}
    try:
        with write_transaction(server.engine, pid):
            callers = [
                threading.Thread(
                    target=lambda fmt=fmt: answers.__setitem__(
                        fmt,
                        api.call(content="record", format="json", data=rows, returnFormat=fmt),
                    )
                )
                for fmt in ("json", "xml")
            ]
            for caller in callers:
                caller.start()
            started = time.monotonic()
            while len(answers) < 2 and time.monotonic() - started < 20:
                time.sleep(0.1)
            waited = time.monotonic() - started
        for caller in callers:
            caller.join(timeout=60)
    finally:
        set_lock_timeout(server.engine, before)
    assert waited < 10, f"answered after {waited:.1f} s"
    for fmt, response in answers.items():
        assert response.status_code == 503, (fmt, response.text)
        assert response.headers["Retry-After"].isdigit()
        assert "busy with another write; try again" in response.text
    assert "error" in answers["json"].json()
    assert answers["xml"].text.lstrip().startswith("<?xml")
    assert api.json(content="record") == []
    assert api.ok(content="record", format="json", data=rows).json() == {"count": 1}
