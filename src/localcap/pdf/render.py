"""Drawing pages with fpdf2: the paper form a data collector would fill in, or did.

Layout, after REDCap's PDFs: US Letter, a running header (project title left, record and
event right, the instrument's name below), then one row per field: the label (wrapped, field
note under it in grey) on the left, the answer on the right. Text-like fields get a box
holding the value; choice fields list every option with a radio circle (radio, dropdown,
yes/no, true/false) or a check box (checkbox), the chosen ones filled; matrix groups share one
row of column headings. Section headers are shaded bars, descriptive text runs full width.
A row that does not fit on what is left of a page starts a new one; a row taller than a whole
page flows across pages. Pages are numbered in the footer.

Memory: fpdf2 keeps the document until it is written out; pages are fed in one by one
from a generator, so the caller never holds more than one record's data at a time.

Work is bounded (a 400 KB notes value once took 29 s for one page, and ``allRecords`` over
5 MB values ran for more than 11 minutes): a text drawn is cut at :data:`MAX_TEXT` characters
with a note saying how much is left out (Export Records has the whole value), a PDF has at
most :data:`MAX_PAGES` pages (:class:`PdfTooLarge` beyond), and HarfBuzz shaping, which costs
about 30 times plain layout, is used only for text in the scripts that need it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fpdf import FPDF

from localcap.pdf.content import REMOVED_TEXT, Item, Page, plain_text
from localcap.pdf.fonts import find_fonts
from localcap.pdf.layout import first_page_first

FAMILY = "dejavu"
CORE_FAMILY = "helvetica"

MARGIN = 12.0
LABEL_SHARE = 0.52
GAP = 4.0
LINE = 4.6  # line height at the body size (mm)
BODY, SMALL, TITLE = 9.5, 7.5, 13.0
BOX_MIN = 7.0
NOTES_MIN = 16.0
SYMBOL = 6.0  # the column of a radio circle / check box glyph
MATRIX_MAX_COLUMNS = 8
GREY, DARK, SHADE = (110, 110, 110), (30, 30, 30), (225, 230, 238)

CHOICE_TYPES = frozenset({"radio", "dropdown", "yesno", "truefalse", "checkbox"})

#: The most characters of one text (a value, a label) drawn: about two pages of a notes box.
MAX_TEXT = 5000
#: The most pages of one PDF; more is refused (ask for fewer records, one event or form).
MAX_PAGES = 2000
#: Text that needs HarfBuzz: combining marks, right-to-left and the complex scripts from
#: Hebrew to Mongolian, bidi controls, Arabic presentation forms, variation selectors.
_NEEDS_SHAPING = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u0590-\u18af\u1ab0-\u1aff\u1dc0-\u1dff"
    "\u200c-\u200f\u202a-\u202e\u2066-\u2069\u20d0-\u20ff\ufb1d-\ufdff"
    "\ufe00-\ufe2f\ufe70-\ufeff]"
)


class PdfTooLarge(Exception):
    """The PDF asked for would have more than :data:`MAX_PAGES` pages."""


def bounded(text: str) -> str:
    """``text``, cut at :data:`MAX_TEXT` characters with a note of what is left out."""
    if len(text) <= MAX_TEXT:
        return text
    rest = len(text) - MAX_TEXT
    return (
        f"{text[:MAX_TEXT]} [... {rest:,} more characters not shown in the PDF: "
        "Export Records gives the whole value]"
    )


@dataclass
class _Context:
    """What the running header shows on the current page."""

    project_title: str = ""
    form_label: str = ""
    record_line: str = ""


class _Document(FPDF):
    def __init__(self, unicode_font: bool) -> None:
        super().__init__(orientation="P", unit="mm", format="Letter")
        self.context = _Context()
        self.unicode_font = unicode_font
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 4)

    def use(self, size: float, bold: bool = False, colour: tuple[int, int, int] = DARK) -> None:
        self.set_font(FAMILY if self.unicode_font else CORE_FAMILY, "B" if bold else "", size)
        self.set_text_color(*colour)

    def clean(self, text: str) -> str:
        """The text to draw next: at most :data:`MAX_TEXT` characters, that the current font
        can show (Helvetica: Latin-1 only); shaping is switched on only if the text needs it.
        Every text goes through here just before it is measured or drawn."""
        text = bounded(text)
        if not self.unicode_font:
            return text.encode("latin-1", "replace").decode("latin-1")
        shape = _NEEDS_SHAPING.search(text) is not None
        if shape != bool(self.text_shaping):
            self.set_text_shaping(use_shaping_engine=shape)
        return text

    def add_page(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        if self.page >= MAX_PAGES:
            raise PdfTooLarge
        super().add_page(*args, **kwargs)  # type: ignore[arg-type]

    def header(self) -> None:
        ctx = self.context
        width = self.epw
        self.set_xy(MARGIN, 7)
        self.use(SMALL, colour=GREY)
        self.cell(width * 0.6, 4, self.clean(ctx.project_title[:90]))
        self.set_xy(MARGIN + width * 0.4, 7)
        self.cell(width * 0.6, 4, self.clean(ctx.record_line[:90]), align="R")
        self.set_xy(MARGIN, 12)
        self.use(TITLE, bold=True)
        self.multi_cell(width, 6, self.clean(ctx.form_label), align="L")
        self.set_draw_color(*GREY)
        self.line(MARGIN, self.get_y() + 1, MARGIN + width, self.get_y() + 1)
        self.set_y(self.get_y() + 4)

    def footer(self) -> None:
        self.set_y(-MARGIN)
        self.use(SMALL, colour=GREY)
        self.cell(0, 4, f"Page {self.page_no()}", align="C")


def record_line(page: Page, record_label: str) -> str:
    """The header's right side: ``Record ID 1 (Baseline) #2``, or "" for blank pages."""
    if not page.record:
        return page.event_label
    text = f"{record_label} {page.record}"
    if page.event_label:
        text += f" ({page.event_label})"
    if page.instance:
        text += f" #{page.instance}"
    return text


class PdfWriter:
    """Collects pages into one PDF; :meth:`output` gives the bytes."""

    def __init__(self, project_title: str, record_label: str) -> None:
        fonts = find_fonts()
        self.doc = _Document(unicode_font=fonts is not None)
        if fonts is not None:
            self.doc.add_font(FAMILY, "", str(fonts.regular))
            self.doc.add_font(FAMILY, "B", str(fonts.bold))
            # HarfBuzz shaping (right-to-left scripts in reading order, Arabic letters joined)
            # is switched on by _Document.clean for the texts that need it.
        self.doc.set_title(project_title)
        self.doc.set_creator("localcap")
        self.doc.context.project_title = project_title
        self.record_label = record_label
        self.pages = 0

    # -- geometry ---------------------------------------------------------------------------
    @property
    def label_width(self) -> float:
        return self.doc.epw * LABEL_SHARE

    @property
    def answer_x(self) -> float:
        return MARGIN + self.label_width + GAP

    @property
    def answer_width(self) -> float:
        return self.doc.epw - self.label_width - GAP

    def _lines(self, text: str, width: float, size: float, bold: bool = False) -> int:
        if not text:
            return 0
        self.doc.use(size, bold)
        lines = self.doc.multi_cell(
            width, LINE, self.doc.clean(text), dry_run=True, output="LINES", align="L"
        )
        return max(1, len(lines))

    def _fits(self, height: float) -> bool:
        return self.doc.get_y() + height <= self.doc.page_break_trigger

    def _usable(self) -> float:
        return self.doc.page_break_trigger - self.doc.t_margin - 22

    def _need(self, height: float) -> None:
        if not self._fits(height):
            self.doc.add_page()

    # -- pages ------------------------------------------------------------------------------
    def add(self, page: Page) -> None:
        doc = self.doc
        doc.context.form_label = page.form.form_label or page.form.form_name
        doc.context.record_line = record_line(page, self.record_label)
        doc.add_page()
        self.pages += 1
        items = page.items
        i = 0
        while i < len(items):
            group = self._matrix_group(items, i)
            if len(group) > 1:
                self._matrix(group)
                i += len(group)
            else:
                self._item(items[i])
                i += 1

    def add_all(self, pages: Iterable[Page]) -> None:
        for page in pages:
            self.add(page)

    def note(self, title: str, text: str) -> None:
        """A page with a message only (a PDF with nothing else to show)."""
        self.doc.context.form_label = title
        self.doc.context.record_line = ""
        self.doc.add_page()
        self.doc.use(BODY)
        self.doc.multi_cell(self.doc.epw, LINE, self.doc.clean(text), align="L")
        self.pages += 1

    def output(self) -> bytes:
        return first_page_first(bytes(self.doc.output()))

    # -- fields -----------------------------------------------------------------------------
    def _section(self, text: str) -> None:
        doc = self.doc
        height = self._lines(text, doc.epw - 4, BODY, bold=True) * LINE + 3
        self._need(height + 10)  # never a header alone at the foot of a page
        doc.set_fill_color(*SHADE)
        doc.set_x(MARGIN)
        doc.use(BODY, bold=True)
        doc.multi_cell(
            doc.epw, LINE, doc.clean(text), fill=True, padding=(1.5, 2, 1.5, 2), align="L"
        )
        doc.ln(1.5)

    def _item(self, item: Item) -> None:
        f = item.field
        if f.section_header.strip():
            self._section(plain_text(f.section_header))
        label = plain_text(f.field_label)
        if f.field_type == "descriptive":
            self._descriptive(label)
            return
        note = plain_text(f.field_note)
        label_height = self._lines(label, self.label_width, BODY) * LINE
        label_height += self._lines(note, self.label_width, SMALL) * (LINE - 0.8)
        answer_height, draw = self._answer(item)
        height = max(label_height, answer_height) + 3
        doc = self.doc
        if height > self._usable():
            self._flow(label, note, draw, answer_height)
            return
        self._need(height)
        top = doc.get_y()
        self._label(label, note, top)
        draw(self.answer_x, top + 0.5)
        doc.set_y(top + height)
        self._rule()

    def _label(self, label: str, note: str, top: float) -> None:
        doc = self.doc
        doc.set_xy(MARGIN, top)
        doc.use(BODY)
        doc.multi_cell(self.label_width, LINE, doc.clean(label), align="L")
        if note:
            doc.set_x(MARGIN)
            doc.use(SMALL, colour=GREY)
            doc.multi_cell(self.label_width, LINE - 0.8, doc.clean(note), align="L")

    def _flow(
        self, label: str, note: str, draw: Callable[[float, float], None], answer_height: float
    ) -> None:
        """A row taller than a page: label across pages, then the answer under it."""
        doc = self.doc
        self._label(label, note, doc.get_y())
        doc.ln(1)
        self._need(min(answer_height, self._usable()))
        draw(self.answer_x, doc.get_y())
        self._rule()

    def _rule(self) -> None:
        doc = self.doc
        doc.set_draw_color(215, 215, 215)
        doc.line(MARGIN, doc.get_y() - 1.2, MARGIN + doc.epw, doc.get_y() - 1.2)

    def _descriptive(self, text: str) -> None:
        doc = self.doc
        if not text:
            return
        height = self._lines(text, doc.epw, BODY) * LINE + 3
        if height <= self._usable():
            self._need(height)
        doc.set_x(MARGIN)
        doc.use(BODY)
        doc.multi_cell(doc.epw, LINE, doc.clean(text), align="L")
        doc.ln(3)

    # -- answers: (height, draw at (x, y)) ----------------------------------------------------
    def _answer(self, item: Item) -> tuple[float, Callable[[float, float], None]]:
        f = item.field
        if item.removed:
            return self._box(REMOVED_TEXT, BOX_MIN, grey=True)
        if f.field_type in CHOICE_TYPES:
            return self._choices(item)
        value = item.value if isinstance(item.value, str) else ", ".join(item.value)
        if f.field_type == "slider":
            value = self._slider_text(f.select_choices_or_calculations, value)
        minimum = NOTES_MIN if f.field_type == "notes" else BOX_MIN
        return self._box(value, minimum)

    @staticmethod
    def _slider_text(labels: str, value: str) -> str:
        scale = " | ".join(plain_text(p) for p in labels.split("|") if p.strip())
        return (
            f"{value}\n({scale})" if scale and value else value or (f"({scale})" if scale else "")
        )

    def _box(
        self, text: str, minimum: float, grey: bool = False
    ) -> tuple[float, Callable[[float, float], None]]:
        width = self.answer_width
        inner = self._lines(text, width - 3, BODY) * LINE
        height = max(minimum, inner + 2.5)

        def draw(x: float, y: float) -> None:
            doc = self.doc
            doc.set_draw_color(*GREY)
            if height <= self._usable() and y + height <= doc.page_break_trigger:
                doc.rect(x, y, width, height)
                doc.set_xy(x + 1.5, y + 1.2)
                doc.use(BODY, colour=GREY if grey else DARK)
                doc.multi_cell(width - 3, LINE, doc.clean(text), align="L")
            else:  # too long for one page: a bordered flow of lines
                doc.set_xy(x, y)
                doc.use(BODY, colour=GREY if grey else DARK)
                doc.multi_cell(width, LINE, doc.clean(text), border=1, padding=1, align="L")
                doc.ln(2)

        return height, draw

    def _choices(self, item: Item) -> tuple[float, Callable[[float, float], None]]:
        f = item.field
        chosen = set(item.value) if isinstance(item.value, tuple) else {item.value}
        square = f.field_type == "checkbox"
        options = [(code, plain_text(label)) for code, label in f.choices.items()]
        unknown = sorted(c for c in chosen if c and c not in f.choices)
        text_width = self.answer_width - SYMBOL - 1
        heights = [self._lines(label or code, text_width, BODY) * LINE for code, label in options]
        extra = ", ".join(unknown)
        extra_height = self._lines(extra, self.answer_width, BODY) * LINE if extra else 0
        height = sum(heights) + extra_height + 1

        def draw(x: float, y: float) -> None:
            doc = self.doc
            for (code, label), h in zip(options, heights, strict=True):
                if y + h > doc.page_break_trigger:
                    doc.add_page()
                    y = doc.get_y()
                self._symbol(x, y, square, code in chosen, SYMBOL)
                doc.set_xy(x + SYMBOL + 1, y)
                doc.use(BODY, bold=code in chosen)
                doc.multi_cell(text_width, LINE, doc.clean(label or code), align="L")
                y += h
            if extra:
                doc.set_xy(x, y)
                doc.use(BODY)
                doc.multi_cell(self.answer_width, LINE, doc.clean(extra), align="L")

        return height, draw

    def _symbol(self, x: float, y: float, square: bool, filled: bool, width: float) -> None:
        """A check box or radio circle as a glyph, so that it is text (copied, searched, read
        aloud) like the label beside it: ☐/☒ and ○/◉, or [ ]/[X] and ( )/(X) in Helvetica."""
        doc = self.doc
        if doc.unicode_font:
            mark = ("☒" if filled else "☐") if square else ("◉" if filled else "○")
        else:
            mark = ("[X]" if filled else "[ ]") if square else ("(X)" if filled else "( )")
        doc.set_xy(x, y)
        doc.use(BODY + (1.5 if doc.unicode_font else 0), bold=filled)
        doc.cell(width, LINE, mark, align="C")

    # -- matrix groups ------------------------------------------------------------------------
    @staticmethod
    def _matrix_group(items: list[Item], start: int) -> list[Item]:
        """Consecutive choice fields of one matrix group with the same choices."""
        first = items[start].field
        name = first.matrix_group_name.strip()
        if not name or first.field_type not in CHOICE_TYPES or first.field_type == "dropdown":
            return [items[start]]
        if not 1 < len(first.choices) <= MATRIX_MAX_COLUMNS:
            return [items[start]]
        group = [items[start]]
        for item in items[start + 1 :]:
            f = item.field
            if f.matrix_group_name.strip() != name or f.choices != first.choices:
                break
            group.append(item)
        return group

    def _matrix(self, group: list[Item]) -> None:
        doc = self.doc
        first = group[0].field
        if first.section_header.strip():
            self._section(plain_text(first.section_header))
        codes = list(first.choices)
        column = self.answer_width / len(codes)
        headings = [plain_text(first.choices[c]) or c for c in codes]
        heading_height = max(self._lines(h, column - 1, SMALL) for h in headings) * (LINE - 0.8)
        self._need(heading_height + 12)
        self._matrix_headings(headings, column, heading_height)
        for item in group:
            label = plain_text(item.field.field_label)
            height = self._lines(label, self.label_width, BODY) * LINE + 3
            if not self._fits(height):
                doc.add_page()
                self._matrix_headings(headings, column, heading_height)
            top = doc.get_y()
            self._label(label, "", top)
            if item.removed:
                doc.set_xy(self.answer_x, top)
                doc.use(BODY, colour=GREY)
                doc.cell(self.answer_width, LINE, REMOVED_TEXT)
            else:
                chosen = set(item.value) if isinstance(item.value, tuple) else {item.value}
                square = item.field.field_type == "checkbox"
                for i, code in enumerate(codes):
                    self._symbol(self.answer_x + i * column, top, square, code in chosen, column)
            doc.set_y(top + height)
            self._rule()

    def _matrix_headings(self, headings: list[str], column: float, height: float) -> None:
        doc = self.doc
        top = doc.get_y()
        doc.use(SMALL, colour=GREY)
        for i, heading in enumerate(headings):
            doc.set_xy(self.answer_x + i * column, top)
            doc.multi_cell(column - 1, LINE - 0.8, doc.clean(heading), align="C")
        doc.set_y(top + height + 1.5)
