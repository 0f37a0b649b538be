"""Rendering the survey pages: the templates, the rich-text filter and the security headers.

Labels, notes and choices come from a project's dictionary, which anyone able to import
metadata controls: they are rendered through :func:`rich` (a whitelist of text formatting
tags, no attributes, via the nh3 sanitizer) and everything else is escaped (Jinja2,
autoescaping on). A strict Content-Security-Policy forbids scripts outright, as a second
line. Link hashes are secrets, so pages are sent with ``Referrer-Policy: no-referrer`` and
``Cache-Control: no-store``.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import nh3
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response

#: The signed form token of the page being rendered (set per request by ``surveys_page``).
FORM_TOKEN: ContextVar[str] = ContextVar("survey_form_token", default="")


#: Formatting REDCap's rich-text labels use; no attributes, so no handlers, styles or links.
RICH_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "br",
    "p",
    "div",
    "span",
    "sup",
    "sub",
    "ul",
    "ol",
    "li",
}


HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


NOT_AVAILABLE = "This survey is not available: the link is not valid, or the survey was closed."


def rich(text: str) -> Markup:
    """A label's HTML reduced to harmless formatting (the text of anything else is kept)."""
    return Markup(nh3.clean(text or "", tags=RICH_TAGS, attributes={}, link_rel=None))


_env = Environment(
    loader=PackageLoader("localcap.surveys", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["rich"] = rich


def render(template: str, status: int = 200, form: bool = False, **context: Any) -> Response:
    """A page; ``form``: it has a form, which gets the request's signed token."""
    csrf = FORM_TOKEN.get() if form else ""
    body = _env.get_template(template).render(csrf=csrf, **context)
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def message(title: str, text: str, status: int = 200) -> Response:
    return render("message.html", status, title=title, text=text)
