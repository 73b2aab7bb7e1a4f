"""The GUI's analysis device (Settings, the review screen) goes through the same check as the
command line (core.models.runtime.pick_device): a bogus setting reads in plain words."""

from __future__ import annotations

import torch

from app.gui import analysis_panel
from core.models import runtime


def test_a_bogus_device_setting_names_the_valid_ones(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False, raising=False)
    monkeypatch.setattr(analysis_panel, "_device_cache", {})
    assert analysis_panel.describe_analysis_device("bogus") == (
        "not available — Unknown device 'bogus'. "
        "Valid devices on this computer: auto, cpu (no CUDA GPU on this computer)"
    )
    text = analysis_panel.describe_analysis_device("cuda:1")
    assert text.startswith("not available — Device 'cuda:1' cannot be used: no CUDA GPU on this")
