"""Turning an HTTP request into API parameters.

REDCap's clients send form-urlencoded bodies (PyCap, REDCapR, curl) or multipart ones
(redcapAPI, and every file upload). Arrays arrive as ``key[0]=a&key[1]=b`` (PyCap,
redcapAPI), ``key[]=a`` (PHP style) or ``key=a,b`` (REDCapR); all are accepted. The names are
decoded as PHP builds REDCap's ``$_POST`` (:func:`php_params`), so a body means here what it
means to REDCap.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import unquote_plus

from python_multipart import MultipartParser, QuerystringParser
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.types import Message

from localcap.api.errors import ApiError

#: PHP's integer array keys: a decimal without leading zeros (``"01"`` stays a string key).
_PHP_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]*)$")

#: Deliberately generous: PHP's max_input_vars silently truncates big forms; we never do.
MAX_FIELDS = 1_000_000
MAX_PART_SIZE = 1 << 30  # a records import sent as one multipart part


#: Parameters that carry a whole document to parse rather than a value.
BODIES = frozenset({"data", "odm"})


#: A ``data``/``odm`` value longer than this (in bytes as sent) is kept in a temporary file as
#: it is parsed, never as one string: a streamed import reads it in pieces (:class:`TextBody`).
BODY_IN_MEMORY = 1 << 20
#: Characters per piece when a :class:`TextBody` is read.
TEXT_CHUNK = 1 << 16


class TextBody:
    """A big ``data``/``odm`` parameter, decoded, in a temporary file (UTF-8).

    Why: a 100,000-record import is a 150 MB value; held as one string (and, while it is
    parsed, as its bytes and its decoded text too) it would cost the server several times
    that. Kept here it costs disk, and :meth:`chunks` hands it out piece by piece to the
    parsers that read it incrementally (Import Records); :meth:`text` gives the whole string
    to the imports that need it whole.
    """

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=BODY_IN_MEMORY)  # noqa: SIM115
        #: The length in characters (what ``len()`` of the value would be).
        self.length = 0

    def write(self, text: str) -> None:
        self.file.write(text.encode("utf-8"))
        self.length += len(text)

    def chunks(self) -> Iterator[str]:
        """The text, in pieces of about :data:`TEXT_CHUNK` characters."""
        self.file.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        while raw := self.file.read(TEXT_CHUNK):
            if text := decoder.decode(raw):
                yield text
        if tail := decoder.decode(b"", final=True):
            yield tail

    def text(self) -> str:
        return "".join(self.chunks())

    def close(self) -> None:
        self.file.close()


def _url_safe_cut(raw: bytes | bytearray) -> int:
    """Where ``raw`` (urlencoded) can be cut so that both halves decode as the whole does:
    before a byte that is neither ``%`` nor one of the two characters after a ``%`` (so no
    escape, and no run of escapes making up one UTF-8 character, is split). 0: nowhere."""
    for cut in range(len(raw) - 1, 1, -1):
        if 37 not in (raw[cut], raw[cut - 1], raw[cut - 2]):  # 37: "%"
            return cut
    return 0


def _spool_to_text(raw: IO[bytes], decode: Callable[[IO[bytes], TextBody], None]) -> TextBody:
    body = TextBody()
    raw.seek(0)
    try:
        decode(raw, body)
    finally:
        raw.close()
    return body


def _unquote_plus(raw: bytes) -> str:
    """``unquote_plus(raw.decode("latin-1"))``, as Starlette decodes a form value, in one
    C-level pass instead of ``unquote``'s Python step per escape (a CSV body has one escape
    per comma: seconds for a 100,000-record import).

    For ASCII (what clients send): each ``%XX`` becomes ``\\xXX`` (backslashes already there
    doubled first) and ``codecs.escape_decode`` turns those into their bytes; an escape it
    refuses (a stray ``%``, ``%zz``) and non-ASCII bytes take ``unquote_plus`` itself, which
    keeps such text as it is."""
    if not raw.isascii():
        return unquote_plus(raw.decode("latin-1"))
    text = raw.replace(b"+", b" ")
    if b"%" in text:
        try:
            text = codecs.escape_decode(text.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
        except ValueError:
            return unquote_plus(raw.decode("latin-1"))
    return text.decode("utf-8", "replace")


def _decode_urlencoded(raw: IO[bytes], body: TextBody) -> None:
    """As Starlette decodes a form value: ``unquote_plus(value.decode("latin-1"))``, in pieces."""
    pending = b""
    while chunk := raw.read(TEXT_CHUNK):
        pending += chunk
        cut = _url_safe_cut(pending)
        if cut:
            body.write(_unquote_plus(pending[:cut]))
            pending = pending[cut:]
    body.write(_unquote_plus(pending))


def _multipart_decoder(charset: str) -> Callable[[IO[bytes], TextBody], None]:
    """As Starlette decodes a multipart field: in its charset, or Latin-1 if that fails."""

    def decode(raw: IO[bytes], body: TextBody) -> None:
        try:
            decoder = codecs.getincrementaldecoder(charset)("strict")
            while chunk := raw.read(TEXT_CHUNK):
                body.write(decoder.decode(chunk))
            body.write(decoder.decode(b"", final=True))
        except (UnicodeDecodeError, LookupError):
            body.file.seek(0)
            body.file.truncate()
            body.length = 0
            raw.seek(0)
            while chunk := raw.read(TEXT_CHUNK):
                body.write(chunk.decode("latin-1"))

    return decode


def _body_name(raw_name: bytes | bytearray | str) -> bool:
    name = (
        raw_name if isinstance(raw_name, str) else unquote_plus(bytes(raw_name).decode("latin-1"))
    )
    return name in BODIES


class _SpoolingFormParser(FormParser):
    """Starlette's urlencoded parser, except that a ``data``/``odm`` value over
    :data:`BODY_IN_MEMORY` bytes goes to a temporary file and becomes a :class:`TextBody`."""

    _spool: IO[bytes] | None = None

    def on_field_start(self) -> None:
        super().on_field_start()
        self._spool = None

    def on_field_data(self, data: bytes, start: int, end: int) -> None:
        if self._spool is None:
            super().on_field_data(data, start, end)
            if len(self._field_value) > BODY_IN_MEMORY and _body_name(self._field_name):
                self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed once decoded
                self._spool.write(self._field_value)
                self._field_value = bytearray()
            return
        self._current_field_size += end - start
        if self._current_field_size > self.max_part_size:
            raise MultiPartException("Field exceeded maximum size.")
        self._spool.write(data[start:end])

    def on_field_end(self) -> None:
        if self._spool is None:
            super().on_field_end()
            return
        self._current_fields += 1
        name = unquote_plus(self._field_name.decode("latin-1"))
        self._items.append((name, _spool_to_text(self._spool, _decode_urlencoded)))  # type: ignore[arg-type]
        self._spool = None


class _SpoolingMultiPartParser(MultiPartParser):
    """Starlette's multipart parser, except that a ``data``/``odm`` field (not a file) over
    :data:`BODY_IN_MEMORY` bytes goes to a temporary file and becomes a :class:`TextBody`."""

    _spool: IO[bytes] | None = None

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._spool = None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current_part
        if self._spool is None:
            if (
                part.file is None
                and len(part.data) + end - start > BODY_IN_MEMORY
                and _body_name(part.field_name)
            ):
                self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed once decoded
                self._spool.write(part.data)
                part.data = bytearray()
            else:
                super().on_part_data(data, start, end)
                return
        self._spool.write(data[start:end])

    def on_part_end(self) -> None:
        if self._spool is None:
            super().on_part_end()
            return
        body = _spool_to_text(self._spool, _multipart_decoder(self._charset))
        self.items.append((self._current_part.field_name, body))  # type: ignore[arg-type]
        self._spool = None


async def _read_form(request: Request) -> FormData:
    """``request.form()`` with the big ``data``/``odm`` values spooled (see above); the
    same limits and the same errors as Starlette's."""
    content_type, _ = parse_options_header(request.headers.get("Content-Type"))
    parser: FormParser | MultiPartParser
    try:
        async with aclosing(request.stream()) as stream:
            if content_type == b"multipart/form-data":
                parser = _SpoolingMultiPartParser(
                    request.headers,
                    stream,
                    max_files=1000,
                    max_fields=MAX_FIELDS,
                    max_part_size=MAX_PART_SIZE,
                )
            elif content_type == b"application/x-www-form-urlencoded":
                parser = _SpoolingFormParser(
                    request.headers, stream, max_fields=MAX_FIELDS, max_part_size=MAX_PART_SIZE
                )
            else:
                return FormData()
            return await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(status_code=400, detail=exc.message) from None


@dataclass
class ApiRequest:
    params: dict[str, str] = field(default_factory=dict)
    #: The big ``data``/``odm`` values, kept on disk (:class:`TextBody`); not in ``params``.
    bodies: dict[str, TextBody] = field(default_factory=dict)
    arrays: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, UploadFile] = field(default_factory=dict)
    #: ``scheme://host:port`` the request came to (survey links when no public URL is set).
    server_url: str = ""
    #: Set when the client has gone away (or the server is stopping): long work (Export PDF)
    #: checks it and stops instead of finishing an answer no one will read.
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: The client's address (the audit log's record of who called, invalid tokens included).
    client: str = ""

    def get(self, name: str, default: str = "") -> str:
        if name in self.bodies:  # a big body, read whole (the imports that stream it don't)
            return self.bodies[name].text()
        return self.params.get(name, default)

    def has(self, name: str) -> bool:
        """Whether the parameter was sent (a big body too)."""
        return name in self.params or name in self.bodies

    def text_chunks(self, name: str) -> Iterator[str]:
        """A parameter's text in pieces: a big body is read from its file as it is used."""
        if name in self.bodies:
            yield from self.bodies[name].chunks()
        elif text := self.params.get(name, ""):
            yield text

    def body_sizes(self) -> dict[str, int]:
        """The length of each big body (the audit log records sizes, not the data)."""
        return {name: body.length for name, body in self.bodies.items()}

    def close(self) -> None:
        for body in self.bodies.values():
            body.close()

    def flag(self, name: str, default: bool = False) -> bool:
        """REDCap booleans: ``1`` or case-insensitive ``true`` are true, anything else false."""
        if name not in self.params:
            return default
        return self.params[name].strip().lower() in ("1", "true")

    def nul_parameter(self) -> str | None:
        """The first parameter (other than the ``data``/``odm`` bodies, whose parsers judge
        their own content) whose name or value holds a NUL character, or None."""
        for name, value in self.params.items():
            if name not in BODIES and ("\x00" in name or "\x00" in value):
                return name
        for name, values in self.arrays.items():
            if "\x00" in name or any("\x00" in v for v in values):
                return name
        return None

    def list(self, name: str) -> list[str] | None:
        """An array parameter in any of its spellings; None when absent."""
        if name in self.arrays:
            return [v.strip() for v in self.arrays[name] if v.strip()]
        if name in self.params:
            return [v.strip() for v in self.params[name].split(",") if v.strip()]
        return None


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"The request body is larger than this server accepts ({limit // (1 << 20)} MB). "
        "Split the import into smaller batches, or raise the limit (localcap serve "
        "--max-request-mb).",
    )


#: Bodies up to this size stay in memory; bigger ones are spooled to a temporary file as they
#: arrive, and their token is checked before they are parsed (:func:`receive_body`).
SPOOL_IN_MEMORY = 1 << 20
#: Bytes per step when a spooled body is replayed to the form parser.
REPLAY_CHUNK = 1 << 16
#: The parameters read from a big body before it is parsed, and the most kept of each: the
#: token to check, the error's format, and what the audit log records of a refused call.
SMALL_PARAMS = frozenset({"token", "format", "returnFormat", "content", "action"})
SMALL_PARAM_BYTES = 256


class SpooledBody:
    """A request body received in full (up to the size limit) without holding it in memory.

    Why: a form body is only parsed once all of it is here, and parsing a value costs about
    three times its size in memory (bytes, then text, then decoded text). Received into a
    temporary file first, a body costs no memory until its token has been checked, so an
    unauthenticated client sending 200 MB costs the server 200 MB of disk for as long as the
    upload lasts, not 600 MB of memory.
    """

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        self.size = 0

    def close(self) -> None:
        self.file.close()

    def chunks(self) -> Iterator[bytes]:
        self.file.seek(0)
        while chunk := self.file.read(REPLAY_CHUNK):
            yield chunk

    def replay(self, request: Request) -> Request:
        """``request`` again, its body read from here (for Starlette's form parser). The
        reads are small (64 KB) and mostly from the page cache, so they stay in the loop."""
        chunks = self.chunks()

        async def receive() -> Message:
            chunk = next(chunks, b"")
            return {"type": "http.request", "body": chunk, "more_body": bool(chunk)}

        return Request(request.scope, receive)


class SmallParamScanner:
    """Reads the :data:`SMALL_PARAMS` of a form body (urlencoded or multipart) as its bytes
    arrive, keeping nothing else, so that the token of a big body is known (and checked)
    before the rest is received or parsed. Every client sends the token first."""

    def __init__(self, content_type: str) -> None:
        #: The small parameters seen so far (a value may still be growing)...
        self.values: dict[str, str] = {}
        #: ...and those whose value is complete.
        self.complete: set[str] = set()
        self._value: bytearray = bytearray()
        self._name: str | None = None
        self._raw_name = bytearray()
        self._named = False
        self._header = bytearray()
        self._header_value = bytearray()
        self._parser = self._make_parser(content_type)

    def _make_parser(self, content_type: str) -> QuerystringParser | MultipartParser | None:
        media, options = parse_options_header(content_type)
        if media == b"multipart/form-data" and options.get(b"boundary"):
            return MultipartParser(
                options[b"boundary"],
                {
                    "on_part_begin": self._begin,
                    "on_header_field": self._header_field,
                    "on_header_value": self._header_value_data,
                    "on_header_end": self._header_end,
                    "on_part_data": self._data,
                    "on_part_end": self._end,
                },
            )
        if media in (b"application/x-www-form-urlencoded", b""):
            return QuerystringParser(
                {
                    "on_field_start": self._begin,
                    "on_field_name": self._name_data,
                    "on_field_data": self._field_data,
                    "on_field_end": self._field_end,
                }
            )
        return None

    def feed(self, chunk: bytes) -> None:
        if self._parser is None:
            return
        try:
            self._parser.write(chunk)
        except Exception:  # noqa: BLE001 - malformed: the full parse will say why
            self._parser = None

    def finish(self) -> None:
        if self._parser is not None:
            with contextlib.suppress(Exception):  # malformed, as in feed()
                self._parser.finalize()
            self._parser = None

    # -- shared ---------------------------------------------------------------------------
    def _begin(self) -> None:
        self._name = None
        self._named = False
        self._raw_name.clear()
        self._value = bytearray()

    def _start(self, raw_name: bytes) -> None:
        name = unquote_plus(raw_name.decode("latin-1"))
        self._name = name if name in SMALL_PARAMS and name not in self.complete else None

    def _data(self, chunk: bytes, begin: int, end: int) -> None:
        if self._name is not None and len(self._value) < SMALL_PARAM_BYTES:
            self._value += chunk[begin : min(end, begin + SMALL_PARAM_BYTES - len(self._value))]
            self.values[self._name] = unquote_plus(self._value.decode("latin-1"))

    def _end(self) -> None:
        if self._name is not None:
            self.values.setdefault(self._name, "")
            self.complete.add(self._name)
        self._name = None

    # -- urlencoded -----------------------------------------------------------------------
    def _name_data(self, chunk: bytes, begin: int, end: int) -> None:
        if len(self._raw_name) < SMALL_PARAM_BYTES:
            self._raw_name += chunk[begin:end][:SMALL_PARAM_BYTES]

    def _field_data(self, chunk: bytes, begin: int, end: int) -> None:
        if not self._named:  # the value's first bytes: the name is complete
            self._start(bytes(self._raw_name))
            self._named = True
        self._data(chunk, begin, end)

    def _field_end(self) -> None:
        if not self._named:  # a field with no value
            self._start(bytes(self._raw_name))
        self._end()

    # -- multipart ------------------------------------------------------------------------
    def _header_field(self, chunk: bytes, begin: int, end: int) -> None:
        self._header += chunk[begin:end][:SMALL_PARAM_BYTES]

    def _header_value_data(self, chunk: bytes, begin: int, end: int) -> None:
        self._header_value += chunk[begin:end][:SMALL_PARAM_BYTES]

    def _header_end(self) -> None:
        if bytes(self._header).strip().lower() == b"content-disposition":
            _, params = parse_options_header(bytes(self._header_value))
            if b"filename" not in params:
                self._start(params.get(b"name", b""))
        self._header, self._header_value = bytearray(), bytearray()


#: Judges the small parameters of a big body: the error that refuses its token, or None.
TokenCheck = Callable[[dict[str, str]], Awaitable[ApiError | None]]


async def receive_body(
    request: Request, limit: int, token_refusal: TokenCheck, small: dict[str, str]
) -> SpooledBody:
    """Receive the whole body into a :class:`SpooledBody`.

    413 at once when Content-Length is over ``limit`` bytes (0: no limit), else as soon as
    the bytes received pass it. A body bigger than :data:`SPOOL_IN_MEMORY` must carry a token
    ``token_refusal`` accepts: checked as soon as the token has arrived, or at the end if it
    comes last; after a refusal the rest is dropped as it arrives, and the answer is the
    refusal's error (a 403, or the invalid-token limit's 429). ``small`` receives the
    :data:`SMALL_PARAMS` read on the way, for the error's format.
    """
    declared = request.headers.get("content-length", "")
    if limit and declared.isascii() and declared.isdigit() and int(declared[:20]) > limit:
        raise too_large(limit)
    scanner = SmallParamScanner(request.headers.get("content-type", ""))
    checked = False
    refused: ApiError | None = None
    body = SpooledBody()
    try:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ApiError(400, "The client went away before sending the whole request")
            chunk = message.get("body", b"")
            body.size += len(chunk)
            if limit and body.size > limit:
                raise too_large(limit)
            if chunk and refused is None:
                body.file.write(chunk)
                if not checked:
                    scanner.feed(chunk)
            more = message.get("more_body", False)
            if not more:
                scanner.finish()
            small.update(scanner.values)
            if (
                not checked
                and body.size > SPOOL_IN_MEMORY
                and ("token" in scanner.complete or not more)
            ):
                # A wrong token: the rest is read and dropped (a client mid-upload reads a
                # 403, not a reset connection), costing neither memory nor disk.
                refused = await token_refusal(dict(scanner.values))
                checked = True
                if refused is not None:
                    body.close()
            if not more:
                if refused is not None:
                    raise refused
                return body
    except BaseException:
        body.close()
        raise


async def parse_request(request: Request) -> ApiRequest:
    try:
        form = await _read_form(request)
    except ApiError:
        raise
    except Exception as exc:  # malformed bodies must never become a 500
        if "maximum" in str(exc).lower() or "too many" in str(exc).lower():
            raise ApiError(
                413,
                f"The request is too large ({exc}). Split the import into smaller batches.",
            ) from None
        raise ApiError(400, f"The request body could not be read: {exc}") from None
    result = ApiRequest(
        server_url=f"{request.url.scheme}://{request.url.netloc}",
        client=request.client.host if request.client else "",
    )
    values: list[tuple[str, str]] = []
    spooled: list[tuple[str, TextBody]] = []  # (a stand-in value, the body it stands for)
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            result.files[key] = value
        elif isinstance(value, TextBody):
            stand_in = f"<body {len(spooled)}>"
            spooled.append((stand_in, value))
            values.append((key, stand_in))
        else:
            values.append((key, value))
    params, result.arrays = php_params(values)
    for stand_in, body in spooled:  # a big body still the value of its name stays on disk
        name = next((k for k, v in params.items() if v is stand_in), None)
        if name is None:
            body.close()
        else:
            result.bodies[name] = body
            del params[name]
    result.params = params
    return result


def _php_name(key: str) -> tuple[str, list[str]] | None:
    """A form key split as PHP splits it: the variable name and its bracketed indexes.

    PHP drops leading spaces, turns spaces and dots in the name into ``_``, and a ``[``
    with no closing ``]`` into ``_`` (the rest then belongs to the name); after the first
    ``[...]`` only directly following ``[...]`` groups count. None: PHP ignores the key."""
    key = key.lstrip(" ")
    start = key.find("[")
    if start < 0 or "]" not in key[start:]:
        name = key.replace(" ", "_").replace(".", "_")
        if start >= 0:
            name = name[:start] + "_" + key[start + 1 :]
        return (name, []) if name else None
    name = key[:start].replace(" ", "_").replace(".", "_")
    if not name:
        return None
    indexes: list[str] = []
    rest = key[start:]
    while rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            break
        indexes.append(rest[1:end])
        rest = rest[end + 1 :]
    return name, indexes


def php_params(items: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The request's parameters as PHP builds ``$_POST`` from them, in order: a later key
    replaces an earlier one (``a=1&a=2`` is ``2``; ``fields[0]=a&fields=x`` is ``x``, and
    ``fields=x&fields[]=a`` an array), ``a[]`` appends, ``a[n]`` sets index ``n`` (keeping
    its first position when set again). Returns the plain values and the arrays (values in
    PHP's order); a deeper ``a[0][1]`` is a nested array in PHP, which no API parameter
    reads, and is left out of the array's values."""
    built: dict[str, str | dict[str, object]] = {}
    for key, value in items:
        parsed = _php_name(key)
        if parsed is None:
            continue
        name, indexes = parsed
        if not indexes:
            built[name] = value
            continue
        target = built.get(name)
        if not isinstance(target, dict):
            target = built[name] = {}
        for depth, index in enumerate(indexes):
            if index == "":
                numbers = [int(k) for k in target if _PHP_INT_KEY.match(k)]
                index = str(max(numbers) + 1 if numbers else 0)
            if depth == len(indexes) - 1:
                target[index] = value
            else:
                child = target.get(index)
                if not isinstance(child, dict):
                    child = target[index] = {}
                target = child
    params = {k: v for k, v in built.items() if isinstance(v, str)}
    arrays = {
        k: [item for item in v.values() if isinstance(item, str)]
        for k, v in built.items()
        if isinstance(v, dict)
    }
    return params, arrays
