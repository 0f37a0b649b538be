"""Safe, streaming reading of an untrusted REDCap project XML.

Why not ``ElementTree.parse``: a project XML can be gigabytes (base64 files inside), comes
from users, and REDCap writes *raw* line breaks inside attribute values (``Value="a<LF>b"``)
which a conforming XML parser turns into spaces, silently changing users' data. So:

1. :class:`AttributeBreakEscaper` pre-filters the byte stream with a small state machine that
   knows whether it is in text, a tag, a quoted attribute value, a comment, CDATA or a
   processing instruction, and rewrites CR/LF *inside attribute values only* into ``&#13;`` /
   ``&#10;`` (character references survive attribute-value normalisation). It also refuses any
   ``<!DOCTYPE``/``<!ENTITY``/other ``<!`` declaration outright: without a DTD there are no
   entity definitions, so no billion-laughs expansion and no external entities. The scanning
   is done with ``bytes.find``/regex jumps, never byte by byte in Python.
2. expat (through :class:`SafeXmlReader`) parses the filtered stream in chunks and calls back
   per element; the consumer keeps only what it needs, so memory stays flat. As defence in
   depth the expat handlers for DTDs and entity declarations raise too, and parameter/external
   entity parsing is off.

Errors carry the line number *in the original file* (the escaper remembers where it removed
line breaks) so a 400 can say "line 1234".
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable
from itertools import accumulate
from xml.parsers import expat

from localcap.model.errors import DomainError

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
REDCAP_NS = "https://projectredcap.org"
_NS_PREFIX = {ODM_NS: "", REDCAP_NS: "redcap:"}

_TAG_STOP = re.compile(rb"[\"'>]")
#: The longest run, from a point in text, of text and of whole tags whose attribute values
#: hold no line break: what the filter passes on unchanged without looking further. It stops
#: at a tag with a break in a value, at ``<!``/``<?`` (comments, CDATA, declarations,
#: processing instructions) and at a tag cut off by the chunk's end, which the state machine
#: then takes. One C-level regex match over a chunk, instead of Python steps per tag and
#: per attribute value, is what makes the filter run at hundreds of MB/s.
_PLAIN = re.compile(
    rb"""(?:[^<]++|<(?![!?])[^"'<>]*+(?:(?:"[^"\r\n]*+"|'[^'\r\n]*+')[^"'<>]*+)*+>)*+"""
)
#: The same run, faster, where every ``"`` is the start or end of a double-quoted value: text
#: without ``"``, whole tags, single-quoted values without ``"`` or a line break. Double-quoted
#: values (REDCap's; the long ones) are scanned for their closing quote only, which the regex
#: engine does several times faster than for a set of bytes; the run is then split at its
#: quotes, every other piece is a value, and line breaks in those are escaped there.
_PLAIN_DQ = re.compile(
    rb"""(?:[^<"]*+<[^!?"'<>][^"'<>]*+(?:"[^"]*+"[^"'<>]*+|'[^'"\r\n]*+'[^"'<>]*+)*+>)*+[^<"]*+"""
)
#: At most this many element names and attribute-name sets are remembered (a hostile file
#: could make up millions; the rest are worked out each time).
_NAME_CACHE = 10_000
_END_MARKERS = {"comment": b"-->", "cdata": b"]]>", "pi": b"?>"}


class ProjectXmlError(DomainError):
    """The file is not a REDCap project XML we can import; the message says where and why."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"{self.message} (line {self.line})" if self.line else self.message


class AttributeBreakEscaper:
    """Rewrite CR/LF inside attribute values as character references; refuse declarations.

    Feed bytes with :meth:`feed` (returns the filtered bytes ready so far), then call
    :meth:`close`. :meth:`original_line` maps a line number of the filtered stream back to the
    input (only attribute line breaks are removed, so the two differ only by those).
    """

    def __init__(self) -> None:
        self.state = "text"
        self.quote = b""
        self.pending = b""
        self.filtered_line = 1
        #: (filtered line where breaks were removed, breaks removed up to and including it)
        self._removed: deque[tuple[int, int]] = deque()
        self._removed_total = 0
        self._mapped_extra = 0
        #: pieces of the current feed's output already counted by _line_at, and their lines
        self._counted = 0
        self._counted_line = 1

    def feed(self, data: bytes) -> bytes:
        """Filter the next chunk and return what is ready; a construct cut off at the chunk's
        end waits in ``pending`` for the next call."""
        buf = self.pending + data
        self.pending = b""
        out: list[bytes] = []
        self._counted, self._counted_line = 0, self.filtered_line
        in_text, in_tag, in_quote = self._in_text, self._in_tag, self._in_quote  # hot loop
        pos, size = 0, len(buf)
        while pos < size:
            state = self.state
            if state == "text":
                pos = in_text(buf, pos, out)
            elif state == "tag":
                pos = in_tag(buf, pos, out)
            elif state == "quote":
                pos = in_quote(buf, pos, out)
            else:  # comment, cdata, pi: copied verbatim up to the end marker
                pos = self._in_verbatim(buf, pos, out, _END_MARKERS[state])
        result = b"".join(out)
        self.filtered_line += result.count(b"\n")
        return result

    # Each ``_in_<state>`` step copies from ``buf[pos:]`` into ``out`` and returns the position
    # where the next state starts (``len(buf)`` when the chunk is used up).

    def _in_text(self, buf: bytes, pos: int, out: list[bytes]) -> int:
        """Text and plain tags (:data:`_PLAIN_DQ`, else :data:`_PLAIN`), then the start of
        whatever the next ``<`` opens."""
        end = _PLAIN_DQ.match(buf, pos).end()  # type: ignore[union-attr] # matches "" at least
        if end > pos:
            run = buf[pos:end] if pos or end < len(buf) else buf
            pieces = run.split(b'"')  # every other piece is a double-quoted value
            values = b"".join(pieces[1::2])
            if b"\n" in values or b"\r" in values:
                run = self._escape_values(run, pieces, values, out)
            out.append(run)
            pos = end
        lt = _PLAIN.match(buf, pos).end()  # type: ignore[union-attr]
        if lt == len(buf):
            out.append(buf[pos:] if pos else buf)
            return lt
        out.append(buf[pos:lt])
        head = buf[lt : lt + 9]
        if len(head) < 9 and not self._decided(head):
            self.pending = buf[lt:]  # wait for more bytes to know what this "<" opens
            return len(buf)
        if head.startswith(b"<!--"):
            self.state, step = "comment", 4
        elif head.startswith(b"<![CDATA["):
            self.state, step = "cdata", 9
        elif head.startswith(b"<?"):
            self.state, step = "pi", 2
        elif head.startswith(b"<!"):
            line = self.original_line(self.filtered_line + buf.count(b"\n", 0, lt))
            raise ProjectXmlError(
                "DTDs and entity declarations (<!DOCTYPE>, <!ENTITY>) are not allowed "
                "in a project XML",
                line,
            )
        else:
            self.state, step = "tag", 1
        out.append(buf[lt : lt + step])
        return lt + step

    def _escape_values(
        self, run: bytes, pieces: list[bytes], values: bytes, out: list[bytes]
    ) -> bytes:
        """A :data:`_PLAIN_DQ` run with the line breaks in its values escaped (only there:
        between values they are text or a tag's white space). ``pieces`` is the run split at
        its quotes, ``values`` its odd pieces (the values) joined. The work is per value
        with a line break, not per value: the breaks are found in ``values``, their value
        by bisection, and lines are counted in ``run`` itself."""
        ends = list(accumulate(map(len, pieces[1::2])))  # where each value ends in `values`
        sizes = list(accumulate(map(len, pieces)))  # piece i starts at sizes[i - 1] + i in run
        lf, cr = values.find(b"\n"), values.find(b"\r")
        line = self._line_at(out)  # where the run starts
        counted = 0  # run[:counted] is in `line`, without the breaks of escaped values
        while lf >= 0 or cr >= 0:
            found = lf if cr < 0 or 0 <= lf < cr else cr
            k = bisect_right(ends, found)  # the value holding it
            i = 2 * k + 1  # its piece
            start = sizes[i - 1] + i  # (after i quotes)
            line += run.count(b"\n", counted, start)
            value = pieces[i]
            pieces[i] = self._escape_breaks(value, line)
            counted = start + len(value)
            if 0 <= lf < ends[k]:
                lf = values.find(b"\n", ends[k])
            if 0 <= cr < ends[k]:
                cr = values.find(b"\r", ends[k])
        return b'"'.join(pieces)

    def _in_tag(self, buf: bytes, pos: int, out: list[bytes]) -> int:
        """A tag up to its ``>`` or the opening quote of an attribute value."""
        m = _TAG_STOP.search(buf, pos)
        if m is None:
            out.append(buf[pos:])
            return len(buf)
        end = m.end()
        out.append(buf[pos:end])
        ch = buf[end - 1 : end]
        if ch == b">":
            self.state = "text"
        else:
            self.state, self.quote = "quote", ch
        return end

    def _in_quote(self, buf: bytes, pos: int, out: list[bytes]) -> int:
        """An attribute value up to its closing quote, its line breaks escaped."""
        close = buf.find(self.quote, pos)
        segment = buf[pos:] if close < 0 else buf[pos:close]
        if segment.endswith(b"\r") and close < 0:
            segment = segment[:-1]  # a CR whose LF may come in the next chunk
            self.pending = b"\r"
        if b"\n" in segment or b"\r" in segment:
            out.append(self._escape_breaks(segment, self._line_at(out)))
            self._counted += 1  # the escaped segment has no line breaks left
        else:
            out.append(segment)
        if close < 0:
            return len(buf)
        out.append(self.quote)
        self.state = "tag"
        return close + 1

    def _in_verbatim(self, buf: bytes, pos: int, out: list[bytes], marker: bytes) -> int:
        """A comment, CDATA section or processing instruction, unchanged, up to its end
        marker; a possible start of the marker at the chunk's end waits in ``pending``."""
        end = buf.find(marker, pos)
        if end < 0:
            keep = max(pos, len(buf) - len(marker) + 1)
            out.append(buf[pos:keep])
            self.pending = buf[keep:]
            return len(buf)
        out.append(buf[pos : end + len(marker)])
        self.state = "text"
        return end + len(marker)

    def _line_at(self, out: list[bytes]) -> int:
        """The filtered line where ``out`` ends; counts only the pieces added since the last
        call, as only attribute values with line breaks need it."""
        while self._counted < len(out):
            self._counted_line += out[self._counted].count(b"\n")
            self._counted += 1
        return self._counted_line

    @staticmethod
    def _decided(head: bytes) -> bool:
        """Whether a short ``<...`` head already tells what it opens."""
        if len(head) >= 2 and head[1:2] not in (b"!", b"?"):
            return True
        if head.startswith(b"<?"):
            return True
        return head.startswith(b"<!") and len(head) >= 3 and head[2:3] not in (b"-", b"[")

    def _escape_breaks(self, segment: bytes, line: int) -> bytes:
        removed = segment.count(b"\n")
        if b"\r" in segment:  # (rare: LF alone is what REDCap writes)
            removed += segment.replace(b"\r\n", b"").count(b"\r")
            segment = segment.replace(b"\r", b"&#13;")
        self._removed_total += removed
        self._removed.append((line, self._removed_total))
        return segment.replace(b"\n", b"&#10;")

    def close(self) -> bytes:
        rest, self.pending = self.pending, b""
        return rest

    def original_line(self, filtered_line: int, inclusive: bool = False) -> int:
        """The input line of a filtered line (monotonic callers only: memory stays flat).

        A tag's start line is before its own attribute breaks (``inclusive=False``); a parse
        error found inside a line comes after the breaks removed on it (``inclusive=True``).
        """
        limit = filtered_line + 1 if inclusive else filtered_line
        while self._removed and self._removed[0][0] < limit:
            self._mapped_extra = self._removed.popleft()[1]
        return filtered_line + self._mapped_extra


def _refuse(*_args: object) -> None:
    raise ProjectXmlError("DTDs and entity declarations are not allowed in a project XML")


def _refuse_external(*_args: object) -> int:
    raise ProjectXmlError("External entities are not allowed in a project XML")


class SafeXmlReader:
    """Push-parse a byte stream and call ``start(name, attrs, line)``, ``end(name)`` and
    ``text(data)``.

    Names are shortened: ODM elements lose their namespace (``ItemData``), REDCap's get the
    ``redcap:`` prefix (``redcap:DocName``). Handler exceptions propagate out of :meth:`feed`.
    """

    def __init__(
        self,
        start: Callable[[str, dict[str, str], int], None],
        end: Callable[[str], None],
        text: Callable[[str], None],
    ) -> None:
        self.escaper = AttributeBreakEscaper()
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = _refuse
        parser.EntityDeclHandler = _refuse
        parser.UnparsedEntityDeclHandler = _refuse
        parser.ExternalEntityRefHandler = _refuse_external
        parser.buffer_text = True
        parser.buffer_size = 1 << 16
        self._names: dict[str, str] = {}
        self._attr_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._shortcuts: dict[str, Callable[[dict[str, str]], None]] = {}
        self._start, self._end, self._text = start, end, text
        parser.StartElementHandler = self._on_start
        parser.EndElementHandler = self._on_end
        parser.CharacterDataHandler = text
        self.parser = parser
        self.seen_root = False

    def _name(self, raw: str) -> str:
        name = self._names.get(raw)
        if name is None:
            ns, sep, local = raw.rpartition(" ")
            name = local if not sep else _NS_PREFIX.get(ns, f"{{{ns}}}") + local
            if len(self._names) < _NAME_CACHE:
                self._names[raw] = name
        return name

    def _renamed(self, keys: tuple[str, ...]) -> tuple[str, ...]:
        """The shortened names of an element's attribute names, or ``()`` when none changes
        (unprefixed attributes have no namespace: ``ItemOID``, ``Value``); remembered per set
        of names (``_on_start`` looks there first), as a file repeats a few sets millions of
        times."""
        names = tuple(self._name(k) for k in keys)
        renamed = () if names == keys else names
        if len(self._attr_sets) < _NAME_CACHE:
            self._attr_sets[keys] = renamed
        return renamed

    def line(self) -> int:
        return self.escaper.original_line(self.parser.CurrentLineNumber)

    def _on_start(self, raw: str, attrs: dict[str, str]) -> None:
        # called for every element: the common cases cost a dict look-up each
        name = self._names.get(raw) or self._name(raw)
        if not self.seen_root:
            self.seen_root = True
            if name != "ODM":
                raise ProjectXmlError(
                    f"The root element is <{name}>, not <ODM>: this is not a REDCap project XML",
                    self.line(),
                )
        if attrs:
            keys = tuple(attrs)
            renamed = self._attr_sets.get(keys)
            if renamed is None:
                renamed = self._renamed(keys)
            if renamed:
                attrs = dict(zip(renamed, attrs.values(), strict=True))
        self._start(name, attrs, self.escaper.original_line(self.parser.CurrentLineNumber))

    def _on_end(self, raw: str) -> None:
        self._end(self._names.get(raw) or self._name(raw))

    def shortcut(self, name: str, start: Callable[[dict[str, str]], None]) -> None:
        """From now on, hand each ODM element ``name`` to ``start(attrs)`` alone: no
        ``start``/``end`` event, no line, attributes as expat gives them (a namespaced name
        stays long). An error it raises gets the current line. Why: ``ItemData`` is nearly
        every element of a big file, and each Python call saved on it is a second or more
        per gigabyte."""
        self._shortcuts[f"{ODM_NS} {name}"] = self._shortcuts[name] = start
        self.parser.StartElementHandler = self._on_start_shortcut
        self.parser.EndElementHandler = self._on_end_shortcut

    def _on_start_shortcut(self, raw: str, attrs: dict[str, str]) -> None:
        start = self._shortcuts.get(raw)
        if start is None:
            self._on_start(raw, attrs)
        else:
            start(attrs)

    def _on_end_shortcut(self, raw: str) -> None:
        if raw not in self._shortcuts:
            self._end(self._names.get(raw) or self._name(raw))

    def feed(self, chunk: bytes) -> None:
        self._parse(self.escaper.feed(chunk), False)

    def close(self) -> None:
        self._parse(self.escaper.close(), True)

    def _parse(self, data: bytes, final: bool) -> None:
        try:
            self.parser.Parse(data, final)
        except expat.ExpatError as exc:
            line = self.escaper.original_line(exc.lineno, inclusive=True)
            message = expat.errors.messages.get(exc.code, str(exc))
            raise ProjectXmlError(f"The file is not well-formed XML: {message}", line) from None
        except ProjectXmlError as exc:
            if exc.line is None:
                exc.line = self.line()
            raise


def read_all(chunks: Iterable[bytes], reader: SafeXmlReader) -> None:
    """Feed every chunk, then finish (raises :class:`ProjectXmlError` on any problem)."""
    for chunk in chunks:
        reader.feed(chunk)
    reader.close()
