"""A long write's audit changes: spooled to disk a row of CHANGES_PER_ROW at a time, written
in order, and cut at MAX_CHANGES with a count of the rest."""

from __future__ import annotations

import pytest

from localcap.db import audit
from localcap.db.audit import CHANGES_IN_MEMORY, CHANGES_PER_ROW, AuditEntry, read_entries
from localcap.db.engine import open_database
from localcap.model.audit import Change


def entry_with(count: int, batch: int = 700) -> AuditEntry:
    """An entry given ``count`` changes ``batch`` at a time, as an import gives them."""
    entry = AuditEntry("alice", None, "record", "import", {}, secrets=["SECRET-TOKEN"])
    changes = [Change("Update record (API)", str(i), f"n = '{i}'") for i in range(count)]
    for start in range(0, count, batch):
        entry.add_changes(changes[start : start + batch])
    return entry


def written(tmp_path, entry: AuditEntry) -> list[Change]:
    engine = open_database(tmp_path)
    try:
        with engine.begin() as conn:
            audit.write_entry(conn, entry)
        with engine.connect() as conn:
            (row,) = read_entries(conn)
            return row.changes
    finally:
        engine.dispose()


@pytest.mark.parametrize("count", [1, CHANGES_PER_ROW, CHANGES_IN_MEMORY + 1, 2_750])
def test_every_change_is_written_in_order(tmp_path, count):
    entry = entry_with(count)
    if count > CHANGES_IN_MEMORY:
        assert entry.spooled is not None  # (some went to disk)
    changes = written(tmp_path, entry)
    assert [c.record for c in changes] == [str(i) for i in range(count)]
    assert changes[-1].details == f"n = '{count - 1}'"


def test_changes_beyond_the_limit_are_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(audit, "MAX_CHANGES", 2 * CHANGES_PER_ROW)
    changes = written(tmp_path, entry_with(2_750))
    assert [c.record for c in changes[:-1]] == [str(i) for i in range(2 * CHANGES_PER_ROW)]
    assert changes[-1].details == f"{2_750 - 2 * CHANGES_PER_ROW} more changes"


def test_a_secret_in_a_spooled_change_is_redacted(tmp_path):
    entry = entry_with(0)
    secret = Change("Update record (API)", "x", "token = 'SECRET-TOKEN'")
    entry.add_changes([secret] + [Change("Update record (API)", "y")] * CHANGES_IN_MEMORY)
    assert entry.spooled is not None and len(entry.changes) == 1  # (the secret on disk)
    changes = written(tmp_path, entry)
    assert changes[0].record == "x" and "SECRET-TOKEN" not in repr(changes)
    assert len(changes) == CHANGES_IN_MEMORY + 1
