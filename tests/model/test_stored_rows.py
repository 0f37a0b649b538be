"""The stored row, the domain's record type: one per (record, event, repeat instrument,
instance); :class:`localcap.model.rows.StoredRow`."""

from __future__ import annotations

from localcap.model.rows import StoredRow


def test_a_row_is_keyed_within_its_record_by_event_instrument_and_instance():
    row = StoredRow("101", 10, "visits", 2, {"hb": "12"}, group_id=1)
    assert row.key == (10, "visits", 2)
    assert (row.record, *row.key) == ("101", 10, "visits", 2)  # the key across records


def test_a_new_row_holds_no_values_in_no_dag_and_its_values_are_its_own():
    first, second = StoredRow("1", 0, "", 1), StoredRow("2", 0, "", 1)
    assert (first.data, first.group_id) == ({}, None)
    first.data["name"] = "Ann"
    assert second.data == {}


def test_a_row_assumes_line_breaks_or_quotes_unless_storage_found_none():
    """Line-break removal must look at a row unless the storage's scan proved it clean."""
    assert StoredRow("1", 0, "", 1).has_breaks_or_quotes
    assert not StoredRow("1", 0, "", 1, has_breaks_or_quotes=False).has_breaks_or_quotes
