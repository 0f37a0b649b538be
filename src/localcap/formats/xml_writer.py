"""REDCap's XML: ``<records><item><field><![CDATA[value]]></field>...</item></records>``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

CHUNK = 1 << 16
PROLOG = '<?xml version="1.0" encoding="UTF-8" ?>\n'


def cdata(value: str) -> str:
    """Wrap in CDATA; a ``]]>`` inside is split across two sections so the XML stays valid."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def item_xml(keys: Sequence[str], row: Sequence[object]) -> str:
    cells = []
    for key, value in zip(keys, row, strict=False):
        text = value if isinstance(value, str) else str(value)
        cells.append(f"<{key}>{cdata(text)}</{key}>" if text != "" else f"<{key}></{key}>")
    return "<item>" + "".join(cells) + "</item>\n"


def write_xml_records(
    header: Sequence[str], rows: Iterable[Sequence[object]], root: str = "records"
) -> Iterator[bytes]:
    keys = list(header)
    parts = [f"{PROLOG}<{root}>\n"]
    size = len(parts[0])
    for row in rows:
        line = item_xml(keys, row)
        parts.append(line)
        size += len(line)
        if size >= CHUNK:
            yield "".join(parts).encode()
            parts, size = [], 0
    parts.append(f"</{root}>\n")
    yield "".join(parts).encode()


def write_xml_items(items: Iterable[Mapping[str, object]], root: str = "records") -> bytes:
    body = []
    for item in items:
        body.append(item_xml(list(item), list(item.values())))
    return f"{PROLOG}<{root}>\n{''.join(body)}</{root}>\n".encode()
