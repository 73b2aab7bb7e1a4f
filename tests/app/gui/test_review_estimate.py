"""The review screen's 'Analyse now' estimate on the optimised CPU runtime (issue 21 review 1):
the whole-session limit comes from the chosen checkpoint's export and this computer's measured
rates, and says so; without an export yet the estimate is for the windows until measured."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.gui import analysis_panel
from core.analysis.planning import optimised_whole_minutes
from core.analysis.review import session_windows
from tests.app.review_data import record_short


def small_checkpoint(path: Path) -> Path:
    from core.models import BMMNConfig, build_model
    from core.models.checkpoint import save_checkpoint

    cfg = BMMNConfig(variant="bae2", backbone="small", backbone_weights="none", face_size=64)
    meta = {"scaling": {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.5, "gsr": 3.0}}}
    return save_checkpoint(path, build_model(cfg), cfg, meta)


def test_the_estimate_says_the_speed_is_measured_by_the_first_analysis(
    win, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openvino")
    import torch

    monkeypatch.delenv("THERASCOPE_CPU_RUNTIME", raising=False)  # Automatic: OpenVINO here
    monkeypatch.setenv("THERASCOPE_CACHE_DIR", str(tmp_path / "cache"))  # no export yet
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(analysis_panel, "_device_cache", {})
    win.settings.model_checkpoint = str(small_checkpoint(tmp_path / "clinic.pt"))
    win.settings.analysis_device = "auto"
    rec = record_short(win.catalog, win.data_root, win.catalog.add_patient("A-1").id, 12.0)
    win.show_review(rec.id)
    page = win.review
    qtbot.waitUntil(lambda: "OpenVINO" in page.panel.device.text(), timeout=20000)
    # the page asked for this checkpoint's limit: not measured yet, said in the tooltip
    assert "not measured" in page.panel.amount.toolTip()
    # a 50-minute session: over the 40-minute limit, the windows, until measured
    long = dataclasses.replace(rec, duration_s=50 * 60.0)
    est = optimised_whole_minutes(win.settings, Path(win.settings.model_checkpoint))
    assert est.minutes == 40.0
    windows = session_windows(win.catalog, long, win.settings)
    page.panel.describe(long, win.settings, page.panel.device.text()[9:], None, windows, est)
    text = page.panel.amount.text()
    assert "Sessions over 40 min: the two comparison windows" in text
    assert "until the first analysis with this model on this computer measures its speed" in text
