"""The review screen shows the session it shows: nothing left over from the previous session or the
previous analysis, and markers that can be deleted the way they are edited."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from tests.app.review_data import make_analysed, record_short


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


def _use_tiny_model(win, checkpoint) -> None:
    win.settings.model_checkpoint = str(checkpoint)
    win.settings.analysis_device = "cpu"
    win.settings.analysis_frames_per_s = 1.0


def test_a_new_session_shows_nothing_of_the_previous_analysis(win, qtbot, tiny_checkpoint):
    _use_tiny_model(win, tiny_checkpoint)
    p = win.catalog.add_patient("N-1")
    first = record_short(win.catalog, win.data_root, p.id, 8.0)
    win.show_review(first.id)
    page = win.review
    qtbot.mouseClick(page.panel.analyse_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.left.currentWidget() is page.circumplex, timeout=60000)
    assert page.panel.status.text().startswith("Analysed")  # "Analysed 8 of 8 frames"
    second = record_short(win.catalog, win.data_root, p.id, 6.0)
    win.show_review(second.id)
    assert page.left.currentWidget() is page.panel
    assert page.panel.status.text() == ""
    assert page.panel.progress.value() == 0 and not page.panel.progress.isVisible()
    assert "has not been analysed yet" in page.panel.intro.text()
    assert page.panel.analyse_btn.isEnabled()


def test_a_reanalysis_describes_the_existing_results_as_existing(
    win, qtbot, monkeypatch, tiny_checkpoint
):
    _use_tiny_model(win, tiny_checkpoint)
    p = win.catalog.add_patient("N-2")
    rec, _ = make_analysed(win.catalog, win.data_root, p.id)
    win.show_review(rec.id)
    page = win.review
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(page.reanalyse_btn, Qt.MouseButton.LeftButton)
    assert page.runner.running and page.left.currentWidget() is page.panel
    intro = page.panel.intro.text()
    assert "Re-analysing" in intro and "not been analysed" not in intro
    assert "existing results" in intro
    # beside it, the existing results are still shown as results
    assert page.numbers.currentWidget() is page.numbers_page
    assert "Demo test model" in page.details.text()
    qtbot.mouseClick(page.panel.cancel_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.runner.running, timeout=30000)
    assert page.left.currentWidget() is page.circumplex


def test_waiting_for_another_sessions_analysis_ends_with_it(win, qtbot, tiny_checkpoint):
    _use_tiny_model(win, tiny_checkpoint)
    p = win.catalog.add_patient("N-3")
    running = record_short(win.catalog, win.data_root, p.id, 8.0)
    waiting = record_short(win.catalog, win.data_root, p.id, 6.0)
    win.show_review(running.id)
    page = win.review
    qtbot.mouseClick(page.panel.analyse_btn, Qt.MouseButton.LeftButton)
    win.show_review(waiting.id)
    assert "Another session is being analysed" in page.panel.status.text()
    assert not page.panel.analyse_btn.isEnabled()
    qtbot.waitUntil(lambda: not page.runner.running, timeout=60000)
    assert win.catalog.latest_analysis(running.id) is not None
    assert page.panel.analyse_btn.isEnabled() and page.panel.status.text() == ""


def test_a_marker_is_deleted_with_the_delete_button(win, qtbot, monkeypatch):
    cat = win.catalog
    p = cat.add_patient("D-1")
    rec, _ = make_analysed(cat, win.data_root, p.id)
    cat.add_marker(rec.id, 4.0, "treatment_start", "Treatment start")
    cat.add_marker(rec.id, 10.0, "note", "coughs")
    cat.add_marker(rec.id, 16.0, "treatment_end", "Treatment end")
    win.show_review(rec.id)
    page = win.review
    editor = page.markers
    qtbot.mouseClick(page.tabs.tabBar(), Qt.MouseButton.LeftButton, pos=_tab_centre(page, editor))
    assert page.tabs.currentWidget() is editor
    assert not editor.delete_btn.isEnabled()  # nothing selected: nothing to delete
    assert "0:04 – 0:16" not in page.table.cell_text("Window", "pre")
    assert "after treatment" in page.table.cell_text("Window", "post")
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.No]

    def question(*a, **k):
        asked.append(a[2])
        return answer[0]

    monkeypatch.setattr(QMessageBox, "question", question)
    _click_row(qtbot, editor, 2)  # the treatment end
    assert editor.delete_btn.isEnabled()
    qtbot.mouseClick(editor.delete_btn, Qt.MouseButton.LeftButton)
    assert "Treatment end at 0:00:16" in asked[0]
    assert len(cat.list_markers(rec.id)) == 3  # "No": kept
    answer[0] = QMessageBox.StandardButton.Yes
    qtbot.mouseClick(editor.delete_btn, Qt.MouseButton.LeftButton)
    # the windows are worked out again without it, as after an edit
    qtbot.waitUntil(lambda: "last" in page.table.cell_text("Window", "post"), timeout=3000)
    assert [m.kind for m in cat.list_markers(rec.id)] == ["treatment_start", "note"]
    assert len(page.timeline.marker_items) == 2
    summary = cat.latest_analysis(rec.id).summary["circumplex"]
    assert summary["post"]["end_s"] == pytest.approx(rec.duration_s, abs=0.5)
    assert any(a.action == "delete" and a.entity == "marker" for a in cat.audit_log())
    # the rebuilt table selects nothing: a second click cannot delete a marker nobody chose
    assert not editor.delete_btn.isEnabled()
    _click_row(qtbot, editor, 1)  # the note
    qtbot.mouseClick(editor.delete_btn, Qt.MouseButton.LeftButton)
    assert '"coughs"' in asked[-1]
    qtbot.waitUntil(lambda: len(editor.markers) == 1, timeout=3000)
    assert [m.kind for m in cat.list_markers(rec.id)] == ["treatment_start"]


def _tab_centre(page, widget):
    return page.tabs.tabBar().tabRect(page.tabs.indexOf(widget)).center()


def _click_row(qtbot, editor, row: int) -> None:
    """Click the marker's label cell, as a therapist picks a row."""
    item = editor.table.item(row, 2)
    rect = editor.table.visualItemRect(item)
    qtbot.mouseClick(editor.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert editor.table.currentRow() == row
