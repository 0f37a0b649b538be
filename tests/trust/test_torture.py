"""Concurrency torture test (issue 14's acceptance): many clients at once, nothing lost.

Eight clients start together and each sends a random mix of requests to one project:
updates of shared records, new records, auto-numbered records, new repeat instances, deletes
of their own records and exports. Every client keeps a log of what it was told. Afterwards,
and in every export while it runs:

- every acknowledged write is there exactly as written (each client owns a field of every
  shared record, so its last acknowledged value must be the stored one; its records and
  repeat instances must all be there, its deleted records gone);
- every auto-numbered record holds its own import's payload and nothing else;
- no request failed (no 5xx, no refusal: every request sent is valid);
- every export saw one consistent state: two records at the two ends of the export order
  ("0pair" sorts first, "zzpair" last, with more than one export batch of records between
  them once the run is under way) are always written together with one value, and each
  shared record's two fields ``pa``/``pb`` likewise; an export also sees every write its own
  client had been told of before it started.

``LOCALCAP_TORTURE_OPS`` sets the requests per client (default 300: 2,400 per backend).
The test prints its figures (requests, 5xx, lost writes, torn exports) for RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from builders import Api, create_project
from builders import field as dictionary_field

CLIENTS = 8
OPS = int(os.environ.get("LOCALCAP_TORTURE_OPS", "300"))
SHARED = [f"s{i:02d}" for i in range(12)]
PAIR = ("0pair", "zzpair")

DICTIONARY = [
    dictionary_field("record_id", "main"),
    *(dictionary_field(f"c{i}", "main") for i in range(CLIENTS)),
    dictionary_field("pa", "main"),
    dictionary_field("pb", "main"),
    dictionary_field("x", "main"),
    dictionary_field("owner", "payload"),
    dictionary_field("seq", "payload"),
    dictionary_field("tag", "payload"),
    dictionary_field("log_tag", "log"),
]


@dataclass
class Client:
    """What one client sent and was told."""

    n: int
    api: Api
    rng: random.Random
    session: requests.Session = field(default_factory=requests.Session)
    seq: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    #: shared record -> the last value of this client's field it was told was saved
    shared: dict[str, str] = field(default_factory=dict)
    #: explicitly named records this client created and has not deleted -> their tag
    mine: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    #: auto-numbered record name -> the tag of the import it was told made it
    auto: dict[str, str] = field(default_factory=dict)
    #: repeat-instance tags saved on shared records
    logs: list[tuple[str, str]] = field(default_factory=list)
    #: problems seen in exports (torn reads, missing acknowledged writes)
    export_problems: list[str] = field(default_factory=list)
    exports: int = 0
    bad_exports: int = 0

    def post(self, **params: Any) -> requests.Response | None:
        self.requests += 1
        response = self.session.post(
            self.api.url, data={"token": self.api.token, **params}, timeout=300
        )
        if response.status_code != 200:
            self.failures.append(f"{response.status_code}: {response.text[:200]}")
            return None
        return response

    def import_rows(self, rows: list[dict[str, str]], **params: Any) -> requests.Response | None:
        return self.post(content="record", format="json", data=json.dumps(rows), **params)

    def next_tag(self) -> str:
        self.seq += 1
        return f"c{self.n}-{self.seq}"

    # -- the operations ----------------------------------------------------------------------
    def update_shared(self) -> None:
        record, tag = self.rng.choice(SHARED), self.next_tag()
        row = {"record_id": record, f"c{self.n}": tag, "pa": tag, "pb": tag}
        if self.import_rows([row]) is not None:
            self.shared[record] = tag

    def update_pair(self) -> None:
        tag = self.next_tag()
        self.import_rows([{"record_id": r, "x": tag} for r in PAIR])

    def new_record(self) -> None:
        tag = self.next_tag()
        record = f"{tag}-rec"
        row = {"record_id": record, "owner": str(self.n), "seq": str(self.seq), "tag": tag}
        if self.import_rows([row]) is not None:
            self.mine[record] = tag

    def auto_number(self) -> None:
        tag = f"{self.next_tag()}-{uuid.uuid4().hex[:8]}"
        row = {"record_id": "new", "owner": str(self.n), "seq": str(self.seq), "tag": tag}
        response = self.import_rows([row], forceAutoNumber="true", returnContent="auto_ids")
        if response is not None:
            [pair] = response.json()
            name = pair.split(",")[0]
            if name in self.auto:
                self.failures.append(f"told {name} twice")
            self.auto[name] = tag

    def new_instance(self) -> None:
        record, tag = self.rng.choice(SHARED), self.next_tag()
        row = {
            "record_id": record,
            "redcap_repeat_instrument": "log",
            "redcap_repeat_instance": "new",
            "log_tag": tag,
        }
        if self.import_rows([row]) is not None:
            self.logs.append((record, tag))

    def delete(self) -> None:
        if not self.mine:
            return self.new_record()
        record = self.rng.choice(sorted(self.mine))
        if self.post(content="record", action="delete", **{"records[0]": record}) is not None:
            del self.mine[record]
            self.deleted.add(record)

    def export(self) -> None:
        response = self.post(content="record", format="json")
        if response is None:
            return
        self.exports += 1
        problems = check_export(response.json(), [self], final=False)
        self.bad_exports += bool(problems)
        self.export_problems.extend(problems)

    def run(self, barrier: threading.Barrier) -> None:
        operations = [
            (self.update_shared, 30),
            (self.update_pair, 10),
            (self.new_record, 15),
            (self.auto_number, 15),
            (self.new_instance, 15),
            (self.delete, 7),
            (self.export, 8),
        ]
        actions, weights = zip(*operations, strict=True)
        barrier.wait()
        for _ in range(OPS):
            self.rng.choices(actions, weights)[0]()


def check_export(rows: list[dict[str, str]], clients: list[Client], final: bool) -> list[str]:
    """Problems in one export: torn pairs, and writes the given clients were told of but
    that it does not show (with ``final``: also anything in it that nobody was told of)."""
    problems = []
    plain = {r["record_id"]: r for r in rows if not r.get("redcap_repeat_instrument")}
    if plain[PAIR[0]]["x"] != plain[PAIR[1]]["x"]:
        problems.append(f"torn pair: {plain[PAIR[0]]['x']} / {plain[PAIR[1]]['x']}")
    logs = Counter(
        (r["record_id"], r["log_tag"]) for r in rows if r.get("redcap_repeat_instrument") == "log"
    )
    for record in SHARED:
        if plain[record]["pa"] != plain[record]["pb"]:
            problems.append(f"torn row {record}: {plain[record]['pa']} / {plain[record]['pb']}")
    for c in clients:
        for record, tag in c.shared.items():
            if plain[record][f"c{c.n}"] != tag:
                problems.append(f"lost update {record}.c{c.n}={tag}: {plain[record][f'c{c.n}']}")
        for record, tag in c.mine.items():
            if record not in plain or plain[record]["tag"] != tag:
                problems.append(f"lost record {record}")
        for record in c.deleted & set(plain):
            problems.append(f"deleted record {record} is back")
        for record, tag in c.auto.items():
            got = plain.get(record, {})
            expected = {"owner": str(c.n), "seq": tag.split("-")[1], "tag": tag}
            if {k: got.get(k) for k in expected} != expected or any(
                got.get(f) for f in ("pa", "x", *(f"c{i}" for i in range(CLIENTS)))
            ):
                problems.append(f"auto-numbered {record} does not hold only {tag}: {got}")
        for entry in c.logs:
            if logs[entry] != 1:
                problems.append(f"repeat instance {entry} seen {logs[entry]} times")
    if final:
        told = set(SHARED) | set(PAIR)
        for c in clients:
            told |= set(c.mine) | set(c.auto)
        extra = sorted(set(plain) - told)
        if extra:
            problems.append(f"records nobody was told of: {extra[:10]}")
        all_logs = Counter(e for c in clients for e in c.logs)
        if logs != all_logs:
            problems.append("repeat instances differ from those acknowledged")
    return problems


KINDS = (
    "torn pair",
    "torn row",
    "lost update",
    "lost record",
    "deleted record",
    "auto-numbered",
    "repeat instance ",
    "records nobody",
    "repeat instances differ",
)


def problem_kind(problem: str) -> str:
    return next(k for k in KINDS if problem.startswith(k)).strip()


def test_torture_many_clients_lose_nothing_and_see_consistent_exports(server):
    admin = create_project(server, "Torture")
    admin.import_json("metadata", DICTIONARY)
    admin.import_json("repeatingFormsEvents", [{"form_name": "log", "custom_form_label": ""}])
    admin.import_json(
        "record",
        [{"record_id": r, "pa": "0", "pb": "0"} for r in SHARED]
        + [{"record_id": r, "x": "0"} for r in PAIR],
    )
    clients = [Client(n, admin, random.Random(1000 + n)) for n in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS)
    threads = [threading.Thread(target=c.run, args=(barrier,)) for c in clients]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    final = check_export(admin.json(content="record"), clients, final=True)
    sent = sum(c.requests for c in clients)
    failures = [f for c in clients for f in c.failures]
    torn = [p for c in clients for p in c.export_problems]
    kinds = Counter(problem_kind(p) for p in torn)
    final_kinds = Counter(problem_kind(p) for p in final)
    print(
        f"\n[torture {server.backend}] clients={CLIENTS} requests={sent} seconds={elapsed:.1f} "
        f"non_200={len(failures)} 5xx={sum(f.startswith('5') for f in failures)} "
        f"exports={sum(c.exports for c in clients)} exports_with_problems={sum(c.bad_exports for c in clients)} "
        f"{dict(kinds)} final_problems={len(final)} {dict(final_kinds)}"
    )
    assert failures == []
    assert torn == []
    assert final == []
