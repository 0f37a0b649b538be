"""The byte layout of the PDF file: the first page's object first, as REDCap's PDFs have it.

REDCap writes its PDFs with FPDF, whose files begin ``%PDF-1.3`` and then the first page,
object 3: PyCap's ``export_pdf`` docstring example, recorded against REDCap, shows the
content as ``b'%PDF-1.3\\n3 0 obj\\n...``. fpdf2 numbers its objects the same way (1 the page
tree, 3 the first page) but writes them in number order after a binary-marker comment line.
PDF readers find objects through the cross-reference table, not by position (PDF 32000-1,
7.5.4), so :func:`first_page_first` moves object 3 to the front, drops the optional comment
line, and rewrites the cross-reference offsets: the same document, REDCap's first bytes.
"""

from __future__ import annotations

import re

HEADER = b"%PDF-1.3\n"
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
FIRST_PAGE = 3


def first_page_first(pdf: bytes) -> bytes:
    """Reorder a classic-xref PDF (as fpdf2 writes it) so object 3 comes first; any other
    layout is returned unchanged."""
    end = _STARTXREF.search(pdf)
    if end is None or not pdf.startswith(HEADER):
        return pdf
    xref_at = int(end.group(1))
    lines = pdf[xref_at:].split(b"\n")
    if lines[0].strip() != b"xref":
        return pdf
    first, count = (int(n) for n in lines[1].split())
    entries = lines[2 : 2 + count]
    trailer = b"\n".join(lines[2 + count :])
    offsets = {
        first + i: int(entry[:10])
        for i, entry in enumerate(entries)
        if entry.strip().endswith(b"n")
    }
    if first != 0 or FIRST_PAGE not in offsets:
        return pdf
    order = sorted(offsets, key=offsets.get)
    bounds = [offsets[n] for n in order] + [xref_at]
    chunks = {n: pdf[bounds[i] : bounds[i + 1]] for i, n in enumerate(order)}
    body = bytearray(HEADER)
    new_offsets: dict[int, int] = {}
    for number in [FIRST_PAGE, *(n for n in order if n != FIRST_PAGE)]:
        new_offsets[number] = len(body)
        body += chunks[number]
    xref = [b"xref", b"0 %d" % count, b"0000000000 65535 f "]
    for number in range(1, count):
        if number in new_offsets:
            xref.append(b"%010d 00000 n " % new_offsets[number])
        else:
            xref.append(b"0000000000 65535 f ")
    trailer = _STARTXREF.sub(b"startxref\n%d\n%%%%EOF\n" % len(body), trailer)
    return bytes(body) + b"\n".join(xref) + b"\n" + trailer
