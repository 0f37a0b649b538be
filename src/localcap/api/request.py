"""Turning an HTTP request into API parameters.

REDCap's clients send form-urlencoded bodies (PyCap, REDCapR, curl) or multipart ones
(redcapAPI, and every file upload). Arrays arrive as ``key[0]=a&key[1]=b`` (PyCap,
redcapAPI), ``key[]=a`` (PHP style) or ``key=a,b`` (REDCapR); all are accepted. The names are
decoded as PHP builds REDCap's ``$_POST`` (:func:`php_params`), so a body means here what it
means to REDCap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
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
    values: list[tuple[str, str]] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            result.files[key] = value
        else:
            values.append((key, value))
    result.params, result.arrays = php_params(values)
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
