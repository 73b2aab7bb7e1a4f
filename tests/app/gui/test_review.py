"""The review screens in the real widgets: circumplex and timeline views, the review page, analysis."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QTime
from PySide6.QtWidgets import QMessageBox

from app.gui.circumplex_view import CircumplexView
from core.analysis.circumplex import to_circumplex
from core.analysis.review import review_of
from core.catalog import Catalog
from tests.app.review_data import NAN_FRAMES, hand_estimates, make_analysed, record_short


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """An untrained small BMMN-BAE-2 (fast on the CPU)."""
    from core.models import BMMNConfig, build_model
    from core.models.checkpoint import save_checkpoint

    cfg = BMMNConfig(variant="bae2", backbone="small", backbone_weights="none", face_size=64)
    meta = {
        "scaling": {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.5, "gsr": 3.0}},
        "label": "tiny test model",
        "demo": True,
    }
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    return save_checkpoint(path, build_model(cfg), cfg, meta)


@pytest.fixture
def store(tmp_path):
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    yield cat, tmp_path
    cat.close()


def test_circumplex_view_draws_the_session_where_it_is(qtbot, store):
    cat, root = store
    p = cat.add_patient("V-1")
    rec, review = make_analysed(cat, root, p.id)
    cat.set_self_report(rec.id, "pre", sam_valence=3, sam_arousal=7)
    cat.set_self_report(rec.id, "post", sam_valence=7, sam_arousal=2)
    review = review_of(cat, root, rec.id)
    view = CircumplexView()
    qtbot.addWidget(view)
    view.show_session(review)

    est = review.estimates
    ok = np.isfinite(est.valence)
    x, y = view.trajectory.getData()
    np.testing.assert_allclose(x, est.valence[ok])
    np.testing.assert_allclose(y, est.arousal[ok])
    assert len(x) == len(est) - len(NAN_FRAMES)
    c = review.circumplex
    px, py = view.pre_item.getData()
    qx, qy = view.post_item.getData()
    assert (px[0], py[0]) == pytest.approx((c.pre.mean_valence, c.pre.mean_arousal))
    assert (qx[0], qy[0]) == pytest.approx((c.post.mean_valence, c.post.mean_arousal))
    assert c.pre.mean_valence < -0.5 < 0.5 < c.pre.mean_arousal  # anxious first…
    assert c.post.mean_valence > 0.5 and c.post.mean_arousal < -0.3  # …calm at the end
    (line, head), *_ = view.arrows
    lx, ly = line.getData()
    assert (lx[0], ly[0]) == pytest.approx((px[0], py[0]))  # from the pre mean…
    tip = head.polygon()[0]
    direction = np.array([qx[0] - px[0], qy[0] - py[0]])
    to_tip = np.array([tip.x() - px[0], tip.y() - py[0]])
    cross = direction[0] * to_tip[1] - direction[1] * to_tip[0]
    assert cross == pytest.approx(0.0, abs=1e-9)  # …towards the post mean
    assert 0.9 * np.linalg.norm(direction) < np.linalg.norm(to_tip) < np.linalg.norm(direction)
    sx, sy = view.sam_item.getData()
    assert list(sx) == pytest.approx([to_circumplex(3), to_circumplex(7)])
    assert list(sy) == pytest.approx([to_circumplex(7), to_circumplex(2)])
    nx, ny = view.neutral_item.getData()
    assert np.hypot(nx, ny) == pytest.approx(np.full(len(nx), c.neutral_radius))
    captions = {q: t.textItem.toPlainText() for q, t in view.captions.items()}
    assert "Q2 LVHA" in captions[2] and "stressed/anxious" in captions[2]
    assert "Q4 HVLA" in captions[4] and "calm/relaxed" in captions[4]
    assert "Q1 HVHA" in captions[1] and "Q3 LVLA" in captions[3]
    assert view.demo and view.demo_label.isVisible()
    assert "DEMO MODEL" in view.demo_label.text and "not clinically valid" in view.demo_label.text

    q = cat.add_patient("V-2")
    _, clinic = make_analysed(cat, root, q.id, demo=False)
    view.show_session(clinic)
    assert not view.demo and not view.demo_label.isVisible() and view.demo_label.text == ""


def test_figures_export_as_png_and_svg(qtbot, store, tmp_path):
    cat, root = store
    p = cat.add_patient("X-1")
    _, review = make_analysed(cat, root, p.id)
    view = CircumplexView()
    qtbot.addWidget(view)
    view.resize(500, 560)
    view.show_session(review)
    png = view.export(tmp_path / "fig.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    svg = view.export(tmp_path / "fig.svg")
    tree = ET.parse(svg)  # well-formed XML
    text = ET.tostring(tree.getroot(), encoding="unicode")
    assert tree.getroot().tag.endswith("svg")
    assert "DEMO MODEL" in text and "LVHA" in text
    with pytest.raises(ValueError, match="png or .svg"):
        view.export(tmp_path / "fig.pdf")
    view.show_arrows([("A", (-0.5, 0.5), (0.4, -0.3), False), ("B", (np.nan, 0.0), (0, 0), True)])
    assert len(view.arrows) == 1 and not view.demo  # B has no pre value: left out
    assert view.export(tmp_path / "arrows.png").stat().st_size > 5000


def test_review_page_shows_the_numbers_of_the_estimates(win, qtbot):
    p = win.catalog.add_patient("R-1")
    rec, review = make_analysed(win.catalog, win.data_root, p.id)
    win.show_review(rec.id)
    page = win.review
    assert win.stack.currentWidget() is page
    assert page.left.currentWidget() is page.circumplex
    assert page.sim_banner.isVisible() and page.demo_banner.isVisible()
    assert "R-1" in page.title.text()
    # the pre window without markers: the first third of the session
    est = hand_estimates(rec.duration_s)
    third = rec.duration_s / 3
    pre = (est.t_s < third) & np.isfinite(est.valence)
    v = est.valence[pre]
    expected = f"{v.mean():+.2f} ± {v.std(ddof=1):.2f}".replace("-", "−")
    assert page.table.cell_text("Valence, mean ± SD", "pre") == expected
    assert page.table.cell_text("Quadrant of the mean", "pre") == "Q2 LVHA (stressed/anxious)"
    assert page.table.cell_text("Quadrant of the mean", "post") == "Q4 HVLA (calm/relaxed)"
    n_pre = int((est.t_s < third).sum())
    assert page.table.cell_text("Frames estimated", "pre").startswith(f"{pre.sum()} of {n_pre}")
    assert "Q2 LVHA  100%" in page.table.cell_text("Time per quadrant", "pre")
    assert "more pleasant and calmer" in page.sentence.text()
    assert "demo model" in page.sentence.text()
    details = page.details.text()
    assert "Demo test model" in details and "cpu: test" in details
    assert "3 without a face" in details and "DEMO MODEL" in details
    # the timeline leaves the frames without an estimate as gaps
    tx, ty = page.timeline.valence_curve.getData()
    assert (
        np.isnan(ty[list(NAN_FRAMES)]).all()
        and page.timeline.valence_curve.opts["connect"] == "finite"
    )
    assert len(page.timeline.window_items) == 2
    # one slider: the video, the timeline cursor and the circumplex mark follow it
    page.slider.setValue(int(rec.duration_s * 1000 * 0.75))
    assert page.timeline.cursor_line.value() == pytest.approx(page.t)
    assert page.frame_t[page.current_frame] <= page.t + 1e-9
    cx, cy = page.circumplex.cursor_item.getData()
    assert cx[0] > 0 > cy[0]  # calm by then
    # clicking the timeline seeks there
    vb = page.timeline.plot.vb
    scene = vb.mapViewToScene(QPointF(5.0, 0.0))
    pos = page.timeline.plot_widget.mapFromScene(scene)
    qtbot.mouseClick(page.timeline.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert page.t == pytest.approx(5.0, abs=0.3)
    assert page.slider.value() == pytest.approx(page.t * 1000, abs=1)


def test_editing_the_markers_moves_the_windows(win, qtbot, monkeypatch):
    cat = win.catalog
    p = cat.add_patient("M-1")
    rec, _ = make_analysed(cat, win.data_root, p.id)
    cat.add_marker(rec.id, 4.0, "treatment_start", "Treatment start")
    cat.add_marker(rec.id, 16.0, "treatment_end", "Treatment end")
    win.show_review(rec.id)
    page = win.review
    table = page.table
    assert "before treatment" in table.cell_text("Window", "pre")
    assert "0:00 – 0:04" in table.cell_text("Window", "pre")
    before = table.cell_text("Frames estimated", "pre")
    edit = page.markers.time_edit(0)
    edit.setTime(QTime(0, 0, 8))
    edit.editingFinished.emit()
    qtbot.waitUntil(lambda: "0:00 – 0:08" in table.cell_text("Window", "pre"), timeout=3000)
    assert table.cell_text("Frames estimated", "pre") != before
    summary = cat.latest_analysis(rec.id).summary["circumplex"]
    assert summary["pre"]["end_s"] == pytest.approx(8.0)
    assert any(a.action == "update" and a.entity == "analysis" for a in cat.audit_log())
    assert page.timeline.marker_items[0].value() == pytest.approx(8.0)
    # delete the end marker: the windows fall back to the first and last third
    page.markers.table.selectRow(1)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(page.markers.delete_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "first" in table.cell_text("Window", "pre"), timeout=3000)
    assert len(cat.list_markers(rec.id)) == 1
    # add a treatment end at the cursor
    page.seek(15.0)
    qtbot.mouseClick(page.markers.add_end, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "after treatment" in table.cell_text("Window", "post"), timeout=3000)
    assert [m.kind for m in cat.list_markers(rec.id)] == ["treatment_start", "treatment_end"]


def test_self_report_is_stored_as_typed(win, qtbot):
    cat = win.catalog
    p = cat.add_patient("S-1")
    rec, _ = make_analysed(cat, win.data_root, p.id)
    win.show_review(rec.id)
    box = win.review.self_report
    for phase, col, text in (("pre", "sam_valence", "3"), ("pre", "sam_arousal", "8")):
        qtbot.keyClicks(box.fields[phase][col], text)
        qtbot.keyClick(box.fields[phase][col], Qt.Key.Key_Return)  # saved when the field is left
    assert cat.self_reports(rec.id)["pre"].sam_valence == 3
    qtbot.keyClicks(box.fields["post"]["gad7"], "5")
    qtbot.keyClick(box.fields["post"]["gad7"], Qt.Key.Key_Return)
    got = cat.self_reports(rec.id)
    assert (got["pre"].sam_valence, got["pre"].sam_arousal, got["pre"].gad7) == (3, 8, None)
    assert got["post"].gad7 == 5 and got["post"].sam_valence is None
    # shown beside the estimates, and on the circumplex as a hollow marker
    assert win.review.table.cell_text("Patient's SAM (valence, arousal)", "pre").startswith("3, 8")
    assert win.review.table.cell_text("Patient's GAD-7", "post").startswith("5")
    sx, sy = win.review.circumplex.sam_item.getData()
    assert (sx[0], sy[0]) == pytest.approx((to_circumplex(3), to_circumplex(8)))
    field = box.fields["pre"]["sam_valence"]
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(field, Qt.Key.Key_Backspace)  # empty: cleared
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert cat.self_reports(rec.id)["pre"].sam_valence is None
    qtbot.keyClicks(box.notes, "calmer after breathing")
    box.flush()
    assert cat.get_session(rec.id).notes == "calmer after breathing"


def test_analyse_now_runs_and_shows_the_review(win, qtbot, tiny_checkpoint):
    win.settings.model_checkpoint = str(tiny_checkpoint)
    win.settings.analysis_device = "cpu"
    win.settings.analysis_frames_per_s = 1.0
    p = win.catalog.add_patient("A-1")
    rec = record_short(win.catalog, win.data_root, p.id, 12.0)
    win.show_review(rec.id)
    page = win.review
    assert page.left.currentWidget() is page.panel
    assert page.numbers.currentWidget() is page.not_analysed
    qtbot.waitUntil(lambda: page.panel.amount.text() != "", timeout=20000)
    assert "Frames to analyse: about 12" in page.panel.amount.text()
    assert page.panel.device.text().startswith("Runs on: cpu")
    qtbot.mouseClick(page.panel.analyse_btn, Qt.MouseButton.LeftButton)
    assert page.runner.running and not page.panel.analyse_btn.isEnabled()
    assert page.panel.progress.isVisible()
    qtbot.waitUntil(lambda: page.left.currentWidget() is page.circumplex, timeout=60000)
    assert win.catalog.session_states(p.id)[rec.id] == "analysed"
    assert "tiny test model" in page.details.text()
    assert page.review is not None and page.review.estimates.info["counts"]["frames_analysed"] >= 10
    assert win.analysis_progress.isHidden()
    # the patient page now shows the session as analysed, with its quadrants
    win.show_patient(p.id)
    assert win.patient.table.item(0, 3).text() == "analysed"
    assert "→" in win.patient.table.item(0, 4).text()


def test_analysis_errors_are_shown_plainly(win, qtbot, monkeypatch, app_env):
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    bad = app_env / "corrupt.pt"
    bad.write_bytes(b"this is not a checkpoint")
    win.settings.model_checkpoint = str(bad)
    win.settings.analysis_device = "cpu"
    p = win.catalog.add_patient("E-1")
    rec = record_short(win.catalog, win.data_root, p.id, 6.0)
    win.show_review(rec.id)
    page = win.review
    page.analyse()
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert "corrupt.pt" in shown[0]
    assert not page.runner.running and page.panel.analyse_btn.isEnabled()
    assert page.left.currentWidget() is page.panel
    assert win.catalog.latest_analysis(rec.id) is None
    win.settings.model_checkpoint = str(app_env / "missing.pt")
    page.analyse()
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=10000)
    assert "missing" in shown[1] and "Settings" in shown[1]


def test_cancelling_a_reanalysis_keeps_the_stored_one(win, qtbot, monkeypatch, tiny_checkpoint):
    win.settings.model_checkpoint = str(tiny_checkpoint)
    win.settings.analysis_device = "cpu"
    p = win.catalog.add_patient("C-1")
    rec, _ = make_analysed(win.catalog, win.data_root, p.id)
    win.show_review(rec.id)
    page = win.review
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(page.reanalyse_btn, Qt.MouseButton.LeftButton)
    assert page.runner.running and page.left.currentWidget() is page.panel
    assert page.panel.cancel_btn.isVisible()
    qtbot.mouseClick(page.panel.cancel_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.runner.running, timeout=30000)
    assert "cancelled" in win.statusBar().currentMessage() and win.analysis_progress.isHidden()
    # the earlier (hand-made) analysis is still the one shown and stored
    assert page.left.currentWidget() is page.circumplex
    assert page.review.checkpoint["label"] == "Demo test model"
    assert len(win.catalog.list_analyses(rec.id)) == 1
