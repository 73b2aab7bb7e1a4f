"""Session report PDF: content read back with pypdf (layout checked by eye with pdftoppm)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.physiology.summary import PhysiologySummary, WindowMetrics, describe_change, phase_windows
from core.report.data import DISCLAIMER, NOT_ANALYSED, SIMULATED_BANNER, ReportData
from core.report.document import build_session_report


def make_summary(hr_pre: float | None = 82.44) -> PhysiologySummary:
    windows = phase_windows(3600.0)
    pre = WindowMetrics(hr_pre, 21.3, 6.412, 3.4, 1236, 51, 900.0, 900.0)
    if hr_pre is None:
        pre.reasons["hr_bpm"] = "less than 10 s of continuous ECG"
    post = WindowMetrics(70.12, 34.76, 3.305, 1.2, 1052, 18, 900.0, 897.5)
    change: dict[str, float | None] = {
        "hr_bpm": None if hr_pre is None else -12.3,
        "rmssd_ms": 13.5,
        "eda_tonic_us": -3.11,
        "scr_per_min": -2.2,
    }
    return PhysiologySummary(windows, [pre, post], change, False, 3600.0, 15.0)


def make_data(**overrides: object) -> ReportData:
    t = np.arange(0, 3600, 5.0)
    hr = 82 - 12 * t / 3600 + np.sin(t / 60)
    hr[400:410] = np.nan  # lost data shows as a gap
    fields: dict[str, object] = dict(
        clinic_name="Praxis am See & Partner",
        patient_code="P-0042",
        patient_name="Erika Mustermann",
        session_uid="S-2025-0304-01",
        started_at="2025-03-04 14:05",
        duration_s=3600.0,
        physiology=make_summary(),
        simulated=True,
        devices=[{"name": "Simulated bio sensor", "simulated": True}],
        quality={
            "streams": [
                {"name": "ECG + EDA", "expected": 2880000, "received": 2876000, "lost": 4000}
            ],
            "frames_stored": 107950,
            "frames_dropped": 50,
            "gaps": 2,
        },
        markers=[(610.0, "treatment_start", "Exposure"), (2950.0, "treatment_end", "")],
        hr_t_s=t,
        hr_bpm=hr,
        eda_t_s=t,
        eda_us=6.4 - 3.1 * t / 3600,
        generated_at="2025-03-04 15:10",
    )
    fields.update(overrides)
    return ReportData(**fields)  # type: ignore[arg-type]


def read_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [" ".join((p.extract_text() or "").split()) for p in PdfReader(str(path)).pages]


def test_summary_page_and_details(tmp_path: Path) -> None:
    data = make_data()
    pages = read_pages(build_session_report(data, tmp_path / "r.pdf"))
    assert len(pages) == 2  # summary page, then all details on page 2
    first = pages[0]
    assert "TheraScope session report" in first and "Praxis am See & Partner" in first
    assert "P-0042" in first and "2025-03-04 14:05" in first and "1 h 00 min 00 s" in first
    for row in (
        "Heart rate (bpm) 82.4 70.1 -12.3",
        "RMSSD (heart-rate variability) (ms) 21.3 34.8 +13.5",
        "EDA tonic level (µS) 6.41 3.31 -3.11",
        "SCR rate (/min) 3.4 1.2 -2.2",
    ):
        assert row in first
    assert "0:00–15:00" in first and "45:00–1:00:00" in first
    assert NOT_ANALYSED in first and "DEMO MODEL" not in " ".join(pages)
    assert describe_change(data.physiology) in first
    assert (
        "Heart rate was 12.3 bpm lower and skin-conductance level 3.11 µS lower in the last "
        "15:00 than in the first 15:00."
    ) in first
    details = pages[1]
    assert "Recording quality" in details and "Recording quality" not in first
    assert "2 880 000 2 876 000 4 000 0.14" in details
    assert "107 950" in details and "Exposure" in details and "Treatment start" in details
    assert "10:10" in details  # marker time
    for text in pages:
        assert SIMULATED_BANNER in text and DISCLAIMER in text and "TheraScope 0.1.0" in text


def test_not_simulated_has_no_banner(tmp_path: Path) -> None:
    pages = read_pages(build_session_report(make_data(simulated=False), tmp_path / "r.pdf"))
    assert all("SIMULATED" not in p for p in pages)
    assert "Recorded from sensors" in pages[0]


def test_no_clinic_name_set(tmp_path: Path) -> None:
    pages = read_pages(build_session_report(make_data(clinic_name=""), tmp_path / "r.pdf"))
    assert len(pages) == 2
    assert "TheraScope session report Patient code P-0042" in pages[0]


@pytest.mark.parametrize("include", [False, True])
def test_name_only_when_chosen(tmp_path: Path, include: bool) -> None:
    pages = read_pages(build_session_report(make_data(include_name=include), tmp_path / "r.pdf"))
    assert any("Mustermann" in p for p in pages) is include


def test_missing_value_and_reason(tmp_path: Path) -> None:
    data = make_data(physiology=make_summary(hr_pre=None), hr_t_s=None, hr_bpm=None)
    first = read_pages(build_session_report(data, tmp_path / "r.pdf"))[0]
    assert "Heart rate (bpm) — 70.1 —" in first
    assert "less than 10 s of continuous ECG" in first
    assert "Not compared: heart rate" in first


def test_many_markers_overflow_with_footer(tmp_path: Path) -> None:
    markers = [(60.0 * i, "note", f"Marker text {i}") for i in range(1, 59)]
    pages = read_pages(build_session_report(make_data(markers=markers), tmp_path / "r.pdf"))
    assert len(pages) >= 3
    assert "Marker text 58" in " ".join(pages)
    assert all(f"Page {i}" in p for i, p in enumerate(pages, start=1))


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_renders_with_poppler(tmp_path: Path) -> None:
    pdf = build_session_report(make_data(), tmp_path / "r.pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(pdf), str(tmp_path / "p")], check=True)
    assert len(list(tmp_path.glob("p-*.png"))) == 2
