"""The report's fonts and right-to-left text (core.report.fonts, core.report.rtl): which font
draws which character, the markup, display order, cutting long fields, and a property test of
the markup over arbitrary text."""

from __future__ import annotations

import io
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.report.blocks import (
    FIELD_CHARS,
    NOTES_LINES_ON_PAGE_ONE,
    multiline,
    page_one_notes,
    shorten,
    table,
)
from core.report.fonts import (
    FALLBACK_FONTS,
    FONT_DIR,
    PRIMARY,
    font_for,
    graphics_string,
    has_glyph,
    markup,
    paragraph,
    printable,
    runs,
    visual_runs,
)
from core.report.rtl import base_is_rtl, levels, shape, visual
from tests.core.report.test_document import make_data


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


# --- the shipped fonts ---------------------------------------------------------------------------


def test_the_fonts_are_shipped_as_truetype_with_their_licences() -> None:
    from reportlab.pdfbase.ttfonts import TTFontFile

    files = [f.file for f in FALLBACK_FONTS] + [f.bold_file for f in FALLBACK_FONTS if f.bold_file]
    for name in files:
        path = FONT_DIR / name
        assert path.is_file(), name
        with path.open("rb") as fh:  # TrueType outlines (glyf), not CFF ("OTTO"): embeddable
            assert fh.read(4) == b"\x00\x01\x00\x00", name
        TTFontFile(str(path))  # reportlab reads it (it refuses CFF outlines)
    licences = sorted(p.name for p in FONT_DIR.glob("LICENSE-*"))
    assert licences == [
        "LICENSE-DejaVu.txt",
        "LICENSE-DroidSansFallback.txt",
        "LICENSE-Symbola.txt",
    ]
    assert sum(p.stat().st_size for p in FONT_DIR.iterdir()) < 10 * 2**20


@pytest.mark.parametrize(
    ("ch", "font"),
    [
        ("A", PRIMARY),
        ("é", PRIMARY),
        ("€", PRIMARY),
        ("–", PRIMARY),
        ("λ", "DejaVuSans"),
        ("Ж", "DejaVuSans"),
        ("ש", "DejaVuSans"),
        ("\ufee3", "DejaVuSans"),  # Arabic meem, initial form
        ("→", "DejaVuSans"),
        ("你", "DroidSansFallback"),
        ("，", "DroidSansFallback"),
        ("カ", "DroidSansFallback"),
        ("한", "DroidSansFallback"),
        ("🙂", "Symbola"),
        ("😟", "Symbola"),  # DejaVu has this one too: emoji take Symbola first, all alike
    ],
)
def test_each_character_goes_to_the_first_font_with_its_glyph(ch: str, font: str) -> None:
    assert font_for(ch) == font
    assert has_glyph(font, ch)


def test_bold_text_uses_bold_faces_where_there_are_some() -> None:
    assert markup("Καλημέρα", bold=True) == '<font name="DejaVuSans-Bold">Καλημέρα</font>'
    assert markup("你好", bold=True) == '<font name="DroidSansFallback">你好</font>'
    assert visual_runs("P-λ", "Helvetica-Bold") == [
        ("Helvetica-Bold", "P-"),
        ("DejaVuSans-Bold", "λ"),
    ]


# --- text made printable, runs of one font, markup -------------------------------------------------


def test_markup_escapes_and_names_a_font_only_where_helvetica_lacks_glyphs() -> None:
    assert markup("Praxis am See & Partner <1>") == "Praxis am See &amp; Partner &lt;1&gt;"
    assert markup("Dr. Καλημέρα & 你好，世界 🙂") == (
        'Dr. <font name="DejaVuSans">Καλημέρα &amp; </font>'
        '<font name="DroidSansFallback">你好，世界 </font>'
        '<font name="Symbola">🙂</font>'
    )
    # a space or punctuation mark stays in the run before it: one run for a sentence
    assert runs("שלום עולם, מה?") == [("DejaVuSans", "שלום עולם, מה?")]


def test_printable_drops_controls_and_invisible_characters_and_shapes_arabic() -> None:
    assert printable("a\tb\nc\r\nd\x00e\x07f\u2028g") == "a b c  def g"
    assert printable("x\u200dy\u200fz\ufe0f") == "xyz"  # joiner, RLM, variation selector
    shaped = printable("مرحبا")
    assert shaped == "\ufee3\ufeae\ufea3\ufe92\ufe8e" and nfkc(shaped) == "مرحبا"
    assert printable("لا") == "\ufefb"  # lam-alef ligature
    assert nfkc(printable("مَرْحَبًا")) == nfkc("مَرْحَبًا")  # vowel marks are kept


def test_right_to_left_lines_in_display_order_with_mirrored_brackets() -> None:
    assert visual("abc (12)") == "abc (12)"
    assert visual("a (שלום) b") == "a (םולש) b"
    assert visual("שלום, עולם!") == "!םלוע ,םולש"
    # in a right-to-left paragraph the number and its brackets go left, brackets mirrored
    assert visual(shape("مرحبا (2)")) == "(2) " + shape("مرحبا")[::-1]
    # bracket pairs (UAX #9 N0): Latin around Arabic keeps its brackets in place
    assert visual("Erika (מרים) 123") == "Erika (םירמ) 123"
    assert base_is_rtl("123 שלום abc") and not base_is_rtl("123 abc שלום") and not base_is_rtl("12")


def test_python_bidi_gives_the_embedding_levels() -> None:
    # core.report.rtl reads them from python-bidi's debug output: this notices a change of form
    assert levels("ab שלום") == [0, 0, 0, 1, 1, 1, 1]
    assert levels("é שלום") == [0, 0, 1, 1, 1, 1]  # é, ש…: two bytes each in UTF-8
    assert levels("(λ) ש", rtl=True) == [1, 2, 1, 1, 1]


def test_graphics_string_is_one_string_unless_it_needs_more_fonts() -> None:
    from reportlab.graphics.shapes import Group, String

    plain = graphics_string(10, 5, "first 15:00", fontSize=7, textAnchor="middle")
    assert isinstance(plain, String) and plain.text == "first 15:00"
    mixed = graphics_string(10, 5, "P-שלום", fontSize=7)
    assert isinstance(mixed, Group)
    assert [(s.fontName, s.text) for s in mixed.contents] == [
        ("Helvetica", "P-"),
        ("DejaVuSans", "םולש"),
    ]
    assert mixed.contents[1].x > mixed.contents[0].x


def test_a_table_cell_of_plain_text_in_another_script_becomes_a_paragraph() -> None:
    from reportlab.platypus import Paragraph

    t = table([["Device", "Type"], ["Sensor λ", "Simulated"]], [200.0, 100.0])
    cell = t._cellvalues[1][0]
    assert isinstance(cell, Paragraph)
    assert [f.fontName for f in cell.frags] == ["Helvetica", "DejaVuSans"]
    assert t._cellvalues[1][1] == "Simulated"  # Helvetica draws it: left as it is


# --- long fields -------------------------------------------------------------------------------------


def test_shorten_cuts_at_a_word_and_says_how_much_is_left_out() -> None:
    assert shorten("short") == "short"
    text = "word " * 100  # 500 characters
    cut = shorten(text)
    head, tail = cut.split("\n")
    assert len(head) <= FIELD_CHARS and head.endswith("word") and text.startswith(head)
    assert tail == f"(… {500 - len(head)} more characters, see the app)"
    assert shorten("x" * 100_000, 1000) == "x" * 1000 + "\n(… 99 000 more characters, see the app)"
    assert "<br/>(… 99 000 more" in multiline(shorten("x" * 100_000, 1000))


def test_page_one_notes_are_cut_after_ten_lines_too() -> None:
    notes = "\n".join(f"line {k}" for k in range(1, 31))
    text, continued = page_one_notes(make_data(notes=notes, include_notes=True), compact=True)
    assert continued and text.startswith("line 1\n") and f"line {NOTES_LINES_ON_PAGE_ONE}" in text
    assert f"line {NOTES_LINES_ON_PAGE_ONE + 1}" not in text
    assert text.endswith("\n… (continued under “Session notes” after the details)")
    text, continued = page_one_notes(make_data(notes=notes, include_notes=True), compact=False)
    assert continued and "line 20" in text and "line 21" not in text


# --- a wrapped right-to-left paragraph ------------------------------------------------------------

HEBREW_WORDS = ["אחד", "שתיים", "שלוש", "ארבע", "חמש", "שש", "שבע", "שמונה", "תשע", "עשר"]


def drawn_lines(pdf: bytes) -> list[str]:
    """The lines of the first page, top to bottom (pypdf gives right-to-left text back in
    logical order)."""
    from pypdf import PdfReader

    found: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: object) -> None:
        if text.strip():
            found.append((cm[5] + tm[5], text))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return [t for _, t in sorted(found, key=lambda p: -p[0])]


def test_a_wrapped_right_to_left_paragraph_starts_on_its_first_line() -> None:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfgen.canvas import Canvas

    p = paragraph(markup(" ".join(HEBREW_WORDS)), ParagraphStyle("p", fontSize=10, leading=12))
    _, height = p.wrap(90, 1000)
    assert height >= 3 * 12  # at least three lines
    buf = io.BytesIO()
    canvas = Canvas(buf)
    p.drawOn(canvas, 50, 500)
    canvas.save()
    lines = drawn_lines(buf.getvalue())
    # the sentence starts on the top line (the whole run reversed before breaking the lines
    # would put its end there); within a line the order is :func:`visual`'s, tested above
    assert len(lines) >= 3 and " ".join(lines).split() == HEBREW_WORDS, lines
    assert lines[0].split()[0] == HEBREW_WORDS[0]


# --- any text: the markup never fails and keeps what can be seen --------------------------------


def visible(text: str) -> str:
    """What a reader sees of a text: no control, format or unassigned characters, no variation
    selectors, no white space; NFKC (joined Arabic forms read as letters)."""
    kept = "".join(
        ch
        for ch in text
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Cn")
        and not (0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF or ch == "\u034f")
    )
    return "".join(ch for ch in nfkc(kept) if not ch.isspace())


SCRIPTS = "Καλημέρα مرحبا بالعالم لا إلا مَرْحَبًا שלום עולם 你好，世界 🙂😟👨‍👩‍👧 ()[]<>&\"'"
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40) | st.text(
    st.sampled_from(SCRIPTS + "\x00\t\n\u200d\u200f\u202e\ufe0f\u00ad&<>"), max_size=40
)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(texts)
def test_markup_of_any_text_parses_and_keeps_its_visible_characters(text: str) -> None:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfgen.canvas import Canvas

    m = markup(text)
    parsed = "".join(ET.fromstring(f"<p>{m}</p>").itertext())  # well-formed XML
    assert visible(parsed) == visible(text)
    # and reportlab lays it out and draws it
    p = paragraph(m, ParagraphStyle("p", fontSize=9, leading=11))
    p.wrap(120, 1000)
    p.drawOn(Canvas(io.BytesIO()), 0, 0)


def test_the_font_folder_is_the_repository_one() -> None:
    assert Path(__file__).resolve().parents[3] / "resources" / "fonts" == FONT_DIR
