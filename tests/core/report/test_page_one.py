"""Page 1 of the report and the times in it, from a real recording read back with pypdf.

Page 1 carries the session notes (only when the therapist chooses), the consent time, the data-
quality verdict and the therapist's name; every page says "Page n of N"; dates are printed in the
computer's local zone with its name (stored UTC stays UTC); session times and window lengths are
m:ss, never decimal minutes; marker numbers in the charts never go missing or overlap.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.demo.simulation import record_simulated
from core.analysis.results import save_estimates
from core.analysis.review import record_review, review_of
from core.catalog import Catalog
from core.config import Settings
from core.quality.session import quality_summary
from core.quality.text import VERDICT_WORDS
from core.report.blocks import NOTES_ON_PAGE_ONE
from core.report.charts import session_chart
from core.report.session import export_session_report
from core.report.times import local_time
from tests.core.report.test_analysis import SMALL_VIDEO, hand_made_estimates
from tests.core.report.test_document import read_pages

NOTES = "Arrived late; exposure to lifts went well.\nHomework: breathing exercise, 3 × daily."
THERAPIST = "Dr. Anna Beispiel"
DECIMAL_MINUTES = re.compile(r"\d+\.\d+ min")


@pytest.fixture
def berlin() -> Iterator[ZoneInfo]:
    """The computer's zone set to Central European time for the test (TZ), then restored."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    yield ZoneInfo("Europe/Berlin")
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def printed(iso: str, zone: ZoneInfo) -> str:
    """A stored UTC time as the report should print it, worked out with zoneinfo."""
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20-s simulated session without phase markers (windows: the first and last third, 6.7 s),
    analysed with hand-made estimates, with notes and two markers 0.3 s apart."""
    root = tmp_path_factory.mktemp("page_one")
    cat = Catalog.open(root / "catalog.sqlite")
    p = cat.add_patient("P-0077", name="Erika Mustermann")
    rec = record_simulated(cat, root, p.id, 20.0, settings=SMALL_VIDEO, virtual=True)
    cat.update_session_notes(rec.id, NOTES)
    cat.add_marker(rec.id, 8.0, "note", "door opened")
    cat.add_marker(rec.id, 8.3, "note", "phone rang")
    save_estimates(root / rec.folder, hand_made_estimates(True))
    review = review_of(cat, root, rec.id, SMALL_VIDEO)
    assert review is not None
    record_review(cat, review)
    cat.close()
    return root


@pytest.fixture
def session(recorded: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "data"
    shutil.copytree(recorded, root)
    cat = Catalog.open(root / "catalog.sqlite")
    yield cat, root, cat.list_sessions()[0]
    cat.close()


SETTINGS = Settings(
    camera_width=160,
    camera_height=120,
    camera_fps=10,
    clinic_name="Praxis",
    therapist_name=THERAPIST,
)


def test_page_one_has_notes_consent_quality_therapist_and_page_n_of_n(
    session, tmp_path, berlin
) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    out = export_session_report(
        cat, root, rec.id, tmp_path / "r.pdf", settings=SETTINGS, include_notes=True
    )
    pages = read_pages(out)
    first = pages[0]
    assert "Session notes " + " ".join(NOTES.split()) in first
    assert f"Therapist {THERAPIST}" in first
    consent = printed(rec.consent_at, berlin)
    assert consent.endswith(("CET", "CEST"))
    assert f"Consent {consent} ({rec.consent_note})" in first
    assert f"Date and time {printed(rec.started_at, berlin)}" in first
    verdict = quality_summary(root / rec.folder)["verdict"]
    assert f"Data quality {VERDICT_WORDS[verdict]}" in first
    assert "UTC" not in " ".join(pages)  # the stored UTC times are printed in local time
    n = len(pages)
    assert n >= 2
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {n} · TheraScope" in text
    # the export is recorded as before; the catalog keeps UTC
    assert rec.started_at.endswith("+00:00") and len(cat.list_reports(rec.id)) == 1


def test_notes_only_when_chosen(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    pages = read_pages(
        export_session_report(cat, root, rec.id, tmp_path / "r.pdf", settings=SETTINGS)
    )
    text = " ".join(pages)
    assert "Session notes" not in text and "exposure to lifts" not in text
    assert f"Therapist {THERAPIST}" in pages[0]  # the rest of page 1 is there


def test_no_therapist_row_without_a_name(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    pages = read_pages(
        export_session_report(cat, root, rec.id, tmp_path / "r.pdf", settings=SMALL_VIDEO)
    )
    assert "Therapist" not in pages[0] and "Consent" in pages[0]


def test_times_are_m_ss_never_decimal_minutes(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    pages = read_pages(
        export_session_report(cat, root, rec.id, tmp_path / "r.pdf", settings=SETTINGS)
    )
    text = " ".join(pages)
    assert not DECIMAL_MINUTES.findall(text)
    window = rec.duration_s / 3  # no markers: the first and last third (6.7 s)
    assert window == pytest.approx(20.0 / 3, abs=0.05)
    first = pages[0]
    assert "First 0:07 0:00–0:07" in first and "Last 0:07 0:13–0:20" in first
    assert "In the first 0:07 the estimates were" in first
    assert "Session shorter than 45:00: windows are the first and last 0:07" in first
    assert "Usable signal, ECG / EDA (m:ss)" in text
    assert "Time from session start (m:ss)" in text and "Time from session start (min)" not in text


def test_local_time_names_the_zone(berlin) -> None:  # type: ignore[no-untyped-def]
    assert local_time("2026-12-05T12:42:00+00:00") == "2026-12-05 13:42 CET"
    assert local_time("2026-07-05T12:42:00.000+00:00") == "2026-07-05 14:42 CEST"
    assert local_time("2026-12-05T12:42:00") == "2026-12-05 13:42 CET"  # no offset: UTC
    assert local_time("") == "—"


def marker_numbers(drawing) -> list:  # type: ignore[no-untyped-def]
    from reportlab.graphics.shapes import String
    from reportlab.lib import colors

    return [
        s
        for s in drawing.contents
        if isinstance(s, String) and s.fillColor == colors.HexColor("#b5651d")
    ]


def boxes_overlap(a, b) -> bool:  # type: ignore[no-untyped-def]
    from reportlab.pdfbase.pdfmetrics import stringWidth

    def box(s):  # type: ignore[no-untyped-def]
        w = stringWidth(s.text, s.fontName, s.fontSize)
        return s.x - w / 2, s.x + w / 2, s.y, s.y + s.fontSize

    ax0, ax1, ay0, ay1 = box(a)
    bx0, bx1, by0, by1 = box(b)
    return ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1


@pytest.mark.parametrize(
    "times",
    [
        [480.0, 481.0, 482.0, 600.0],  # three markers a second apart in a 20-min session
        [300.0, 300.0],  # two at the same moment
        [60.0 * k for k in range(1, 20)],  # one a minute: two-digit numbers side by side
    ],
)
def test_every_marker_number_is_printed_and_none_overlap(times: list[float]) -> None:
    d = session_chart(None, None, 1200.0, [], times, "Heart rate (bpm)", 480.0, 140.0)
    labels = marker_numbers(d)
    assert sorted(int(s.text) for s in labels) == list(range(1, len(times) + 1))
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert not boxes_overlap(a, b), (a.text, b.text)
    assert max(s.y for s in labels) + 6.5 <= 140.0  # inside the drawing


def test_marker_numbers_in_the_timeline_of_the_pdf(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    pages = read_pages(
        export_session_report(cat, root, rec.id, tmp_path / "r.pdf", settings=SETTINGS)
    )
    timeline = next(p for p in pages if "Valence and arousal over the session" in p)
    # both markers (0.3 s apart) carry their number in each chart, the time axis is m:ss
    assert timeline.count("0:00 0:06 0:12 0:18") == 2
    # after the value axis (-1 … 1) come the marker numbers, then the time axis' title
    assert timeline.count("0.5 1 1 2 Time from session start (m:ss)") == 2


def test_long_notes_continue_after_the_details(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    sentence = "Practised the breathing exercise and rated SUDS after each lift ride."
    long_notes = " ".join(f"{sentence} ({k})" for k in range(1, 21))  # about 1 500 characters
    assert len(long_notes) > NOTES_ON_PAGE_ONE
    cat.update_session_notes(rec.id, long_notes)
    pages = read_pages(
        export_session_report(
            cat, root, rec.id, tmp_path / "r.pdf", settings=SETTINGS, include_notes=True
        )
    )
    first = pages[0]
    assert f"Session notes {sentence} (1)" in first and "(20)" not in first
    assert "(continued under “Session notes” after the details)" in first
    rest = " ".join(pages[1:])
    assert f"Session notes {long_notes}" in rest
    assert "Valence and arousal over the session" in pages[1]  # page 1 is still one page


def test_analysis_and_generation_times_are_local_with_the_zone(session, tmp_path, berlin) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    est = hand_made_estimates(True)
    est.info["created_at"] = "2026-12-05T12:42:07+00:00"  # as the engine stores it (UTC)
    save_estimates(root / rec.folder, est)
    pages = read_pages(
        export_session_report(cat, root, rec.id, tmp_path / "r.pdf", settings=SETTINGS)
    )
    text = " ".join(pages)
    assert "Analysed at 2026-12-05 13:42 CET" in text
    generated = re.findall(r"generated (\d{4}-\d\d-\d\d \d\d:\d\d) (CES?T) ·", text)
    assert len(generated) == len(pages)
