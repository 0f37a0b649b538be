"""Mime type of an uploaded file, from its content (like REDCap), not from the client's claim.

The API layer passes the first :data:`HEAD_SIZE` bytes of the upload (it has them anyway while
streaming into the store) and the client's file name. The result is stored and later sent back
as ``Content-Type``, so it must be right for real files and never *dangerous*.

Decision:

1. libmagic decides (``python-magic``, the same database as ``file --mime-type``). It reads
   content, so a PNG renamed ``x.pdf`` is still ``image/png``.
2. Only when libmagic's answer is non-committal do we consult the file name's extension
   (``mimetypes``):

   * ``application/octet-stream`` ("some bytes") or ``application/x-empty`` (empty file): use
     the extension's type if it has one, e.g. a 0-byte ``notes.txt`` is ``text/plain``;
   * ``text/plain`` ("some text"): refine only to another ``text/*`` type, e.g.
     ``data.csv`` -> ``text/csv``, ``a.tsv`` -> ``text/tab-separated-values``;
   * ``application/zip``: refine only to a zip-based office type (``.docx``, ``.xlsx``,
     ``.odt``...), which libmagic reports as plain zip when the head is short.

3. The extension is never allowed to produce a type a browser would *execute or render as a
   page* (HTML, XHTML, SVG, XML, JavaScript): a text file named ``evil.html`` stays
   ``text/plain``. If libmagic itself says ``text/html`` (the content is HTML), we keep it: that
   is what REDCap does, and export responses carry ``Content-Security-Policy: script-src
   'none'``.
4. If libmagic fails (it should not, but it is C code fed user data) we fall back to the same
   extension rules starting from ``application/octet-stream``, never an exception: an upload
   must not fail because of sniffing.

Result: a bare ``type/subtype``, lowercase, without parameters (the ``;charset=UTF-8`` of text
types is added at export, by :func:`localcap.files.names.content_type_header`).
"""

from __future__ import annotations

import mimetypes
import threading

#: How many leading bytes to give libmagic. 64 KiB is enough for the container formats whose
#: marker is not at offset 0 (OOXML's ``[Content_Types].xml``/``word/`` entries, ISO media,
#: TAR at 257) and costs nothing next to an upload.
HEAD_SIZE = 64 * 1024

_AMBIGUOUS_BINARY = {"application/octet-stream", "application/x-empty", "inode/x-empty"}

#: Types a browser may execute or render as an active document: never chosen from a file name.
_ACTIVE = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "text/ecmascript",
}

_ZIP_BASED_PREFIXES = (
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
    "application/epub+zip",
    "application/java-archive",
)

_lock = threading.Lock()
_magic: object | None = None


def _libmagic_mime(head: bytes) -> str:
    """libmagic's verdict, or octet-stream if libmagic is unusable. One shared handle: opening
    the magic database costs milliseconds, and python-magic serialises calls with a lock."""
    global _magic
    try:
        import magic

        with _lock:
            if _magic is None:
                _magic = magic.Magic(mime=True)
        result = _magic.from_buffer(head)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - sniffing must never fail an upload
        return "application/octet-stream"
    return _normalise(result) or "application/octet-stream"


def _normalise(mime: str | None) -> str:
    if not mime:
        return ""
    mime = mime.split(";", 1)[0].strip().lower()
    return mime if "/" in mime else ""


def _by_extension(filename: str) -> str:
    # Only the last path component matters, and mimetypes wants something path-like.
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    guessed, _encoding = mimetypes.guess_type(base, strict=False)
    return _normalise(guessed)


def sniff_mime(head: bytes, filename: str = "") -> str:
    """Mime type of a file whose first bytes are ``head`` (see the module docstring for rules).

    ``head`` may be shorter than :data:`HEAD_SIZE` (small files) or longer (only the first
    :data:`HEAD_SIZE` bytes are looked at).
    """
    sniffed = _libmagic_mime(bytes(head[:HEAD_SIZE]))
    guess = _by_extension(filename) if filename else ""
    if not guess or guess in _ACTIVE or guess == sniffed:
        return "application/octet-stream" if sniffed in _AMBIGUOUS_BINARY else sniffed
    if sniffed in _AMBIGUOUS_BINARY:
        return guess
    if sniffed == "text/plain" and guess.startswith("text/"):
        return guess
    if sniffed == "application/zip" and guess.startswith(_ZIP_BASED_PREFIXES):
        return guess
    return sniffed
