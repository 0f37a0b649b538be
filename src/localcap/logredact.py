"""Keeping tokens out of the server's own log lines (uvicorn's access log, our error log).

localcap reads tokens from the request body only, but a client may still put one in the URL
(``POST /api/?token=...``), which uvicorn's access log prints, and an unexpected error's
message could quote a value. A filter on those loggers blanks ``token=<value>`` in any
spelling (``TOKEN``, ``token[0]``, ``token%5B%5D``) and any run of 32 or more hex digits
(the shape of every localcap token) before a line is written, and escapes control
characters so that a crafted path cannot print a line of its own.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from localcap.model.audit import TOKEN_SHAPE as _TOKEN_SHAPE
from localcap.model.audit import printable

_TOKEN_PARAM = re.compile(r"(?i)(token(?:\[[^\]=&]*\]|%5B[^=&]*?%5D)*\s*(?:=|%3D))[^&\s\"']*")
#: The loggers that print request details: uvicorn's access and error logs, and ours.
LOGGERS = ("uvicorn.access", "uvicorn.error", "localcap")


def redact_line(text: str) -> str:
    """A log line's text with tokens blanked: percent-escapes are decoded first (a token
    cannot hide behind ``%0A`` or ``%74oken``), control characters escaped last."""
    text = unquote(text)
    return printable(_TOKEN_SHAPE.sub("[redacted]", _TOKEN_PARAM.sub(r"\1[redacted]", text)))


class RedactTokens(logging.Filter):
    """Rewrites each record's message, arguments and traceback with tokens blanked."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The arguments are redacted one by one (uvicorn's access formatter unpacks them).
        if isinstance(record.msg, str):
            record.msg = redact_line(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Tracebacks keep their line breaks; only token values are blanked.
            text = _TOKEN_PARAM.sub(r"\1[redacted]", record.exc_text)
            record.exc_text = _TOKEN_SHAPE.sub("[redacted]", text)
        return True


def _redact_arg(value: object) -> object:
    return value if isinstance(value, int | float) else redact_line(str(value))


_FILTER = RedactTokens()


def install_redaction() -> None:
    """Add the filter to the loggers that print requests (once per process)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
