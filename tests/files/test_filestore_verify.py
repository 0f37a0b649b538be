"""verify_files: ok, missing and corrupt files are told apart, on both backends."""

from __future__ import annotations

import os

import pytest

from localcap.files.local import LocalFileStore
from localcap.files.store import FileStore
from localcap.files.verify import CorruptFile, verify_files


def test_all_ok(store: FileStore) -> None:
    stored = [store.put([os.urandom(n)]) for n in (0, 10, 100_000)]
    events: list[tuple[str, str]] = []
    report = verify_files(
        store,
        ((s.key, s.size, s.sha256) for s in stored),
        progress=lambda key, status: events.append((key, status)),
    )
    assert report.ok == 3 and report.all_ok and report.checked == 3
    assert report.missing == [] and report.corrupt == []
    assert events == [(s.key, "ok") for s in stored]


def test_missing_and_corrupt(store: FileStore) -> None:
    good = store.put([b"good"])
    gone = store.put([b"gone"])
    store.delete(gone.key)
    damaged = store.put([b"original"])
    expected = [
        (good.key, good.size, good.sha256),
        (gone.key, gone.size, gone.sha256),
        # The database says something else than what is stored: wrong hash, same size...
        (damaged.key, damaged.size, "0" * 64),
        # ...and wrong size.
        (good.key, good.size + 1, good.sha256),
    ]
    events: list[str] = []
    report = verify_files(store, expected, progress=lambda key, status: events.append(status))
    assert not report.all_ok
    assert report.ok == 1
    assert report.missing == [gone.key]
    assert report.corrupt == [
        CorruptFile(damaged.key, damaged.size, "0" * 64, damaged.size, damaged.sha256),
        CorruptFile(good.key, good.size + 1, good.sha256, good.size, good.sha256),
    ]
    assert events == ["ok", "missing", "corrupt", "corrupt"]


def test_bit_rot_on_disk_is_detected(local_store: LocalFileStore) -> None:
    stored = local_store.put([b"A" * 1000])
    path = local_store.root / stored.key[:2] / stored.key[2:4] / stored.key
    data = bytearray(path.read_bytes())
    data[500] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify_files(local_store, [(stored.key, stored.size, stored.sha256)])
    assert [c.key for c in report.corrupt] == [stored.key]
    assert report.corrupt[0].actual_size == stored.size


def test_uppercase_hash_from_the_database_is_fine(local_store: LocalFileStore) -> None:
    stored = local_store.put([b"x"])
    report = verify_files(local_store, [(stored.key, stored.size, stored.sha256.upper())])
    assert report.all_ok


def test_malformed_key_is_an_error_not_a_missing_file(local_store: LocalFileStore) -> None:
    with pytest.raises(ValueError):
        verify_files(local_store, [("../etc/passwd", 1, "0" * 64)])
