"""Fonts of the PDF report: Helvetica, then TrueType fonts for every character it lacks.

The report is set in the standard Helvetica (WinAnsi encoding: Latin-1, € and the typographic
quotes and dashes), which needs no font file. No one font has every script a patient's name,
the notes or a marker label may hold, and reportlab embeds neither CFF-flavoured OpenType nor
colour emoji fonts, so each character goes to the first font of a chain of TrueType (glyf)
fonts shipped in ``resources/fonts/`` (their licences beside them, README there):

==================== ========================================================================
Helvetica (Bold)     Latin-1 and the rest of WinAnsi: everything the report itself writes
DejaVu Sans (Bold)   Latin, Greek, Cyrillic, Hebrew, Arabic (and its presentation forms),
                     Armenian, Georgian, many symbols and some emoji
Droid Sans Fallback  Chinese (the 20 902 unified ideographs), Japanese kana, Korean Hangul,
                     their punctuation
Symbola              emoji (monochrome) and symbols; first for code points from U+1F000, so
                     that all emoji of a text look alike
==================== ========================================================================

A text is split into runs of one font (:func:`runs`): each character goes to the first font
that has its glyph (the fonts' cmap tables); a space or punctuation mark stays in the run before
it when that font has it, so a right-to-left sentence stays one run. :func:`markup` writes the
runs as reportlab paragraph markup, ``<font name="…">`` around each run not in Helvetica;
:func:`draw_string` and :func:`graphics_string` draw one line on a canvas or in a Drawing.
Before that, the text is made printable (:func:`printable`): controls become spaces or go,
invisible format characters go, Arabic letters take their joined forms
(:func:`core.report.rtl.shape`). A character no font has stays in Helvetica and prints as
reportlab's missing-glyph box.

The TrueType fonts are registered with reportlab once, on first use (:func:`register_fonts`);
nothing is downloaded. reportlab embeds only the glyphs a report uses.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from core.report.rtl import base_is_rtl, display_order, has_rtl, shape, visual
from core.resources import resource_path

log = logging.getLogger(__name__)

#: The shipped font files (and their licences, README.md).
FONT_DIR = resource_path("fonts")
#: The report's own font, and its bold face (standard PDF fonts: no file, WinAnsi encoding).
PRIMARY, PRIMARY_BOLD = "Helvetica", "Helvetica-Bold"
#: Code points from here on (emoji, pictographs) try :data:`EMOJI_FONT` first.
EMOJI_FROM = 0x1F000


@dataclass(frozen=True)
class ReportFont:
    """A TrueType font of the fallback chain.

    Parameters
    ----------
    name : str — its reportlab name (and family name), as in ``<font name="…">``
    file : str — the regular face, in :data:`FONT_DIR`
    bold_file : str or None — a bold face (registered as ``name + "-Bold"``); None: bold text
        uses the regular face
    """

    name: str
    file: str
    bold_file: str | None = None

    @property
    def bold_name(self) -> str:
        """reportlab name of the face for bold text."""
        return f"{self.name}-Bold" if self.bold_file else self.name


#: The fallback chain after Helvetica, in order.
FALLBACK_FONTS = (
    ReportFont("DejaVuSans", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ReportFont("DroidSansFallback", "DroidSansFallback.ttf"),
    ReportFont("Symbola", "Symbola_hint.ttf"),
)
#: The font tried first for code points from :data:`EMOJI_FROM`.
EMOJI_FONT = "Symbola"

#: Characters that become a space: line and paragraph breaks, tabs, the other separators.
_SPACES = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")

_lock = threading.Lock()
#: per fallback font name: the code points it has a glyph for (both faces, when it has two)
_coverage: dict[str, frozenset[int]] = {}
_registered = False


def register_fonts() -> None:
    """Register the fallback fonts with reportlab (once; later calls return at once).

    A font file that is missing is skipped with a warning: its characters then print as
    missing-glyph boxes, and the report is still written.
    """
    global _registered
    if _registered:
        return
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    with _lock:
        if _registered:
            return
        _fix_to_unicode()
        for font in FALLBACK_FONTS:
            faces = [(font.name, font.file)]
            if font.bold_file:
                faces.append((font.bold_name, font.bold_file))
            try:
                loaded = [TTFont(name, str(FONT_DIR / file)) for name, file in faces]
            except OSError as exc:  # reportlab's TTFError is an OSError
                log.warning(
                    "Report font %s not loaded (%s): its characters print as boxes", font.name, exc
                )
                continue
            cover: set[int] | None = None
            for face in loaded:
                pdfmetrics.registerFont(face)
                cmap = {cp for cp, glyph in face.face.charToGlyph.items() if glyph}
                cover = cmap if cover is None else cover & cmap
            # reportlab's family table, both ways: <b> inside <font name> picks the bold face,
            # and each face reads back as (family, bold, not italic); the last entry for a
            # face is the one read back, so the plain ones come last
            for bold, italic, face_name in (
                (1, 1, font.bold_name),
                (0, 1, font.name),
                (1, 0, font.bold_name),
                (0, 0, font.name),
            ):
                addMapping(font.name, bold, italic, face_name)
            _coverage[font.name] = frozenset(cover or ())
        _registered = True


def _fix_to_unicode() -> None:
    """Make reportlab write code points past U+FFFF (emoji, rare CJK) correctly in the
    ToUnicode maps of the fonts it embeds, so that they can be searched, copied and read back.

    reportlab writes such a code point as 5 or 6 hex digits (``<1F642>``), which PDF readers
    reject; the PDF reference wants UTF-16BE, a surrogate pair (``<D83DDE42>``). The glyphs
    are drawn either way. Its ``makeToUnicodeCMap`` is wrapped once: the lines of those code
    points are rewritten, the rest is left as reportlab writes it.
    """
    from reportlab.pdfbase import ttfonts

    original = ttfonts.makeToUnicodeCMap
    if getattr(original, "utf16_fixed", False):
        return

    def to_unicode_cmap(fontname: str, subset: list[int]) -> str:
        text = str(original(fontname, subset))
        for i, cp in enumerate(subset):
            if cp > 0xFFFF:
                utf16 = chr(cp).encode("utf-16-be").hex().upper()
                text = text.replace(f"<{i:02X}> <{cp:04X}>", f"<{i:02X}> <{utf16}>")
        return text

    to_unicode_cmap.utf16_fixed = True  # type: ignore[attr-defined]
    ttfonts.makeToUnicodeCMap = to_unicode_cmap


def _in_primary(ch: str) -> bool:
    """Whether Helvetica (WinAnsi) has a glyph for ``ch``."""
    o = ord(ch)
    if o < 0x20 or 0x7F <= o < 0xA0:
        return False
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def has_glyph(font: str, ch: str) -> bool:
    """Whether the report's font ``font`` (a name of :data:`FALLBACK_FONTS`, their bold faces,
    or Helvetica) has a glyph for ``ch``."""
    if font in (PRIMARY, PRIMARY_BOLD):
        return _in_primary(ch)
    register_fonts()
    name = font.removesuffix("-Bold")
    return ord(ch) in _coverage.get(name, frozenset())


def font_for(ch: str) -> str | None:
    """The font that draws ``ch``: Helvetica, else the first fallback font with its glyph
    (:data:`EMOJI_FONT` first from :data:`EMOJI_FROM`); None when no font has it."""
    if _in_primary(ch):
        return PRIMARY
    register_fonts()
    cp = ord(ch)
    names = [f.name for f in FALLBACK_FONTS]
    if cp >= EMOJI_FROM:
        names.sort(key=lambda n: n != EMOJI_FONT)
    return next((n for n in names if cp in _coverage.get(n, frozenset())), None)


def _ignorable(ch: str) -> bool:
    """Invisible characters that no font needs: format characters (joiners, direction marks,
    soft hyphen, tags), variation selectors, the combining grapheme joiner."""
    o = ord(ch)
    return (
        unicodedata.category(ch) == "Cf"
        or 0xFE00 <= o <= 0xFE0F
        or 0xE0100 <= o <= 0xE01EF
        or o == 0x034F
    )


def printable(text: str) -> str:
    """``text`` as the report draws it, in logical order.

    Line breaks, tabs and the other separators become spaces; the other control characters,
    lone surrogates and unassigned code points are dropped; Arabic letters take their joined
    forms (:func:`core.report.rtl.shape`; joiners count); then the invisible format
    characters and variation selectors are dropped, and a joined Arabic form that no font has
    is replaced by its plain letter.
    """
    kept = []
    for ch in text:
        if ch in _SPACES:
            kept.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cs", "Cn"):
            kept.append(ch)
    out = []
    for ch in shape("".join(kept)):
        if _ignorable(ch):
            continue
        if _presentation_form(ch) and font_for(ch) is None:
            out.append(unicodedata.normalize("NFKC", ch))
        else:
            out.append(ch)
    return "".join(out)


def _presentation_form(ch: str) -> bool:
    return "\ufb50" <= ch <= "\ufdff" or "\ufe70" <= ch <= "\ufeff"


def _keeps_run(ch: str) -> bool:
    """Spaces and punctuation stay in the run before them (when its font has them)."""
    return ch == " " or unicodedata.category(ch)[0] in "PZ"


def _split(text: str) -> list[tuple[str, str]]:
    """Printable text (:func:`printable`) in runs of one font, in the order given."""
    out: list[tuple[str, str]] = []
    current: str | None = None
    chunk: list[str] = []
    for ch in text:
        if current is not None and _keeps_run(ch) and has_glyph(current, ch):
            font = current
        else:
            font = font_for(ch) or PRIMARY
        if font != current and chunk:
            out.append((current or PRIMARY, "".join(chunk)))
            chunk = []
        current = font
        chunk.append(ch)
    if chunk:
        out.append((current or PRIMARY, "".join(chunk)))
    return out


def runs(text: str) -> list[tuple[str, str]]:
    """``text`` made printable (:func:`printable`) and split into runs of one font.

    Returns
    -------
    list of (font, text) — in logical order; ``font`` is :data:`PRIMARY` or the name of a
    fallback font (regular face); characters no font has are in :data:`PRIMARY`
    """
    return _split(printable(text))


def _face(font: str, bold: bool) -> str:
    """The reportlab name of ``font``'s face for regular or bold text."""
    if font == PRIMARY:
        return PRIMARY_BOLD if bold else PRIMARY
    spec = next((f for f in FALLBACK_FONTS if f.name == font), None)
    return spec.bold_name if (bold and spec is not None) else font


def markup(text: str, bold: bool = False) -> str:
    """Plain text as reportlab paragraph markup in the report's fonts.

    XML-escaped, made printable (:func:`printable`), each run not in Helvetica inside
    ``<font name="…">`` (:func:`runs`). The text stays in logical order: a right-to-left run
    is put in display order line by line when drawn (:func:`core.report.blocks.para`).

    Parameters
    ----------
    text : str — any text (names, notes, labels as typed)
    bold : bool — the text is printed bold (a bold paragraph style, inside ``<b>``): name the
        fallback fonts' bold faces (reportlab does not embolden a ``<font name>`` inside
        ``<b>``)

    Returns
    -------
    str — markup for a ``Paragraph``; Helvetica text comes back escaped and otherwise unchanged
    """
    parts = []
    for font, chunk in runs(text):
        if font == PRIMARY:
            parts.append(escape(chunk))
        else:
            parts.append(f'<font name="{_face(font, bold)}">{escape(chunk)}</font>')
    return "".join(parts)


def _faces(line: str, primary: str, bold: bool) -> list[tuple[str, str]]:
    """A line already printable and in display order, in runs of one reportlab face."""
    out: list[tuple[str, str]] = []
    for font, chunk in _split(line):
        face = primary if font == PRIMARY else _face(font, bold)
        if out and out[-1][0] == face:
            out[-1] = (face, out[-1][1] + chunk)
        else:
            out.append((face, chunk))
    return out


def visual_runs(text: str, font: str = PRIMARY) -> list[tuple[str, str]]:
    """One line of text as drawn: printable, in display order, in runs of one face.

    Parameters
    ----------
    text : str — the line, as typed (logical order)
    font : str — the line's font, :data:`PRIMARY` or :data:`PRIMARY_BOLD`

    Returns
    -------
    list of (face, text) — left to right; ``face`` is a reportlab font name
    """
    return _faces(visual(printable(text)), font, font == PRIMARY_BOLD)


def draw_string(
    canvas: Any, x: float, y: float, text: str, font: str, size: float, anchor: str = "start"
) -> None:
    """Draw one line of ``text`` on a reportlab canvas in the report's fonts.

    Parameters
    ----------
    canvas : reportlab Canvas
    x, y : float — where the line starts (``anchor`` "start"), is centred ("middle") or ends
        ("end"), on the baseline (pt)
    text : str — as typed
    font : str — :data:`PRIMARY` or :data:`PRIMARY_BOLD`
    size : float — font size (pt)
    anchor : {"start", "middle", "end"}
    """
    from reportlab.pdfbase.pdfmetrics import stringWidth

    parts = visual_runs(text, font)
    widths = [stringWidth(chunk, face, size) for face, chunk in parts]
    x -= {"start": 0.0, "middle": sum(widths) / 2, "end": sum(widths)}[anchor]
    for (face, chunk), w in zip(parts, widths, strict=True):
        canvas.setFont(face, size)
        canvas.drawString(x, y, chunk)
        x += w


def graphics_string(
    x: float,
    y: float,
    text: str,
    fontName: str = PRIMARY,  # noqa: N803 — reportlab's keyword
    fontSize: float = 10.0,  # noqa: N803
    textAnchor: str = "start",  # noqa: N803
    **kwargs: Any,
) -> Any:
    """A reportlab.graphics ``String`` of ``text`` in the report's fonts.

    Text Helvetica draws whole comes back as one ``String`` (``kwargs`` such as ``fillColor``
    passed on); other text as a ``Group`` of one ``String`` per run of one face, placed left
    to right in display order.
    """
    from reportlab.graphics.shapes import Group, String
    from reportlab.pdfbase.pdfmetrics import stringWidth

    parts = visual_runs(text, fontName)
    if len(parts) <= 1 and all(face == fontName for face, _ in parts):
        line = parts[0][1] if parts else ""
        return String(
            x, y, line, fontName=fontName, fontSize=fontSize, textAnchor=textAnchor, **kwargs
        )
    widths = [stringWidth(chunk, face, fontSize) for face, chunk in parts]
    x -= {"start": 0.0, "middle": sum(widths) / 2, "end": sum(widths)}[textAnchor]
    group = Group()
    for (face, chunk), w in zip(parts, widths, strict=True):
        group.add(String(x, y, chunk, fontName=face, fontSize=fontSize, **kwargs))
        x += w
    return group


def _has_text(frag: Any) -> bool:
    text = getattr(frag, "text", None)
    return isinstance(text, str) and bool(text) and not hasattr(frag, "cbDefn")


def _visual_frags(frags: list[Any], rtl: bool) -> list[Any]:
    """A line of a paragraph (its fragments: runs of one font and style) in display order.

    The line's characters are ordered together (:func:`core.report.rtl.display_order`);
    consecutive characters of one fragment become one fragment again (a copy of it with their
    text). A fragment without text (an image, an empty one) is ordered as one neutral
    character. A mirrored character the fragment's font lacks is drawn unmirrored.
    """
    owner: list[int] = []
    chars: list[str] = []
    for k, frag in enumerate(frags):
        text = frag.text if _has_text(frag) else "\ufffc"  # OBJECT REPLACEMENT: neutral
        owner += [k] * len(text)
        chars.append(text)
    line = "".join(chars)
    if not (rtl or has_rtl(line)):
        return frags
    out: list[Any] = []
    run: list[str] = []
    run_owner = -1
    for i, ch in [*display_order(line, rtl), (-1, "")]:
        k = owner[i] if i >= 0 else -1
        if k != run_owner and run:
            frag = frags[run_owner]
            out.append(frag.clone(text="".join(run)) if _has_text(frag) else frag)
            run = []
        run_owner = k
        if k >= 0:
            glyph = ch if ch == line[i] or _drawable(frags[k], ch) else line[i]
            run.append(glyph)
    return out


def _drawable(frag: Any, ch: str) -> bool:
    """Whether the fragment's font has ``ch`` (a mirrored bracket, say)."""
    face = str(getattr(frag, "fontName", PRIMARY))
    if _primary_face(face):
        return _in_primary(ch)
    return has_glyph(face, ch)


def _primary_face(face: str) -> bool:
    return not any(face in (f.name, f.bold_name) for f in FALLBACK_FONTS)


def _line_text(line: Any) -> str:
    if isinstance(line, tuple):
        return " ".join(str(w) for w in line[1])
    return "".join(f.text for f in getattr(line, "words", []) if _has_text(f))


def _directions(lines: list[Any]) -> list[bool]:
    """Per broken line, whether its paragraph runs right to left: each stretch of lines up to a
    forced line break (``<br/>``, a line break of the text) is a paragraph of UAX #9, in the
    direction of its first strong letter (:func:`core.report.rtl.base_is_rtl`)."""
    out: list[bool] = []
    start = 0
    for i, line in enumerate(lines):
        if getattr(line, "lineBreak", False) or i == len(lines) - 1:
            rtl = base_is_rtl(" ".join(_line_text(x) for x in lines[start : i + 1]))
            out += [rtl] * (i + 1 - start)
            start = i + 1
    return out


def _visual_lines(bl_para: Any) -> Any:
    """A copy of a reportlab paragraph's broken lines (``blPara``), each in display order."""
    import copy

    lines = []
    for line, rtl in zip(bl_para.lines, _directions(list(bl_para.lines)), strict=True):
        if isinstance(line, tuple) and len(line) == 2 and isinstance(line[1], list):
            words = visual(" ".join(str(w) for w in line[1]), rtl).split(" ")
            lines.append((line[0], [w for w in words if w]))
        elif hasattr(line, "words"):
            new = copy.copy(line)
            new.words = _visual_frags(list(line.words), rtl)
            lines.append(new)
        else:
            lines.append(line)
    out = copy.copy(bl_para)
    out.lines = lines
    return out


_paragraph_class: type | None = None


def _bidi_paragraph_class() -> type:
    global _paragraph_class
    if _paragraph_class is not None:
        return _paragraph_class
    from reportlab.platypus import Paragraph

    class BidiParagraph(Paragraph):  # type: ignore[misc]  # reportlab has no type hints
        """A Paragraph broken into lines in logical order and drawn line by line in display
        order (:func:`_visual_lines`)."""

        blPara: Any  # the broken lines; wrap() sets them, and reportlab wraps before drawing

        def drawPara(self, debug: int = 0) -> Any:  # noqa: N802 — reportlab's name
            logical = self.blPara
            self.blPara = _visual_lines(logical)
            try:
                return super().drawPara(debug)
            finally:
                self.blPara = logical

    _paragraph_class = BidiParagraph
    return BidiParagraph


def paragraph(text: str, style: Any) -> Any:
    """A reportlab ``Paragraph`` of markup ``text`` (plain text through :func:`markup`).

    One that holds right-to-left letters is broken into lines in logical order and each line
    drawn in display order (:func:`core.report.rtl.display_order`), so that a right-to-left
    sentence starts on the first line; each stretch up to a ``<br/>`` takes the direction of
    its first strong letter.
    """
    from reportlab.platypus import Paragraph

    if has_rtl(text):
        return _bidi_paragraph_class()(text, style)
    return Paragraph(text, style)
