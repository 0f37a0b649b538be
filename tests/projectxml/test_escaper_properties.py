"""The byte filter in front of expat (``safexml.AttributeBreakEscaper``) against an obvious
byte-by-byte reference, for documents cut into random chunks.

Why: the filter skips text and whole tags with one C-level regex match and only steps
through tags with line breaks in their values (and comments, CDATA, processing
instructions) with its state machine; these properties check that the shortcut changes
nothing, wherever the chunks are cut.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from localcap.projectxml.safexml import AttributeBreakEscaper, ProjectXmlError, SafeXmlReader

_MARKERS = {"comment": b"-->", "cdata": b"]]>", "pi": b"?>"}


def reference_filter(doc: bytes) -> bytes:
    """CR/LF inside attribute values -> character references; ``<!`` declarations refused;
    one byte at a time, as the rule reads."""
    out = bytearray()
    state, quote, i = "text", 0, 0
    while i < len(doc):
        byte = doc[i]
        if state == "text":
            for start, new_state in ((b"<!--", "comment"), (b"<![CDATA[", "cdata"), (b"<?", "pi")):
                if doc.startswith(start, i):
                    out += start
                    state, i = new_state, i + len(start)
                    break
            else:
                if doc.startswith(b"<!", i):
                    raise ProjectXmlError("declaration")
                state = "tag" if byte == ord("<") else "text"
                out.append(byte)
                i += 1
        elif state == "tag":
            if byte in b"\"'":
                state, quote = "quote", byte
            elif byte == ord(">"):
                state = "text"
            out.append(byte)
            i += 1
        elif state == "quote":
            if byte == quote:
                state = "tag"
            out += {13: b"&#13;", 10: b"&#10;"}.get(byte, bytes([byte]))
            i += 1
        else:
            marker = _MARKERS[state]
            if doc.startswith(marker, i):
                out += marker
                state, i = "text", i + len(marker)
            else:
                out.append(byte)
                i += 1
    return bytes(out)


def filtered(doc: bytes, cuts: list[int]) -> bytes:
    escaper = AttributeBreakEscaper()
    bounds = [0, *sorted({c % (len(doc) + 1) for c in cuts}), len(doc)]
    out = [escaper.feed(doc[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    return b"".join(out) + escaper.close()


FRAGMENTS = st.sampled_from(
    [b"<a", b"</a>", b"<b/>", b" c=", b'"', b"'", b">", b"/>", b"\n", b"\r", b"\r\n", b"x",
     b"<", b"<!-- ", b"-->", b"<![CDATA[", b"]]>", b"<?pi", b"?>", b"<!DOCTYPE", b"<!", b"-",
     b"\xc3\xa9", b"&#10;", b"[", b"?", b"!"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(FRAGMENTS, max_size=60), st.lists(st.integers(0, 10_000), max_size=8))
def test_filter_matches_reference(pieces: list[bytes], cuts: list[int]):
    """Any byte soup, cut anywhere: the same bytes out, or the same refusal, as the
    reference (a ``<!`` still undecided at the very end is left for expat, as before)."""
    doc = b"".join(pieces) + b"\n<end/>"
    try:
        expected = reference_filter(doc)
    except ProjectXmlError:
        with pytest.raises(ProjectXmlError):
            filtered(doc, cuts)
        return
    assert filtered(doc, cuts) == expected


def _value(quote: str) -> st.SearchStrategy[str]:
    other = "'" if quote == '"' else '"'
    parts = ["a", " ", ">", "\n", "\r\n", "\r", "&amp;", "&#10;", "é", other]
    return st.lists(st.sampled_from(parts), max_size=8).map("".join)


@st.composite
def _element(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    """(xml, name, attribute values as a parser must report them) of one element."""
    name = draw(st.sampled_from(["a", "b", "ItemData"]))
    attrs: dict[str, str] = {}
    xml = f"<{name}"
    for key in draw(st.lists(st.sampled_from(["k", "Value", "ItemOID"]), unique=True)):
        quote = draw(st.sampled_from(['"', "'"]))
        raw = draw(_value(quote))
        xml += draw(st.sampled_from([" ", "\n ", "\r\n\t"])) + f"{key}={quote}{raw}{quote}"
        attrs[key] = raw.replace("&amp;", "&").replace("&#10;", "\n")
    body = draw(
        st.sampled_from(["", "text \"'>\n", "<!-- \"\n<c x='\n'> -->", "<![CDATA[<\"'\n>]]>"])
    )
    xml += f">{body}</{name}>" if body else "/>"
    return xml, name, attrs


@settings(max_examples=200, deadline=None)
@example(  # several values with line breaks in one run of the filter's quick pattern
    elements=[
        ('<a k="1\n2"/>', "a", {"k": "1\n2"}),
        ('<b k="3\r\n4" v="\n"/>', "b", {"k": "3\r\n4", "v": "\n"}),
        ('<c k="5"/>', "c", {"k": "5"}),
    ],
    cuts=[],
    newline="\n",
)
@given(
    st.lists(_element(), max_size=12),
    st.lists(st.integers(0, 10_000), max_size=8),
    st.sampled_from(["\n", "\r\n", "\n\n"]),
)
def test_reader_keeps_values_and_lines(
    elements: list[tuple[str, str, dict[str, str]]], cuts: list[int], newline: str
):
    """Well-formed documents with raw line breaks in values, cut anywhere: every value comes
    out as written (CR and LF kept), and every element's line is its line in the file."""
    doc, expected, line = "<ODM>", [("ODM", {}, 1)], 1
    for xml, name, attrs in elements:
        doc += newline
        line += newline.count("\n")
        expected.append((name, attrs, line))
        doc += xml
        line += xml.replace("\r\n", "\n").replace("\r", "\n").count("\n")
    doc += "\n<?pi x?></ODM>"
    data = doc.encode("utf-8")
    starts: list[tuple[str, dict[str, str], int]] = []
    reader = SafeXmlReader(lambda n, a, ln: starts.append((n, a, ln)), lambda _n: None, str)
    bounds = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        reader.feed(data[a:b])
    reader.close()
    assert starts == expected


def _filter_seconds(doc: bytes) -> float:
    """Best of three: filtering ``doc`` fed in 1 MB chunks, as the importer feeds a file."""
    best = float("inf")
    for _ in range(3):
        escaper = AttributeBreakEscaper()
        start = time.perf_counter()
        for at in range(0, len(doc), 1 << 20):
            escaper.feed(doc[at : at + (1 << 20)])
        escaper.close()
        best = min(best, time.perf_counter() - start)
    return best


def test_line_breaks_in_values_do_not_make_the_filter_quadratic():
    """A raw line break in every value (a multi-line note in every record, as REDCap writes
    it) costs a few times the time of a file without any, not a rescan of the rest of the
    chunk per value."""
    note = "word " * 40
    plain = "".join(f'<ItemData ItemOID="n{i}" Value="{note}&#10;{i}"/>\n' for i in range(10000))
    broken = plain.replace("&#10;", "\n")
    assert len(plain) > 2 << 20
    ratio = _filter_seconds(broken.encode()) / _filter_seconds(plain.encode())
    assert ratio < 30, ratio  # about 7 here; a rescan per value made it over 1,000
