"""The session PDF's questionnaires and SUDS section (issue 19), from a real recorded session,
read back with pypdf: items, totals, bands, a GAD-7 total marked "total only", PHQ-9 item 9
above 0 highlighted (warning line and a banner on every page), SUDS ratings with their times."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader

from core.catalog import Catalog
from core.config import Settings
from core.report.clinical import ITEM9_BANNER
from core.report.session import export_session_report
from tests.app.review_data import make_analysed, record_short


def _text(pdf: Path) -> list[str]:
    return [" ".join((p.extract_text() or "").split()) for p in PdfReader(pdf).pages]


def test_questionnaires_items_bands_item9_and_suds_in_the_pdf(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with Catalog.open(root / "catalog.sqlite") as cat:
        p = cat.add_patient("PDF-19")
        rec, _ = make_analysed(cat, root, p.id)
        cat.set_self_report(rec.id, "pre", sam_valence=3, gad7=14)  # total only (before v8)
        cat.set_questionnaire(rec.id, "post", "gad7", {1: 1, 2: 1, 3: 1, 4: 1, 5: 0, 6: 0, 7: 0})
        cat.set_questionnaire(
            rec.id, "pre", "phq9", {1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 2, 7: 2, 8: 2, 9: 1}
        )
        cat.add_suds(rec.id, 4.0, 70)
        cat.add_suds(rec.id, 15.2, 30)
        out = export_session_report(cat, root, rec.id, tmp_path / "r.pdf", settings=Settings())
        plain = record_short(cat, root, p.id, 6.0)  # nothing entered: no section, no banner
        bare = export_session_report(cat, root, plain.id, tmp_path / "b.pdf", settings=Settings())
    pages = _text(out)
    text = " ".join(pages)
    assert all(ITEM9_BANNER in page for page in pages)  # on every page, page 1 too
    assert "Questionnaires and SUDS" in text
    assert "GAD-7 — Generalized Anxiety Disorder 7-item scale" in text
    assert "Feeling nervous, anxious, or on edge" in text and "Trouble relaxing" in text
    assert "14 (total only)" in text and "moderate" in text
    assert "Total 14 (total only) 4 Severity moderate minimal" in text  # post: 4 from items
    assert "Little interest or pleasure in doing things" in text
    assert "17" in text and "moderately severe" in text  # PHQ-9 pre: 8 × 2 + 1
    assert "answered above 0" in text and "assess suicide risk" in text
    assert "Spitzer RL" in text and "Kroenke K" in text
    assert "SUDS during the session" in text and "0:04 70" in text and "0:15 30" in text
    bare_text = " ".join(_text(bare))
    assert "Questionnaires and SUDS" not in bare_text and ITEM9_BANNER not in bare_text
