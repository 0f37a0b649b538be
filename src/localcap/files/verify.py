"""Re-read stored files and check them against what the database says they should be.

Why: a file store lives apart from the database (another disk, a bucket), and backups,
restores and migrations between stores can lose or damage files silently. ``localcap files
verify`` streams every expected file back through the store's own ``open()`` (so S3 is checked
through the same path downloads take), re-hashing as it goes, in flat memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from localcap.files.store import FileStore, MissingFileError

#: ``progress(key, status)`` after each file; status is ``"ok"``, ``"missing"`` or
#: ``"corrupt"``. For a tqdm bar: ``progress=lambda key, status: bar.update(1)``.
ProgressCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class CorruptFile:
    """A file whose content no longer matches the database."""

    key: str
    expected_size: int
    expected_sha256: str
    actual_size: int
    actual_sha256: str


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_files`.

    ``ok`` is a *count* (a healthy store of a million files should not cost a million-entry
    list); problems are listed so they can be reported one by one.
    """

    ok: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[CorruptFile] = field(default_factory=list)

    @property
    def all_ok(self) -> bool:
        """Whether every expected file was present and intact."""
        return not self.missing and not self.corrupt

    @property
    def checked(self) -> int:
        return self.ok + len(self.missing) + len(self.corrupt)


def verify_files(
    store: FileStore,
    expected: Iterable[tuple[str, int, str]],
    progress: ProgressCallback | None = None,
    chunk_size: int = 1 << 20,
) -> VerifyReport:
    """Check each ``(key, size, sha256)`` by streaming the file and re-hashing it.

    A file is *missing* if the store has nothing under the key, *corrupt* if its size or
    SHA-256 differs. Other errors (permissions, network) propagate: they say nothing about the
    file and should stop the run rather than be reported as damage. A malformed key in
    ``expected`` raises ``ValueError`` (see :mod:`localcap.files.store`).
    """
    report = VerifyReport()
    for key, size, sha256 in expected:
        try:
            chunks = store.open(key, chunk_size)
        except MissingFileError:
            report.missing.append(key)
            status = "missing"
        else:
            digest = hashlib.sha256()
            actual_size = 0
            try:
                for chunk in chunks:
                    digest.update(chunk)
                    actual_size += len(chunk)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            actual_sha256 = digest.hexdigest()
            if actual_size == size and actual_sha256 == sha256.lower():
                report.ok += 1
                status = "ok"
            else:
                report.corrupt.append(
                    CorruptFile(key, size, sha256.lower(), actual_size, actual_sha256)
                )
                status = "corrupt"
        if progress is not None:
            progress(key, status)
    return report
