"""The data-quality lines of the PDF report, read back with pypdf from a real recording."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.analysis.results import save_estimates
from core.analysis.review import record_review, review_of
from core.catalog import Catalog
from core.report.session import export_session_report
from tests.core.quality.quality_data import SETTINGS, record_with_faults
from tests.core.report.test_analysis import hand_made_estimates
from tests.core.report.test_document import read_pages

OUTAGES = "Link outages (start, length) 0:03.0 for 2.0 s; 0:16.0 for 4.0 s, not back"
LINK = "lost twice, 6.0 s in all (0:03.0 for 2.0 s; 0:16.0 for 4.0 s, not back); 1 reconnection"
PACKETS = "3 with a bad CRC, 2 malformed, 1 duplicated, 0 out of order (of 400 received)"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quality_report")
    cat = Catalog.open(root / "catalog.sqlite")
    record_with_faults(cat, root, cat.add_patient("Q-0002").id)
    cat.close()
    return root


@pytest.fixture
def session(recorded: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "data"
    shutil.copytree(recorded, root)
    cat = Catalog.open(root / "catalog.sqlite")
    yield cat, root, cat.list_sessions()[0]
    cat.close()


def test_unanalysed_report_has_the_outages_packets_and_drift(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    pages = read_pages(
        export_session_report(cat, root, rec.id, tmp_path / "r.pdf", settings=SETTINGS)
    )
    details = " ".join(pages[1:])
    assert "Data quality" in details
    assert (
        "Overall Poor: 10.0 % of ECG + EDA samples lost in 1 gap (longest 2.0 s); sensor link lost twice, 6.0 s in all;"
        in details
    )
    assert (
        "sensor link lost at 0:16.0 and not back before the end (4.0 s without signal)" in details
    )
    assert OUTAGES in details
    assert f"Sensor link {LINK}" in details
    assert "Disconnections / reconnections 2 / 1" in details
    assert "Sensor battery 80 % at the start, 78 % at the end" in details
    assert f"Packets rejected by the sensor {PACKETS}" in details
    assert "Clock drift, ECG + EDA 0.0 ppm (matches the computer's clock)" in details
    assert "Video: camera lost at 0:19.5" in details
    assert "Simulated session: the figures describe simulated devices." in details


def test_model_and_data_quality_has_the_link_lines(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    save_estimates(root / rec.folder, hand_made_estimates())
    review = review_of(cat, root, rec.id, SETTINGS)
    assert review is not None
    record_review(cat, review)
    pages = read_pages(
        export_session_report(cat, root, rec.id, tmp_path / "r.pdf", settings=SETTINGS)
    )
    rest = " ".join(pages[1:])
    model = rest[rest.index("Model and data quality") : rest.index("Intended use")]
    assert f"Sensor link (recording) {LINK}" in model
    assert f"Packets rejected by the sensor (recording) {PACKETS}" in model
    assert "Sensor clock drift, ECG + EDA 0.0 ppm (matches the computer's clock)" in model
    assert "Lost bio-signal samples (recording) 1 600" in model
    assert OUTAGES in rest  # and the full table under "Recording quality"
