"""The demo model: BMMN-BAE-2 with the small backbone, trained on simulated sessions.

It exists so the whole path (record → analyse → review → report) works out of the box. Its
training data are simulated sessions whose valence and arousal tour all four quadrants
independently (scenarios ``quadrant_tour*``), recorded through the real recorder, read back
through the analysis engine's own input path (:mod:`core.learning.datasets.sessions`) and trained the paper's
way (:func:`core.learning.training.train`). It is **not clinically valid**: it has only ever seen a
synthetic face and simulated physiology, and every screen and report that shows its numbers says
so.

``therascope train --demo`` builds it (:mod:`app.demo.training`, as it records simulated
sessions); the result is shipped as ``resources/models/demo-bmmn-bae2.pt`` and built on first
use into the data folder if that file is missing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.resources import resource_path

log = logging.getLogger(__name__)

DEMO_LABEL = "TheraScope demo model — simulated training data, not clinically valid"
SHIPPED = resource_path("models", "demo-bmmn-bae2.pt")


def built_demo_path(data_root: Path | None = None) -> Path:
    """Where a demo model built on first use goes: ``<data dir>/models/``."""
    if data_root is None:
        from core.config import data_dir

        data_root = data_dir()
    return data_root / "models" / SHIPPED.name


def find_demo_checkpoint(data_root: Path | None = None) -> Path | None:
    """The shipped demo checkpoint, else one built earlier on this machine, else None."""
    for p in (SHIPPED, built_demo_path(data_root)):
        if p.is_file():
            return p
    return None


def active_checkpoint(settings: Any, data_root: Path | None = None) -> Path | None:
    """The checkpoint analyses use: the clinic's (named in the settings) or the demo model.

    Returns None when the demo model is to be used but is neither shipped nor built yet
    (:func:`app.demo.training.ensure_demo_checkpoint` builds it).

    Raises
    ------
    FileNotFoundError — the clinic's checkpoint named in the settings does not exist
    """
    if settings.model_checkpoint:
        p = Path(settings.model_checkpoint)
        if not p.is_file():
            raise FileNotFoundError(
                f"The model checkpoint chosen in the settings is missing: {p}. "
                "Choose another in Settings, or clear it to use the demo model."
            )
        return p
    return find_demo_checkpoint(data_root)
