r"""File names for the Export File response header: ``Content-Type: <mime>; name="<name>"``.

Why this module exists: the stored name is whatever the uploader sent (``../../.bashrc``,
``x\r\nSet-Cookie: a=b``, ``résumé.pdf``), and clients *save the download under it*. So what
goes into the header must be a plain, harmless file name that every client parses back
identically. The original name stays untouched in the database (Export Records shows it); only
the header uses :func:`safe_filename`.

How the clients read the header (their public source, read for this decision):

* PyCap (``export_file``): splits the Content-Type on ``;``, keeps pieces containing ``=``,
  takes ``piece.split("=")[1]`` and deletes every ``"``. A ``;`` or ``=`` inside the name
  truncates it.
* redcaplite: same split, but unpacks ``key, value = item.split("=")``: a second ``=`` raises
  and the file is silently saved as ``download.raw``. Then ``os.path.join(dir, name)``: a
  ``/``-prefixed or ``..`` name escapes ``dir``.
* REDCapR (``redcap_file_download_oneshot``): ``regexpr("name=.*")`` over *all* response
  headers, then deletes ``name=`` plus the next character (the opening quote) and every ``"``.
  So the quotes must be there, and ``name=`` must occur once (no ``Content-Disposition``).
  (It keeps ``;charset=UTF-8`` of text files in the saved name: that is how it behaves against
  real REDCap too, so we send exactly what REDCap sends.)
* redcapAPI (``reconstituteFileFromExport``): deletes ``^[[:print:]]+; name=`` (greedy, up to
  the *last* ``; name=``) and every ``"``, then ``[;]charset.+$``. R's regex functions raise
  "invalid multibyte string" on bytes that are not valid in the session's encoding.
* Python's http.client (under requests/PyCap) decodes header bytes as latin-1, so UTF-8 bytes
  arrive as mojibake (``rÃ©sumÃ©.pdf``); Starlette encodes header values as latin-1 and cannot
  send most Unicode at all.

Decision: the header name is **printable ASCII only**, built like this:

1. Unicode is NFKC-normalised, then each non-ASCII character is transliterated when it
   decomposes to ASCII letters plus accents (``résumé ünï.pdf`` -> ``resume uni.pdf``, the
   common case for European names; ``ß``, ``æ``, ``ø``, ``ł``... get their usual spellings),
   otherwise **percent-encoded as UTF-8** (``日本語.txt`` ->
   ``%E6%97%A5%E6%9C%AC%E8%AA%9E.txt``): lossless and reversible with any URL decoder, where
   underscores would turn every CJK name into ``___.txt``.
   RFC 2231/5987 ``name*=UTF-8''...`` was rejected: it adds a second ``name`` parameter, which
   breaks REDCapR's and redcapAPI's regexes and redcaplite's unpacking, and none decodes it.
   Raw UTF-8 bytes were rejected: mojibake in Python clients, and not sendable via Starlette.
2. Only the last path component is kept (split on ``/`` and ``\``), so nothing can point
   outside the client's chosen directory.
3. Every character that breaks a client parser, the header, or a file system becomes ``_``:
   control characters (CR, LF, NUL, TAB, DEL...), ``"`` (``_`` rather than ``'``: some ad-hoc
   parsers treat ``'`` as a quote too), ``;``, ``=``, and Windows' reserved ``< > : | ? *``
   (``a.txt:evil`` would be an NTFS alternate data stream).
4. Runs of dots collapse to one (no ``..`` anywhere), leading dots and spaces go (no hidden
   files: ``../../.bashrc`` -> ``bashrc``, which cannot overwrite a user's ``~/.bashrc``),
   trailing dots and spaces go (Windows drops them silently), and Windows device names
   (``CON``, ``NUL``, ``COM1``...) get a ``_`` prefix.
5. At most :data:`MAX_LENGTH` characters, keeping the extension (file systems cap names at
   255 bytes, and percent-encoding triples a character's length).
6. Nothing left (empty, blank, ``..``)? :data:`DEFAULT_NAME`.

The result is idempotent (``safe_filename(safe_filename(x)) == safe_filename(x)``).
"""

from __future__ import annotations

import re
import unicodedata

#: Used when nothing usable is left of the name.
DEFAULT_NAME = "file"
#: Longest name produced (ASCII, so also bytes): under every file system's 255-byte limit with
#: room for a client's prefix (redcapAPI prepends ``<record>-<event>-``).
MAX_LENGTH = 200
_MAX_EXTENSION = 16

_UNSAFE_ASCII = re.compile(r'[\x00-\x1f\x7f";=<>:|?*]')
_DOTS = re.compile(r"\.{2,}")
_CHAR_TOKEN = re.compile(r"%[0-9A-F]{2}(?:%[89AB][0-9A-F])*|.", re.DOTALL)
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{prefix}{n}" for prefix in ("COM", "LPT") for n in "123456789"
}
#: Latin letters that do not decompose into ASCII plus accents but have a usual spelling.
_LATIN_EXTRA = {
    "ß": "ss",
    "ẞ": "SS",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ø": "o",
    "Ø": "O",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "ł": "l",
    "Ł": "L",
    "þ": "th",
    "Þ": "Th",
    "ı": "i",
}
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def _to_ascii(char: str) -> str:
    """One character as printable-ASCII-or-control text (controls are replaced later)."""
    if char.isascii():
        return char
    category = unicodedata.category(char)
    if category.startswith("C") or category in {"Zl", "Zp"}:
        # Format/bidi characters (U+202E can make "gpj.exe" display as "exe.jpg"), line and
        # paragraph separators, surrogates, unassigned: never wanted in a file name.
        return "_"
    if category.startswith("Z"):
        return " "  # no-break and other exotic spaces
    if char in _LATIN_EXTRA:
        return _LATIN_EXTRA[char]
    decomposed = unicodedata.normalize("NFKD", char)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    if stripped and stripped.isascii() and stripped.isprintable():
        return stripped
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, extension = name.rpartition(".")
    if dot and stem and len(extension) + 1 <= _MAX_EXTENSION:
        return stem, "." + extension
    return name, ""


def _truncate(name: str) -> str:
    if len(name) <= MAX_LENGTH:
        return name
    stem, extension = _split_extension(name)
    budget = MAX_LENGTH - len(extension)
    kept: list[str] = []
    used = 0
    # Cut between whole characters: a percent-encoded character (lead byte plus continuation
    # bytes) is one token, so a cut never leaves half a UTF-8 sequence behind.
    for token in _CHAR_TOKEN.findall(stem):
        if used + len(token) > budget:
            break
        kept.append(token)
        used += len(token)
    return "".join(kept).rstrip(". ") + extension


def safe_filename(name: object, default: str = DEFAULT_NAME) -> str:
    """A plain printable-ASCII file name for ``name`` (rules in the module docstring)."""
    text = name if isinstance(name, str) else ("" if name is None else str(name))
    text = unicodedata.normalize("NFKC", text)
    text = "".join(_to_ascii(char) for char in text)
    # Path separators only after transliteration: a fullwidth solidus becomes "/" there.
    text = re.split(r"[/\\]", text)[-1]
    text = _UNSAFE_ASCII.sub("_", text)
    text = _DOTS.sub(".", text)
    text = text.strip(" .")
    text = _truncate(text)
    if not text.strip(" ._"):
        # Nothing but separators and placeholders ("..", "___"): not a name worth keeping.
        return DEFAULT_NAME if default == DEFAULT_NAME else safe_filename(default)
    if text.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
        text = "_" + text
    return text


def safe_mime(mime: str) -> str:
    """``mime`` if it is a bare ``type/subtype``, else ``application/octet-stream``.

    The stored type comes from :func:`localcap.files.mime.sniff_mime`, but the database may
    hold older or imported values (project XMLs carry a ``redcap:MimeType``): validate before
    putting it in a header.
    """
    candidate = (mime or "").split(";", 1)[0].strip().lower()
    return candidate if _MIME.fullmatch(candidate) else "application/octet-stream"


def content_type_header(mime: str, name: object) -> str:
    """The Export File ``Content-Type`` value, byte-for-byte as REDCap formats it.

    ``text/plain; name="test_upload.txt";charset=UTF-8`` for ``text/*`` (no space before
    ``charset``: PyCap's doctest and redcapAPI's regex expect exactly that), and
    ``image/png; name="x.png"`` otherwise. The name always goes through :func:`safe_filename`,
    so the value is ASCII (latin-1 encodable), has no CR/LF, and contains ``name=`` once.
    """
    mime = safe_mime(mime)
    value = f'{mime}; name="{safe_filename(name)}"'
    if mime.startswith("text/"):
        value += ";charset=UTF-8"
    return value


#: What a downloaded document may do if a browser renders it anyway: nothing. ``sandbox``
#: gives an HTML or SVG file an opaque origin (no cookies, no scripts, no forms, no access to
#: localcap's origin), and ``default-src 'none'`` lets it load nothing.
DOWNLOAD_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"


def download_headers(mime: str, name: object) -> dict[str, str]:
    """The headers of a stored file or a generated PDF sent to a client.

    ``Content-Disposition: attachment`` makes a browser save the file instead of showing it
    (an uploaded ``.html`` opened on localcap's origin would run as localcap's page), with
    ``nosniff`` so a browser never guesses a more dangerous type. The disposition carries no
    ``filename=``: REDCapR finds the name by matching ``name=.*`` across *all* response
    headers, and a second match breaks its download, so the name stays where REDCap puts it
    and every client reads it, in ``Content-Type`` (:func:`content_type_header`).
    """
    return {
        "content-type": content_type_header(mime, name),
        "content-disposition": "attachment",
        "x-content-type-options": "nosniff",
        "content-security-policy": DOWNLOAD_CSP,
    }
