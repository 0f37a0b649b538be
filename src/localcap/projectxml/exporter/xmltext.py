"""Escaping and small XML pieces every part of the project XML uses.

Attribute values use the ODM writer's escapes (line breaks as character references, so they
survive a round trip); element text escapes a CR the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from localcap.formats.odm import attr as odm_attr
from localcap.formats.xml_writer import xml_safe
from localcap.model.project import (
    strip_tags,
)

_TEXT_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#039;", "\r": "&#13;"}
)


def attr(value: Any) -> str:
    """A quoted attribute value, as in the ODM ClinicalData writer (same escapes)."""
    return odm_attr(str(value))


def text(value: Any) -> str:
    return xml_safe(str(value)).translate(_TEXT_ESCAPES)


def oid_name(title: str) -> str:
    """REDCap's OID name for a project title: words capitalised, non-alphanumerics dropped,
    at most 30 characters (``doctest project`` -> ``DoctestProject``)."""
    words = re.split(r"(\s+)", title)
    return re.sub(r"[^A-Za-z0-9]", "", "".join(w[:1].upper() + w[1:] for w in words))[:30]


def question(label: str) -> str:
    plain = strip_tags(label)
    formatted = (
        f"<redcap:FormattedTranslatedText>{text(label)}</redcap:FormattedTranslatedText>"
        if plain != label
        else ""
    )
    return f"\t\t<Question><TranslatedText>{text(plain)}</TranslatedText>{formatted}</Question>\n"


def codelist_items(items: Iterable[tuple[str, str]]) -> str:
    out = []
    for code, label in items:
        plain = strip_tags(label)
        formatted = (
            f"<redcap:FormattedTranslatedText>{text(label)}</redcap:FormattedTranslatedText>"
            if plain != label
            else ""
        )
        out.append(
            f"\t\t<CodeListItem CodedValue={attr(code)}><Decode><TranslatedText>{text(plain)}"
            f"</TranslatedText>{formatted}</Decode></CodeListItem>\n"
        )
    return "".join(out)
