"""The model's full output (issue 19, item 2) on the review screen, in the PDF and in
``therascope show --json``: a checkpoint trained on all ten outputs shows liking and the seven
emotions with their window means (equal to hand-computed means of the stored per-frame
results); the demo model, which learned valence and arousal only, shows "not estimated by this
model" for each of them and no number anywhere. Both analysed by the real engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt

from app.cli.main import main
from app.gui.outputs_view import OutputsView, on_screen
from app.gui.review_page import ReviewPage
from core.analysis.model_outputs import EXTRA_OUTPUTS, NOT_ESTIMATED
from core.analysis.results import load_estimates
from core.catalog import Catalog
from core.config import Settings, data_dir
from core.learning.demo_model import SHIPPED
from core.report.session import export_session_report
from core.transfer.export import ESTIMATES_NAME, export_session
from tests.app.outputs_data import analysed_by, train_full_checkpoint

COLUMN = {name: i for i, name in enumerate(("valence", "arousal", *EXTRA_OUTPUTS))}


@pytest.fixture(scope="module")
def full_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_full_checkpoint(tmp_path_factory.mktemp("ckpt") / "full.pt")


@pytest.fixture
def cat(app_env):  # type: ignore[no-untyped-def]
    c = Catalog.open(data_dir() / "catalog.sqlite")
    yield c
    c.close()


def _open_outputs_tab(qtbot, page: ReviewPage) -> OutputsView:  # type: ignore[no-untyped-def]
    """Click the "Emotions" tab (liking and the emotions) as the therapist would."""
    bar = page.tabs.tabBar()
    i = page.tabs.indexOf(page.outputs)
    assert bar.tabText(i) == "Emotions" and "Liking & emotions" in bar.tabToolTip(i)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(i).center())
    assert page.tabs.currentWidget() is page.outputs
    return page.outputs


def _review_page(qtbot, cat: Catalog, session_id: int) -> ReviewPage:  # type: ignore[no-untyped-def]
    page = ReviewPage(cat, data_dir(), Settings.load())
    qtbot.addWidget(page)
    page.resize(1280, 820)
    page.show()
    page.load(session_id)
    return page


def _show_json(capsys, uid: str) -> dict:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    assert main(["show", uid, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _section(text: str) -> str:
    """The PDF's liking-and-emotions section (up to the next section's heading), without the
    page footers ("Page 2 of 6 · TheraScope 0.1.0 · …")."""
    start = text.index("Liking and emotions (the model's other outputs)")
    lines = text[start : text.index("Time in each quadrant", start)].splitlines()
    return "\n".join(ln for ln in lines if not ln.startswith("Page ")) + "\n"


def test_a_model_trained_on_every_output_shows_them_all(
    qtbot, cat, capsys, full_checkpoint, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    p = cat.add_patient("OUT-1")
    rec, review = analysed_by(cat, data_dir(), p.id, full_checkpoint)
    assert review.estimates.outputs_trained[0] == list(COLUMN)
    stored = load_estimates(data_dir() / rec.folder)
    assert stored is not None
    t = stored.t_s
    # by hand, from the stored per-frame results: mean and SD of each window's frames
    expected: dict[str, list[tuple[float, float]]] = {}
    for name in EXTRA_OUTPUTS:
        col = stored.outputs[:, COLUMN[name]].astype(np.float64)
        assert np.isfinite(col).sum() > 60  # the engine estimated them
        expected[name] = []
        for w in review.windows:
            vals = [float(v) for tt, v in zip(t, col, strict=True) if w.start_s <= tt < w.end_s]
            vals = [v for v in vals if np.isfinite(v)]
            mean = sum(vals) / len(vals)
            sd = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5
            expected[name].append((mean, sd))

    page = _review_page(qtbot, cat, rec.id)
    view = _open_outputs_tab(qtbot, page)
    assert not view.demo.isVisibleTo(view)
    for name in EXTRA_OUTPUTS:
        cells = view.labels[name]
        for (mean, sd), phase in zip(expected[name], ("pre", "post"), strict=True):
            assert cells[phase].text() == on_screen(f"{mean:.2f} ± {sd:.2f}")
        change = expected[name][1][0] - expected[name][0][0]
        assert cells["change"].text() == on_screen(f"{round(change, 2) + 0.0:+.2f}")
        x, y = view.plots[name].curve.getData()  # the course: every stored frame's value
        np.testing.assert_allclose(x, t)
        np.testing.assert_allclose(y, stored.outputs[:, COLUMN[name]])
    assert NOT_ESTIMATED not in view.visible_text()

    pdf = tmp_path / "full.pdf"
    export_session_report(cat, data_dir(), rec.id, pdf, settings=Settings.load())
    section = _section("\n".join(pg.extract_text() for pg in PdfReader(pdf).pages))
    for name in EXTRA_OUTPUTS:
        (m0, s0), (m1, s1) = expected[name]
        row = f"{name.capitalize()}\n.*\n{m0:.2f} ± {s0:.2f}\n{m1:.2f} ± {s1:.2f}\n"
        assert re.search(row, section), (name, section)
        assert f"{name.capitalize()} (" in section  # its chart's axis title
    assert NOT_ESTIMATED not in section

    d = _show_json(capsys, rec.uid)["analysis"]["outputs"]
    assert d["learned"] == list(COLUMN) and d["demo_model"] is False
    for o in d["outputs"]:
        assert o["estimated"] is True and o["reason"] is None
        got = [(w["mean"], w["sd"]) for w in o["windows"]]
        assert got == [pytest.approx(ms, rel=1e-6) for ms in expected[o["name"]]]
    page.shutdown()


def test_the_demo_model_shows_no_number_for_what_it_did_not_learn(
    qtbot, cat, capsys, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    p = cat.add_patient("OUT-2")
    rec, review = analysed_by(cat, data_dir(), p.id, SHIPPED)
    assert review.demo_model and review.estimates.outputs_trained[0] == ["valence", "arousal"]
    stored = load_estimates(data_dir() / rec.folder)
    assert stored is not None and np.isfinite(stored.outputs[:, 2:]).any()  # the network's values

    page = _review_page(qtbot, cat, rec.id)
    view = _open_outputs_tab(qtbot, page)
    assert view.demo.isVisibleTo(view) and "DEMO MODEL" in view.demo.text()
    assert "learned valence and arousal only" in view.intro.text()
    assert not view.plots  # no line at all, neither at 0 nor of NaN
    for name in EXTRA_OUTPUTS:
        cells = view.labels[name]
        assert set(cells) == {"name", "scale", "reason"}
        assert cells["reason"].text() == f"<i>{NOT_ESTIMATED}</i>"
        assert "valence and arousal only" in cells["reason"].toolTip()
    values = re.sub(r"1–9|0 \(absent\) – 1 \(present\)", "", view.visible_text())
    assert not re.search(r"\d", values)  # no number but the scales' names

    pdf = tmp_path / "demo.pdf"
    export_session_report(cat, data_dir(), rec.id, pdf, settings=Settings.load())
    text = "\n".join(pg.extract_text() for pg in PdfReader(pdf).pages)
    section = _section(text)
    assert "DEMO MODEL — not clinically valid" in text
    for name in EXTRA_OUTPUTS:
        assert re.search(f"{name.capitalize()}\n.*\n{NOT_ESTIMATED}\n", section), name
    assert not re.search(r"\d\.\d", section)  # no figure in the section
    assert "(score)" not in section and "Liking (1" not in section  # no chart

    a = _show_json(capsys, rec.uid)["analysis"]
    d = a["outputs"]
    assert d["learned"] == ["valence", "arousal"] and d["demo_model"] is True
    for o in d["outputs"]:
        assert o["estimated"] is False and o["reason"].startswith(NOT_ESTIMATED)
        assert o["windows"] is None and o["change"] is None
    capsys.readouterr()
    assert main(["show", rec.uid]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("    ")]
    for name in EXTRA_OUTPUTS:
        assert f"    {name:<10} {NOT_ESTIMATED}" in lines

    # the CSV export, read back by pandas: the same columns, empty where not learned
    out = tmp_path / "csv"
    export_session(cat, data_dir(), rec.uid, "csv", out, settings=Settings.load())
    df = pd.read_csv(out / ESTIMATES_NAME)
    for col in ("liking_1to9", *EXTRA_OUTPUTS[1:]):
        assert df[col].isna().all(), col
    for col in ("valence", "arousal", "valence_1to9", "arousal_1to9"):
        assert df[col].notna().sum() == int(np.isfinite(stored.outputs[:, 0]).sum()) > 0
    np.testing.assert_allclose(df["valence_1to9"], stored.outputs[:, 0], rtol=1e-6)
    page.shutdown()
