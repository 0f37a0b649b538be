"""Turning an HTTP request into API parameters.

REDCap's clients send form-urlencoded bodies (PyCap, REDCapR, curl) or multipart ones
(redcapAPI, and every file upload). Arrays arrive as ``key[0]=a&key[1]=b`` (PyCap,
redcapAPI), ``key[]=a`` (PHP style) or ``key=a,b`` (REDCapR); all are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from localcap.api.errors import ApiError

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
    #: The client's address (the audit log's record of who called, invalid tokens included).
    client: str = ""

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
    """Refuse bodies over ``limit`` bytes: at once by Content-Length, else while streaming."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
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
    result = ApiRequest(
        server_url=f"{request.url.scheme}://{request.url.netloc}",
        client=request.client.host if request.client else "",
    )
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
