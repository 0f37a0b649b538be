"""Turning an HTTP request into API parameters.

REDCap's clients send form-urlencoded bodies (PyCap, REDCapR, curl) or multipart ones
(redcapAPI, and every file upload). Arrays arrive as ``key[0]=a&key[1]=b`` (PyCap,
redcapAPI), ``key[]=a`` (PHP style) or ``key=a,b`` (REDCapR); all are accepted.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from python_multipart import MultipartParser, QuerystringParser
from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from localcap.api.errors import NO_PERMISSION, ApiError

_ARRAY_KEY = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<index>\d*)\]$")

#: Deliberately generous: PHP's max_input_vars silently truncates big forms; we never do.
MAX_FIELDS = 1_000_000
MAX_PART_SIZE = 1 << 30  # a records import sent as one multipart part


#: Parameters that carry a whole document to parse rather than a value.
BODIES = frozenset({"data", "odm"})


@dataclass
class ApiRequest:
    params: dict[str, str] = field(default_factory=dict)
    arrays: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, UploadFile] = field(default_factory=dict)
    #: ``scheme://host:port`` the request came to (survey links when no public URL is set).
    server_url: str = ""
    #: Set when the client has gone away (or the server is stopping): long work (Export PDF)
    #: checks it and stops instead of finishing an answer no one will read.
    cancelled: threading.Event = field(default_factory=threading.Event)

    def get(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)

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


def limit_body(request: Request, limit: int) -> Request:
    """Refuse bodies over ``limit`` bytes: at once by Content-Length, else while streaming
    (the survey pages' small forms, parsed as they arrive)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        raise too_large(limit)
    received = 0
    receive = request.receive

    async def counting_receive() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise too_large(limit)
        return message

    return Request(request.scope, counting_receive)


#: Bodies up to this size stay in memory; bigger ones are spooled to a temporary file as they
#: arrive, and their token is checked before they are parsed (:func:`receive_body`).
SPOOL_IN_MEMORY = 1 << 20
#: Bytes per step when a spooled body is replayed to the form parser.
REPLAY_CHUNK = 1 << 16
#: The parameters read from a big body before it is parsed, and the most kept of each.
SMALL_PARAMS = frozenset({"token", "format", "returnFormat"})
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


TokenCheck = Callable[[str], Awaitable[bool]]


async def receive_body(
    request: Request, limit: int, token_known: TokenCheck, small: dict[str, str]
) -> SpooledBody:
    """Receive the whole body into a :class:`SpooledBody`.

    413 at once when Content-Length is over ``limit`` bytes (0: no limit), else as soon as
    the bytes received pass it. A body bigger than :data:`SPOOL_IN_MEMORY` must carry a token
    ``token_known`` accepts: checked as soon as the token has arrived, or at the end if it comes
    last; after a wrong one the rest is dropped as it arrives, and the answer is a 403.
    ``small`` receives the format parameters read on the way, for the error's format.
    """
    declared = request.headers.get("content-length", "")
    if limit and declared.isascii() and declared.isdigit() and int(declared[:20]) > limit:
        raise too_large(limit)
    scanner = SmallParamScanner(request.headers.get("content-type", ""))
    checked = refused = False
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
            if chunk and not refused:
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
                refused = not await token_known(scanner.values.get("token", ""))
                checked = True
                if refused:
                    body.close()
            if not more:
                if refused:
                    raise ApiError(403, NO_PERMISSION)
                return body
    except BaseException:
        body.close()
        raise


async def parse_request(request: Request) -> ApiRequest:
    try:
        form = await request.form(
            max_files=1000, max_fields=MAX_FIELDS, max_part_size=MAX_PART_SIZE
        )
    except ApiError:
        raise
    except Exception as exc:  # malformed bodies must never become a 500
        if "maximum" in str(exc).lower() or "too many" in str(exc).lower():
            raise ApiError(
                413,
                f"The request is too large ({exc}). Split the import into smaller batches.",
            ) from None
        raise ApiError(400, f"The request body could not be read: {exc}") from None
    result = ApiRequest(server_url=f"{request.url.scheme}://{request.url.netloc}")
    indexed: dict[str, list[tuple[int, str]]] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            result.files[key] = value
            continue
        match = _ARRAY_KEY.match(key)
        if match:
            index = int(match["index"]) if match["index"] else len(indexed.get(match["name"], []))
            indexed.setdefault(match["name"], []).append((index, value))
        elif key in result.params:
            # Repeated plain keys (requests' encoding of a Python list): an array.
            result.arrays.setdefault(key, [result.params[key]]).append(value)
        else:
            result.params[key] = value
    for name, items in indexed.items():
        result.arrays[name] = [value for _, value in sorted(items, key=lambda item: item[0])]
    return result
