"""Reports in any script (issue 13): Greek, Arabic, Hebrew, Chinese and emoji in the patient's
name and code, the notes, marker labels, clinic, therapist and device names print in fonts that
have their glyphs (never the missing-glyph box), right-to-left text joined and in display order;
a marker label, note or name of 100 000 characters still gives a report.

The PDF is read back with pypdf: its text (NFKC, so Arabic presentation forms read as letters)
and, per drawn string, the font it is drawn in, checked against that font's own cmap.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from app.demo.simulation import record_simulated
from core.analysis.circumplex import session_circumplex
from core.analysis.results import save_estimates
from core.analysis.review import record_review, review_of
from core.catalog import Catalog
from core.config import Settings
from core.report.blocks import LABEL_CHARS
from core.report.data import ReportAnalysis
from core.report.document import build_session_report
from core.report.session import export_session_report
from tests.core.report.test_analysis import SMALL_VIDEO, hand_made_estimates
from tests.core.report.test_document import make_data

GREEK = "Καλημέρα"
ARABIC = "مرحبا بالعالم"
HEBREW = "שלום עולם"
CHINESE = "你好，世界"
EMOJI = "🙂😟"
SCRIPTS = (GREEK, ARABIC, HEBREW, CHINESE, EMOJI)
RTL = (ARABIC, HEBREW)
#: which shipped font must draw each script (the PostScript names in the PDF)
EXPECTED_FONT = {
    GREEK: "DejaVuSans",
    ARABIC: "DejaVuSans",
    HEBREW: "DejaVuSans",
    CHINESE: "DroidSansFallback",
    EMOJI: "Symbola",
}
FONT_DIR = Path(__file__).resolve().parents[3] / "resources" / "fonts"
LONG = 100_000
#: "(… N more characters, see the app)" after NFKC, which writes … as three dots
CUT = re.compile(r"\(\.\.\. ([\d ]+) more characters, see the app\)")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def long_text(words: str) -> str:
    return (words * (LONG // len(words) + 1))[:LONG]


def font_cmaps() -> dict[str, set[int]]:
    """The code points each shipped font has a glyph for, by its PostScript name."""
    from reportlab.pdfbase.ttfonts import TTFontFile

    out = {}
    for path in FONT_DIR.glob("*.ttf"):
        face = TTFontFile(str(path))
        name = face.name.decode() if isinstance(face.name, bytes) else str(face.name)
        out[name] = {cp for cp, glyph in face.charToGlyph.items() if glyph}
    return out


def drawn(pdf: Path) -> list[tuple[str, str]]:
    """(font, text) of each string the PDF draws, all pages; the font's subset tag dropped."""
    from pypdf import PdfReader

    out: list[tuple[str, str]] = []

    def visit(text: str, cm: object, tm: object, font: object, size: object) -> None:
        if text.strip() and isinstance(font, dict):
            out.append((str(font.get("/BaseFont", "")).lstrip("/").split("+")[-1], text))

    for page in PdfReader(str(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return out


def page_texts(pdf: Path) -> list[str]:
    from pypdf import PdfReader

    return [nfkc(" ".join((p.extract_text() or "").split())) for p in PdfReader(str(pdf)).pages]


def letters_of(drawn_text: str) -> str:
    """Drawn text with Arabic presentation forms read as their letters (NFKC), the rest as it
    is (NFKC would also read Helvetica's micro sign µ as a Greek mu)."""
    return "".join(nfkc(ch) if "\ufb50" <= ch <= "\ufeff" else ch for ch in drawn_text)


def check_glyphs(pdf: Path) -> list[tuple[str, str]]:
    """Every character is drawn in a font that has its glyph; returns what was drawn."""
    cmaps = font_cmaps()
    runs = drawn(pdf)
    for font, text in runs:
        assert font != "ZapfDingbats", f"missing glyphs drawn as boxes: {text!r}"
        for ch in text.strip():
            if font.startswith("Helvetica"):
                assert ch.isspace() or ch.encode("cp1252"), (font, ch)
            elif font in cmaps:
                assert ord(ch) in cmaps[font], f"{font} has no glyph for {ch!r} in {text!r}"
            else:  # reportlab's stand-in for a character Helvetica lacks: Symbol (−, ≥, …)
                assert font == "Symbol" and not any(ch in s for s in SCRIPTS), (font, text)
    return runs


def check_scripts(pdf: Path, where: str = "") -> None:
    """Each script's text is in the PDF (right-to-left: in either order), drawn in its font."""
    runs = check_glyphs(pdf)
    text = nfkc(" ".join(" ".join(page_texts(pdf)).split()))
    for s in SCRIPTS:
        logical = nfkc(s)
        if s in RTL:  # drawn in display order; extraction may give either order
            assert logical in text or logical[::-1] in text, f"{s!r} not in the text {where}"
        else:
            assert logical in text, f"{s!r} not in the text {where}"
        letters = {ch for ch in s if unicodedata.category(ch)[0] in "LS"}
        drawn_in = {f for f, t in runs if letters & set(letters_of(t))}
        assert drawn_in == {EXPECTED_FONT[s]}, (s, drawn_in)


# --- a real recording, analysed, exported through the catalog -----------------------------------

NOTES = f"Greek {GREEK}.\nArabic {ARABIC}.\nHebrew {HEBREW}.\nChinese {CHINESE}.\nEmoji {EMOJI}."
SETTINGS = Settings(
    camera_width=160,
    camera_height=120,
    camera_fps=10,
    clinic_name=f"Praxis {GREEK} {HEBREW}",
    therapist_name=f"Dr. {ARABIC} {CHINESE}",
)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20-s simulated session of a patient named in five scripts, analysed with hand-made
    estimates, with notes and marker labels in the five scripts and a label as long as the
    catalog keeps."""
    root = tmp_path_factory.mktemp("scripts")
    cat = Catalog.open(root / "catalog.sqlite")
    p = cat.add_patient(f"P-{GREEK[:3]}-{HEBREW[:2]}-{CHINESE[:2]}", name=" ".join(SCRIPTS))
    rec = record_simulated(cat, root, p.id, 20.0, settings=SMALL_VIDEO, virtual=True)
    cat.update_session_notes(rec.id, NOTES)
    for k, s in enumerate(SCRIPTS):
        cat.add_marker(rec.id, 2.0 + 3 * k, "note", f"{s} ({k + 1})")
    cat.add_marker(rec.id, 18.0, "note", ("مرحبا " * 200)[:LABEL_CHARS])
    save_estimates(root / rec.folder, hand_made_estimates(True))
    review = review_of(cat, root, rec.id, SMALL_VIDEO)
    assert review is not None
    record_review(cat, review)
    cat.close()
    return root


def test_exported_report_prints_every_script_in_a_font_with_its_glyphs(
    recorded: Path, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    shutil.copytree(recorded, root)
    cat = Catalog.open(root / "catalog.sqlite")
    try:
        rec = cat.list_sessions()[0]
        out = export_session_report(
            cat,
            root,
            rec.id,
            tmp_path / "r.pdf",
            include_name=True,
            settings=SETTINGS,
            include_notes=True,
        )
    finally:
        cat.close()
    check_scripts(out)
    pages = page_texts(out)
    first = pages[0]
    for s in (GREEK, CHINESE, EMOJI):  # name, clinic, therapist and notes on page 1
        assert first.count(nfkc(s)) >= 2, s
    # the footer of every page carries the code (pypdf puts a space where the font changes)
    assert all(f"P-{GREEK[:3]}-" in p.replace(" ", "") for p in pages)
    details = " ".join(pages[1:])
    for k, s in enumerate(SCRIPTS):  # each label in the markers table, in its row
        if s not in RTL:
            assert f"{nfkc(s)} ({k + 1})" in details


# --- built from ReportData: 100 000 characters where typed text goes ---------------------------


def analysed(data):  # type: ignore[no-untyped-def]
    t = np.arange(0.0, 3600.0, 1.0)
    v, a = np.where(t < 1800, -0.5, 0.4), np.where(t < 1800, 0.6, -0.3)
    circ = session_circumplex(t, v, a, data.physiology.windows)
    info = {"checkpoint": {"label": long_text("Modell 🙂 "), "demo": True}}
    data.analysis = ReportAnalysis(circ, t, v, a, info, demo_model=True)
    return data


@pytest.mark.slow
@pytest.mark.parametrize("analysis", [False, True], ids=["physiology", "analysed"])
def test_a_100000_character_label_name_and_notes_give_a_report(
    tmp_path: Path, analysis: bool
) -> None:
    label = long_text("Exposure in the lift, SUDS 7; ")
    data = make_data(
        patient_code=f"P-{GREEK}",
        patient_name=long_text(f"{ARABIC} {GREEK} "),
        include_name=True,
        clinic_name=long_text("Praxis "),
        therapist_name=long_text("你好"),
        notes=f"{' '.join(SCRIPTS)}\n" + long_text(f"{HEBREW} {EMOJI} notes "),
        include_notes=True,
        devices=[{"name": long_text("Sensor 🙂 "), "simulated": True}],
        markers=[
            (610.0, "note", label),
            (900.0, "note", long_text("x")),  # no space to break at
            (1500.0, "note", " ".join(SCRIPTS)),
        ],
    )
    if analysis:
        data = analysed(data)
    pdf = build_session_report(data, tmp_path / "r.pdf")
    check_scripts(pdf)
    text = " ".join(page_texts(pdf))
    left = [int(n.replace(" ", "")) for n in CUT.findall(text)]
    assert 99_000 in left  # the label without a space: cut at 1 000 characters exactly
    assert sum(99_000 < n < 99_200 for n in left) == 1  # the label, cut at a space
    # name, clinic, therapist, device (and the model, on page 1 and in the details) cut after
    # 200 characters
    assert sum(99_800 <= n < 99_900 for n in left) == 4 + 2 * analysis
    assert label[:200] in text and "Sensor 🙂" in text and "Praxis Praxis" in text
    assert label[: LABEL_CHARS + 30] not in text
    # the notes are printed whole: on page 1 and after the details
    notes = text.split("Session notes")[-1]
    assert notes.count("notes") >= LONG // len(f"{HEBREW} {EMOJI} notes ")
