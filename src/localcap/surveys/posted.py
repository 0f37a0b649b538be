"""Reading a posted survey form, within the sizes a survey page can need.

A page posts a few kilobytes, or its uploads: nothing bigger is read, and a body that is
too large or malformed answers with a page, never an error trace.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from localcap.surveys.render import message
from localcap.web import BodyTooLarge, limit_body

MAX_FORM_FIELDS = 2000


MAX_BODY_BYTES = 4 << 20


#: A page with file-upload fields posts its files too (localcap's limit for a survey's files).
MAX_UPLOAD_BYTES = 32 << 20


MAX_FILES = 20


async def form_lists(
    request: Request,
) -> tuple[dict[str, list[str]], dict[str, UploadFile]] | Response:
    """The posted form's values by name and its files, or the error page for a body too large
    or unreadable (a page posts a few kilobytes, or its uploads: nothing bigger is read)."""
    multipart = request.headers.get("content-type", "").startswith("multipart/")
    limit = MAX_UPLOAD_BYTES if multipart else MAX_BODY_BYTES
    try:
        form = await limit_body(request, limit).form(
            max_files=MAX_FILES, max_fields=MAX_FORM_FIELDS
        )
    except BodyTooLarge:
        return message("Too large", "The answers sent are too large.", 413)
    except Exception:  # the multipart parser's errors: a malformed body is the sender's fault
        return message("Not readable", "The answers sent could not be read.", 400)
    lists: dict[str, list[str]] = {}
    files: dict[str, UploadFile] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            lists.setdefault(key, []).append(value)
        else:
            files.setdefault(key, value)
    return lists, files
