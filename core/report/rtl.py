"""Right-to-left text in the PDF report: Arabic letter shapes and the display order of a line.

reportlab draws the characters of a string one after another, left to right, with the glyph
each code point maps to: it neither joins Arabic letters nor reorders right-to-left text. So
the report does both before drawing:

* :func:`shape`: Arabic letters in their contextual forms (isolated, initial, medial, final)
  and the lam-alef ligatures, as the presentation-form code points the fonts map
  (``arabic-reshaper``). Shapes have their own widths, so this happens before lines are broken.
* :func:`display_order`: one line in display order, by the Unicode Bidirectional Algorithm
  (UAX #9): ``python-bidi`` resolves each character's embedding level (the subtle part:
  weak and neutral types, bracket pairs); the line is then reordered and brackets mirrored
  by the rules for one line. It works on one line, after lines are broken
  (:func:`core.report.fonts.paragraph`), so a right-to-left sentence that runs over several
  lines starts on the first.

Both libraries are imported inside the functions, like reportlab.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from typing import Any

#: Bidirectional classes of right-to-left letters (Hebrew, Arabic, Syriac, Thaana, N'Ko, …).
RTL_CLASSES = frozenset({"R", "AL"})

_lock = threading.Lock()


def has_rtl(text: str) -> bool:
    """Whether ``text`` holds a right-to-left letter (then its lines need :func:`visual`)."""
    return any(unicodedata.bidirectional(ch) in RTL_CLASSES for ch in text)


def _is_arabic(ch: str) -> bool:
    return "\u0600" <= ch <= "\u08ff"


@functools.cache
def _reshaper() -> Any:
    import arabic_reshaper

    # Harakat (vowel marks) are kept: the report drops nothing the therapist typed. The
    # "Allah" ligature is off: DejaVu Sans has no glyph for U+FDF2. A configuration is always
    # passed, so an ARABIC_RESHAPER_CONFIG_FILE in the environment changes nothing.
    return arabic_reshaper.ArabicReshaper(
        configuration={
            "delete_harakat": False,
            "delete_tatweel": False,
            "support_zwj": True,
            "support_ligatures": True,
            "ARABIC LIGATURE ALLAH": False,
        }
    )


def shape(text: str) -> str:
    """``text`` with its Arabic letters in their joined presentation forms (logical order).

    Text without Arabic letters comes back unchanged. NFKC gives the letters back:
    ``unicodedata.normalize("NFKC", shape(t)) == unicodedata.normalize("NFKC", t)``.
    """
    if not any(_is_arabic(ch) for ch in text):
        return text
    with _lock:  # one reshaper for all threads; it caches its ligature pattern on first use
        return str(_reshaper().reshape(text))


def base_is_rtl(text: str) -> bool:
    """The paragraph direction of UAX #9 (rules P2, P3): that of its first strong letter;
    left to right when it has none. (``text`` holds no isolates: they are invisible format
    characters, dropped before.)"""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return False
        if kind in RTL_CLASSES:
            return True
    return False


_LEVELS = re.compile(r"levels:\s*\[(.*?)\]", re.S)
_LEVEL = re.compile(r"Level\(\s*(\d+)\s*,?\s*\)")


def levels(line: str, rtl: bool | None = None) -> list[int]:
    """The embedding level UAX #9 resolves for each character of ``line`` (even: left to right,
    odd: right to left), by ``python-bidi`` (rules P to I, bracket pairs included).

    ``python-bidi`` returns them with ``debug=True`` (one per UTF-8 byte, in the form of the Rust
    crate's debug output); each character takes that of its first byte.

    Raises
    ------
    RuntimeError — python-bidi's debug output no longer holds them in that form
    """
    from bidi import get_display

    base = None if rtl is None else ("R" if rtl else "L")
    found = _LEVELS.search(str(get_display(line, base_dir=base, debug=True)))
    per_byte = [int(n) for n in _LEVEL.findall(found.group(1))] if found else []
    sizes = [len(ch.encode("utf-8")) for ch in line]
    if len(per_byte) != sum(sizes):
        raise RuntimeError(
            "python-bidi returned no embedding levels (has its debug output changed?)"
        )
    out, pos = [], 0
    for size in sizes:
        out.append(per_byte[pos])
        pos += size
    return out


def display_order(line: str, rtl: bool | None = None) -> list[tuple[int, str]]:
    """The characters of one line in the order they are drawn, left to right.

    The levels come from :func:`levels`; then the rules for one line: L1 (white space at the
    end of the line takes the paragraph's level), L2 (from the highest level down to the lowest
    odd one, each run at that level or higher is reversed) and L4 (a mirrored character at an
    odd level is drawn as its mirror image: ``(`` as ``)``, from python-bidi's table of the
    Unicode BidiMirroring data).

    Parameters
    ----------
    line : str — in logical order, shaped (:func:`shape`), without line breaks and without
        the invisible format characters (:func:`core.report.fonts.printable`)
    rtl : bool, optional — the paragraph's direction; default: that of ``line``
        (:func:`base_is_rtl`). The lines of one paragraph take the paragraph's.

    Returns
    -------
    list of (int, str) — per drawn character its index in ``line`` and the character drawn
    """
    from bidi.mirror import MIRRORED

    if not line:
        return []
    if not rtl and not has_rtl(line):
        return list(enumerate(line))
    base = int(base_is_rtl(line) if rtl is None else rtl)
    lv = levels(line, bool(base))
    end = len(line)
    while end and unicodedata.bidirectional(line[end - 1]) in ("WS", "BN", "S", "B"):
        end -= 1
    lv[end:] = [base] * (len(line) - end)  # L1
    order = list(range(len(line)))
    lowest_odd = min((v for v in lv if v % 2), default=max(lv) + 1)
    for level in range(max(lv), lowest_odd - 1, -1):  # L2
        i = 0
        while i < len(order):
            if lv[order[i]] < level:
                i += 1
                continue
            j = i
            while j < len(order) and lv[order[j]] >= level:
                j += 1
            order[i:j] = order[i:j][::-1]
            i = j
    return [(i, MIRRORED.get(line[i], line[i]) if lv[i] % 2 else line[i]) for i in order]  # L4


def visual(line: str, rtl: bool | None = None) -> str:
    """One line in display order, as drawn (:func:`display_order`)."""
    return "".join(ch for _, ch in display_order(line, rtl))
