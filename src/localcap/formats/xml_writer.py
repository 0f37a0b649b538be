"""REDCap's XML lists: ``<records><item><field><![CDATA[value]]></field>...</item></records>``.

The shape (from the reference doc's recorded report output)::

    <?xml version="1.0" encoding="UTF-8" ?>
    <records>
    <item><f1><![CDATA[v]]></f1><f2></f2></item>
    </records>

Non-empty values go in CDATA, empty ones are ``<f></f>``. REDCap uses the same
``<records><item>`` shape for its other list exports (metadata, arms, events, users, ...), which
:func:`write_xml_items` writes.

Two things REDCap does not guard against and we do, so the output is always well-formed XML:

* a value containing ``]]>`` would end its CDATA section early; it is split across two
  sections (``]]`` + ``>``), which every parser joins back into the original text;
* characters XML 1.0 forbids anywhere (C0 controls other than tab/LF/CR, lone surrogates,
  U+FFFE/U+FFFF) cannot be represented at all, not even as character references; they are
  dropped rather than making the whole export unparseable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

CHUNK_BYTES = 1 << 16
PROLOG = '<?xml version="1.0" encoding="UTF-8" ?>\n'

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("", text) if _NOT_XML.search(text) else text


def cdata(value: str) -> str:
    """Wrap in CDATA; a ``]]>`` inside is split across two sections so the XML stays valid."""
    return "<![CDATA[" + xml_safe(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def item_xml(keys: Sequence[str], row: Sequence[object]) -> str:
    """One ``<item>...</item>`` line (with its newline)."""
    cells = []
    for key, value in zip(keys, row, strict=False):
        text = "" if value is None else value if isinstance(value, str) else str(value)
        cells.append(f"<{key}>{cdata(text)}</{key}>" if text != "" else f"<{key}></{key}>")
    return "<item>" + "".join(cells) + "</item>\n"


def write_xml_records(
    header: Sequence[str], rows: Iterable[Sequence[str | int]], root: str = "records"
) -> Iterator[bytes]:
    """Stream ``rows`` as REDCap's XML, in ~64 KB chunks; no rows gives an empty ``<records>``.

    ``header`` holds element names: REDCap field names (``[a-z0-9_]``) and its fixed column
    names are always valid ones.
    """
    keys = list(header)
    return _chunked(root, (item_xml(keys, row) for row in rows))


def _chunked(root: str, lines: Iterable[str]) -> Iterator[bytes]:
    """The ``<records>`` document around ``lines``, in chunks of about CHUNK_BYTES."""
    parts = [f"{PROLOG}<{root}>\n"]
    size = len(parts[0])
    for line in lines:
        parts.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(parts).encode()
            parts, size = [], 0
    parts.append(f"</{root}>\n")
    yield "".join(parts).encode()


def write_xml_items(
    items: Iterable[Mapping[str, object]], root: str = "records"
) -> Iterator[bytes]:
    """Stream a list of dicts (each its own keys, in order) in the same ``<records><item>`` shape.

    For list exports whose items need not share keys; values are converted with ``str``.
    """
    return _chunked(root, (item_xml(list(item), list(item.values())) for item in items))
