"""The shipped demo model on short simulated sessions it never saw (other seeds and scenarios)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.demo.simulation import record_simulated
from core.analysis.circumplex import session_circumplex
from core.analysis.engine import AnalysisOptions, analyse_session
from core.catalog import Catalog
from core.config import Settings
from core.learning.demo_model import SHIPPED
from core.models.checkpoint import load_checkpoint
from core.physiology.summary import phase_windows
from core.simulation.scenario import preset


def test_the_shipped_demo_model_is_small_labelled_and_loads() -> None:
    assert SHIPPED.is_file(), (
        "resources/models/demo-bmmn-bae2.pt is built by therascope train --demo"
    )
    assert SHIPPED.stat().st_size <= 25e6
    _, cfg, meta = load_checkpoint(SHIPPED)
    assert meta["demo"] is True and "not clinically valid" in meta["label"]
    assert cfg.variant == "bae2" and cfg.backbone == "small" and cfg.modalities == "both"
    assert cfg.bio_rate_hz == 128.0  # the checkpoint's config keeps the key "bio_rate"


@pytest.mark.parametrize(
    ("scenario", "seed", "pre_q", "post_q"),
    [("anxious_to_calm", 951, 2, 4), ("calm_to_anxious", 952, 4, 2)],
)
def test_held_out_session_lands_in_the_scenarios_quadrants(
    tmp_path: Path, scenario: str, seed: int, pre_q: int, post_q: int
) -> None:
    seconds = 180.0
    with Catalog.open(tmp_path / "c.sqlite") as cat:
        p = cat.add_patient("HELD")
        rec = record_simulated(
            cat,
            tmp_path,
            p.id,
            seconds,
            scenario=scenario,
            seed=seed,
            settings=Settings(camera_width=320, camera_height=240, camera_fps=10),
        )
    est = analyse_session(
        tmp_path / rec.folder, SHIPPED, AnalysisOptions(device="cpu", frames_per_s=2.0), save=False
    )
    assert est.demo_model
    m = est.estimated
    assert m.mean() > 0.9
    c = session_circumplex(est.t_s, est.valence, est.arousal, phase_windows(seconds))
    assert (c.pre.quadrant, c.post.quadrant) == (pre_q, post_q)
    v, a = preset(scenario, seconds).at(est.t_s)
    assert np.corrcoef(est.valence[m], v[m])[0, 1] > 0.7
    assert np.corrcoef(est.arousal[m], a[m])[0, 1] > 0.7
