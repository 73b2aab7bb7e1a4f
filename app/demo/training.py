"""Training the demo model (see :mod:`core.learning.demo_model`) on simulated sessions.

Here rather than in ``core`` because it records its training sessions with the simulated devices.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.learning.demo_model import DEMO_LABEL, built_demo_path, find_demo_checkpoint

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]


@dataclass
class DemoPlan:
    """What the demo model is trained on and how long.

    Parameters
    ----------
    sessions : tuple of (scenario, minutes, seed) — simulated training sessions
    frames_per_s : float — training frames per second of session
    camera : (width, height, fps) — the simulated camera of the training sessions
    face_size : int — crop side (pixels)
    epochs : (bmmn, bae, joint) — epochs per training stage
    batch_size : int
    seed : int
    modalities : str — ``"both"`` (the demo model); ``"face"`` or ``"bio"`` for the ablation
    face_detector : str — the detector the training crops are made with (recorded in the
        checkpoint; the analysis uses the same)
    """

    sessions: tuple[tuple[str, float, int], ...] = (
        ("quadrant_tour", 8.0, 301),
        ("quadrant_tour_reverse", 8.0, 302),
        ("quadrant_tour", 8.0, 303),
        ("quadrant_tour_reverse", 8.0, 304),
    )
    frames_per_s: float = 2.0
    camera: tuple[int, int, float] = (320, 240, 10.0)
    face_size: int = 112
    epochs: tuple[int, int, int] = (6, 3, 6)
    batch_size: int = 32
    seed: int = 0
    modalities: str = "both"
    face_detector: str = "mtcnn"
    extra: dict[str, Any] = field(default_factory=dict)


def record_training_sessions(
    work: Path, plan: DemoPlan, progress: Progress | None = None
) -> list[Path]:
    """Record the plan's simulated sessions into a private catalog under ``work``."""
    from app.demo.simulation import record_simulated
    from core.catalog import Catalog
    from core.config import Settings

    w, h, fps = plan.camera
    settings = Settings(camera_width=w, camera_height=h, camera_fps=fps)
    total = sum(m for _, m, _ in plan.sessions)
    done = 0.0
    folders = []
    with Catalog.open(work / "catalog.sqlite") as cat:
        patient = cat.add_patient("DEMO-TRAINING", notes="simulated training data", is_demo=True)
        for scenario, minutes, seed in plan.sessions:

            def sub(f: float, base: float = done, m: float = minutes) -> None:
                if progress is not None:
                    progress("recording simulated sessions", (base + f * m) / total)

            rec = record_simulated(
                cat,
                work,
                patient.id,
                minutes * 60.0,
                scenario=scenario,
                seed=seed,
                settings=settings,
                progress=sub,
                consent_note="demo model training data (simulated)",
            )
            folders.append(work / rec.folder)
            done += minutes
    return folders


def train_demo_model(
    out: Path,
    plan: DemoPlan | None = None,
    progress: Progress | None = None,
    work_dir: Path | None = None,
    device: str = "cpu",
    cancel: Callable[[], bool] | None = None,
) -> Path:
    """Build the demo checkpoint at ``out``; return its path.

    Parameters
    ----------
    work_dir : Path, optional — where the training sessions go (default: a temporary folder,
        removed afterwards)
    device : str — training device (``"cpu"`` by default: the result is then the same on every
        machine for one seed)
    cancel : callable, optional — polled throughout; True stops with
        :class:`app.demo.simulation.Cancelled` and writes nothing
    """
    from app.demo.simulation import Cancelled

    def report(stage: str, f: float) -> None:
        if cancel is not None and cancel():
            raise Cancelled("demo model build cancelled")
        if progress is not None:
            progress(stage, f)

    from core import __version__
    from core.faces.track import FACE_STAGE_KEY, face_stage
    from core.learning.datasets.sessions import session_samples
    from core.learning.training import FrameDataset, TrainConfig, train
    from core.models import BMMNConfig
    from core.models.checkpoint import save_checkpoint
    from core.models.outputs import to_training_scale

    plan = plan or DemoPlan()
    tmp = Path(tempfile.mkdtemp(prefix="therascope-demo-")) if work_dir is None else work_dir
    try:
        folders = record_training_sessions(tmp, plan, report)
        report("finding faces", 0.0)
        samples = session_samples(
            folders,
            frames_per_s=plan.frames_per_s,
            crop_size=plan.face_size,
            progress=lambda f: report("finding faces", f),
            face_detector=plan.face_detector,
        )
        log.info("demo model: %d training frames (%s)", len(samples), samples.counts)
        mc = BMMNConfig(
            variant="bae2",
            backbone="small",
            backbone_weights="none",
            face_size=plan.face_size,
            modalities=plan.modalities,
        )
        e1, e2, e3 = plan.epochs
        tc = TrainConfig(
            epochs_bmmn=e1,
            epochs_bae=e2,
            epochs_joint=e3,
            batch_size=plan.batch_size,
            seed=plan.seed,
            device=device,
        )
        ds = FrameDataset(samples.faces, samples.bio, to_training_scale(samples.targets))

        def train_progress(stage: str, f: float, info: dict[str, float]) -> None:
            report(f"training ({stage} stage)", f)

        model, hist = train(mc, tc, ds, train_progress)
        minutes = sum(m for _, m, _ in plan.sessions)
        meta = {
            "label": DEMO_LABEL,
            "demo": True,
            "scaling": {"signals": ["ECG", "EDA"], **samples.scaling, "rate_hz": 128.0},
            "training_data": (
                f"{len(plan.sessions)} simulated sessions ({minutes:g} min; scenarios "
                f"{', '.join(sorted({s for s, _, _ in plan.sessions}))}; seeds "
                f"{', '.join(str(s) for _, _, s in plan.sessions)}), {len(samples)} frames"
            ),
            "data_fingerprint": f"demo-plan:{plan.sessions}:{plan.frames_per_s}:{plan.camera}",
            "history": hist,
            "code_version": __version__,
            "outputs_trained": ds.outputs_trained,  # valence and arousal: the scenarios' labels
            FACE_STAGE_KEY: face_stage(plan.face_detector, plan.face_size),
        }
        return save_checkpoint(out, model, mc, meta)
    finally:
        if work_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_demo_checkpoint(
    progress: Progress | None = None,
    data_root: Path | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Path:
    """The demo checkpoint: shipped or built earlier, else built now into the data folder."""
    found = find_demo_checkpoint(data_root)
    if found is not None:
        return found
    target = built_demo_path(data_root)
    log.info("demo model missing; building it")
    return train_demo_model(target, progress=progress, cancel=cancel)
