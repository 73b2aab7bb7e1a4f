"""Playback writes session time as m:ss, like every other screen (not seconds)."""

from __future__ import annotations

from app.gui.main import create_window
from tests.app.review_data import record_short


def test_playback_axes_read_minutes_and_seconds(qtbot, app_env):
    w, _ = create_window(demo=False)
    qtbot.addWidget(w)
    w.show()
    p = w.catalog.add_patient("T-1")
    rec = record_short(w.catalog, w.data_root, p.id, 3.0)
    w.show_playback(rec.id)
    for plot in (w.playback.overview, w.playback.ecg_plot, w.playback.eda_plot):
        axis = plot.getAxis("bottom")
        assert axis.tickStrings([0.0, 75.0, 3725.0], 1.0, 1.0) == ["0:00", "1:15", "1:02:05"]
        assert "(s)" not in axis.labelText
    assert w.playback.time_label.text() == "0:00 / 0:03"


def test_zoomed_in_axes_keep_ticks_apart(qtbot, app_env):
    """The ECG detail shows a few seconds: ticks half a second apart read to the tenth, not
    "0:00 0:00 0:00"; and no tick is labelled before the session began."""
    w, _ = create_window(demo=False)
    qtbot.addWidget(w)
    p = w.catalog.add_patient("T-2")
    rec = record_short(w.catalog, w.data_root, p.id, 3.0)
    w.show_playback(rec.id)
    axis = w.playback.ecg_plot.getAxis("bottom")
    labels = axis.tickStrings([-0.5, 0.0, 0.5, 1.0, 1.5], 1.0, 0.5)
    assert labels == ["", "0:00.0", "0:00.5", "0:01.0", "0:01.5"]
    shown = [t for t in labels if t]
    assert len(set(shown)) == len(shown)
