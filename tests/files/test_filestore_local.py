"""Local-disk specifics: layout, no temporary litter, crash safety, flat memory."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcap.files.local import LocalFileStore
from localcap.files.store import open_store


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_open_store_default_and_file_url(tmp_path: Path) -> None:
    default = open_store(None, tmp_path)
    assert isinstance(default, LocalFileStore)
    assert default.root == tmp_path / "files"
    assert isinstance(open_store("", tmp_path), LocalFileStore)
    elsewhere = tmp_path / "elsewhere"
    by_url = open_store(f"file://{elsewhere}", tmp_path)
    assert isinstance(by_url, LocalFileStore)
    assert by_url.root == elsewhere


def test_sharded_layout_and_permissions(local_store: LocalFileStore) -> None:
    key = local_store.put([b"x"]).key
    path = local_store.root / key[:2] / key[2:4] / key
    assert all_files(local_store.root) == [path]
    assert path.stat().st_mode & 0o077 == 0  # study data: not world/group readable


class Boom(Exception):
    pass


def test_exception_mid_put_leaves_no_file_and_no_temp(local_store: LocalFileStore) -> None:
    def stream() -> Iterator[bytes]:
        yield b"a" * 100_000
        yield b"b" * 100_000
        raise Boom

    with pytest.raises(Boom):
        local_store.put(stream())
    assert all_files(local_store.root) == []


def test_nothing_visible_until_complete(local_store: LocalFileStore) -> None:
    """While put() is still consuming the stream, no key exists and the data sits in a
    hidden temporary file only."""
    seen: list[tuple[list[str], list[str]]] = []

    def stream() -> Iterator[bytes]:
        yield b"first half "
        seen.append((list(local_store.iter_keys()), [p.name for p in all_files(local_store.root)]))
        yield b"second half"

    stored = local_store.put(stream())
    keys_during, files_during = seen[0]
    assert keys_during == []
    assert len(files_during) == 1 and files_during[0].startswith(".tmp-")
    assert list(local_store.iter_keys()) == [stored.key]
    assert [p.name for p in all_files(local_store.root)] == [stored.key]


def test_killed_process_leaves_no_partial_file(tmp_path: Path) -> None:
    """A real crash (SIGKILL, no cleanup code runs) mid-upload: no key appears; the orphan
    temporary file is hidden and removed by remove_stale_temporaries()."""
    root = tmp_path / "files"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from localcap.files.local import LocalFileStore
        store = LocalFileStore(Path({str(root)!r}))
        def stream():
            yield b"x" * 1_000_000
            os.kill(os.getpid(), signal.SIGKILL)
            yield b"never"
        store.put(stream())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False)
    assert result.returncode == -9
    store = LocalFileStore(root)
    assert list(store.iter_keys()) == []
    leftovers = all_files(root)
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".tmp-")
    assert store.remove_stale_temporaries(older_than_seconds=3600) == 0  # too recent
    assert store.remove_stale_temporaries(older_than_seconds=-1) == 1
    assert all_files(root) == []


def test_iter_keys_ignores_foreign_files(local_store: LocalFileStore) -> None:
    key = local_store.put([b"x"]).key
    (local_store.root / "README").write_text("not a key")
    (local_store.root / key[:2] / key[2:4] / "notes.txt").write_text("nor this")
    assert list(local_store.iter_keys()) == [key]


def test_big_stream_in_flat_memory(local_store: LocalFileStore, peak_rss) -> None:  # noqa: ANN001
    """200 MB through put() and open(): memory must not grow with the file."""
    block = os.urandom(1 << 20)
    total = 200

    def stream() -> Iterator[bytes]:
        for _ in range(total):
            yield block

    with peak_rss() as put_mem:
        stored = local_store.put(stream())
    assert stored.size == total << 20

    digest = hashlib.sha256()
    with peak_rss() as open_mem:
        for chunk in local_store.open(stored.key):
            digest.update(chunk)
    assert digest.hexdigest() == stored.sha256
    assert put_mem.growth < 32 << 20, put_mem.growth
    assert open_mem.growth < 32 << 20, open_mem.growth
