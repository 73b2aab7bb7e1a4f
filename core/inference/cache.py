"""The exports of a checkpoint, cached once per checkpoint and runtime, checked on every use.

A cache folder ``<cache root>/<key>/`` holds ``fp32.onnx``, ``int8.onnx`` (when it could be made)
and ``manifest.json``. The key is the checkpoint's SHA-256 with the versions of what made and runs
the files (OpenVINO, torch, the export format): a new checkpoint file, or an update of any of
them, gets a new folder; the old ones of that checkpoint, and every export made by other
versions, are removed when it is made. On every use the manifest
must name the same checkpoint, versions and graph inputs, and each file's SHA-256 must match the
manifest; anything else (a file cut short, edited or missing, a manifest from another version) is
rebuilt. The cache root is the user's cache folder (``$THERASCOPE_CACHE_DIR`` overrides it).

The cache never holds patient data: the graphs are the checkpoint's network; the manifest holds
versions, file hashes, the network's measured speed and the int8 check's figures and the name of
what it was calibrated and checked on.

int8 is calibrated and checked on frames of the checkpoint's own kind of data:

* the demo model (``demo`` in its metadata) on simulated sessions
  (:mod:`core.inference.calibration`) — its training distribution;
* any other checkpoint only on :class:`CalibrationData` handed to :func:`prepare`: frames and
  windows of its training data or of the clinic's recorded sessions, held in memory and never
  written (the manifest names their source and counts). Without them it runs fp32, and the
  manifest and the analysis record why — simulated faces say nothing about its accuracy on real
  ones.

int8 is used only where its accuracy holds (:func:`check_int8`): on the held-out sessions the
int8 graph's valence and arousal must correlate with the fp32 graph's at r ≥ 0.99 per frame, and
give the same pre and post quadrants; otherwise the analysis runs fp32 and says why.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.machine import file_sha256

log = logging.getLogger(__name__)

CACHE_ENV = "THERASCOPE_CACHE_DIR"
#: per-frame Pearson r the int8 graph's valence and arousal must reach against fp32
INT8_MIN_R = 0.99
#: simulated calibration (scenario, seed) and held-out check sessions; frames per session
CALIBRATION = (("quadrant_tour", 101), ("neutral", 102))
HELD_OUT = (("anxious_to_calm", 201), ("calm_to_anxious", 202), ("neutral", 203))
#: as core.analysis.circumplex's default: a mean nearer the centre is "near neutral" (0)
NEUTRAL_RADIUS = 0.15
CALIBRATION_FRAMES = 24
HELD_OUT_FRAMES = 30

Progress = Callable[[str], None]
SIMULATED_SOURCE = "simulated sessions (the demo model's training distribution)"
NO_CALIBRATION = (
    "int8 not used: this checkpoint was not trained on simulated faces, and no frames of its "
    "training data or of the clinic's recorded sessions were given to calibrate and check int8 "
    "on; fp32 runs"
)


@dataclass
class CalibrationData:
    """Frames and windows to calibrate and check a (non-demo) checkpoint's int8 on: its training
    data or the clinic's recorded sessions, cut as the analysis cuts them. Held in memory only:
    :func:`prepare` never writes them (the manifest keeps ``source`` and the counts).

    Attributes
    ----------
    calibration : list of feeds — batches ``{"face": (N, S, S, 3) uint8, "bio": (N, C, W)
        float32 scaled}`` (the graph's inputs only)
    held_out : list of feeds — whole held-out sessions (not in ``calibration``), one feed each:
        the check's per-frame correlation and pre/post quadrants
    source : str — what they are, for people (no names or codes), e.g. "the clinic's recorded
        sessions (4)"
    """

    calibration: list[dict[str, np.ndarray]]
    held_out: list[dict[str, np.ndarray]]
    source: str


def cache_root() -> Path:
    """``$THERASCOPE_CACHE_DIR``, else the platform's user cache folder, + ``inference``."""
    if os.environ.get(CACHE_ENV):
        base = Path(os.environ[CACHE_ENV])
    else:
        import platformdirs

        base = Path(platformdirs.user_cache_dir("TheraScope", appauthor=False))
    return base / "inference"


def versions() -> dict[str, str]:
    """What made and runs the cached files; a change of any makes the cache stale. Read from the
    installed packages' metadata (imports neither torch nor OpenVINO: the review screen asks).

    Raises
    ------
    importlib.metadata.PackageNotFoundError — OpenVINO or torch is not installed
    """
    from importlib.metadata import version

    from core.inference.export import EXPORT_FORMAT, OPSET

    return {
        "openvino": version("openvino").split("-")[0],
        "torch": version("torch").split("+")[0],
        "export_format": str(EXPORT_FORMAT),
        "opset": str(OPSET),
    }


def cache_key(sha256: str, ver: dict[str, str]) -> str:
    """The cache folder's name for a checkpoint and :func:`versions`."""
    return (
        f"{sha256[:32]}-ov{ver['openvino']}-torch{ver['torch']}-f{ver['export_format']}"
        f"-o{ver['opset']}"
    )


@dataclass
class Int8Check:
    """The int8 graph against the fp32 one on held-out simulated sessions."""

    accepted: bool
    reason: str
    r_valence: float | None = None
    r_arousal: float | None = None
    quadrants_fp32: list[list[int]] = field(default_factory=list)
    quadrants_int8: list[list[int]] = field(default_factory=list)
    frames: int = 0


@dataclass
class Exports:
    """A checkpoint's checked exports in the cache."""

    folder: Path
    fp32: Path
    int8: Path | None  # made (whether its check accepted it is in int8_check)
    int8_check: Int8Check
    inputs: list[str]
    rebuilt: str | None  # None: used as found; else why it was (re)built
    #: the model alone, measured on the held-out check when the export was made (fp32, int8)
    frames_per_s: dict[str, float] = field(default_factory=dict)


def quadrant(valence: float, arousal: float) -> int:
    """Circumplex quadrant of a mean on the training scale (the circumplex's, −1…1): 1 high
    valence high arousal, 2 low/high, 3 low/low, 4 high/low, 0 near neutral (as
    :func:`core.analysis.circumplex.quadrant_of`)."""
    if np.hypot(valence, arousal) < NEUTRAL_RADIUS:
        return 0
    if valence >= 0:
        return 1 if arousal >= 0 else 4
    return 2 if arousal >= 0 else 3


def pre_post_quadrants(out: np.ndarray) -> list[int]:
    """Quadrants of the mean valence and arousal over the first and the last third."""
    k = max(1, len(out) // 3)
    return [quadrant(float(p[:, 0].mean()), float(p[:, 1].mean())) for p in (out[:k], out[-k:])]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r (NaN when either is constant)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sa, sb = a.std(), b.std()
    if sa < 1e-12 or sb < 1e-12:
        return float("nan")
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


def check_int8(
    fp32_runs: list[np.ndarray],
    int8_runs: list[np.ndarray],
    min_r: float = INT8_MIN_R,
    source: str = SIMULATED_SOURCE,
) -> Int8Check:
    """The int8 rule (module docstring) over held-out sessions' outputs (training scale)."""
    f, q = np.concatenate(fp32_runs), np.concatenate(int8_runs)
    rv, ra = pearson(f[:, 0], q[:, 0]), pearson(f[:, 1], q[:, 1])
    qf = [pre_post_quadrants(o) for o in fp32_runs]
    qi = [pre_post_quadrants(o) for o in int8_runs]
    problems = []
    for name, r in (("valence", rv), ("arousal", ra)):
        if not np.isfinite(r):
            problems.append(f"{name} does not vary on the check sessions (r undefined)")
        elif r < min_r:
            problems.append(f"{name} r = {r:.4f} < {min_r}")
    if qf != qi:
        problems.append(f"pre/post quadrants differ (fp32 {qf}, int8 {qi})")
    ok = not problems
    reason = (
        f"int8 kept: valence r = {rv:.4f}, arousal r = {ra:.4f} against fp32 on "
        f"{len(f)} held-out frames of {source}, same pre/post quadrants"
        if ok
        else "int8 not used: " + "; ".join(problems)
    )
    return Int8Check(ok, reason, _finite(rv), _finite(ra), qf, qi, int(len(f)))


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def simulated_feeds(
    config: Any, meta: dict[str, Any], runs: tuple[tuple[str, int], ...], n: int
) -> list[dict[str, np.ndarray]]:
    from core.inference.calibration import simulated_inputs
    from core.inference.export import graph_inputs
    from core.models.units import checkpoint_units

    names = graph_inputs(config)
    feeds = []
    for scenario, seed in runs:
        sim = simulated_inputs(
            scenario,
            n,
            face_size=config.face_size,
            signals=config.signals,
            window=config.bio_window,
            rate_hz=config.bio_rate_hz,
            scaling=meta.get("scaling"),
            units=checkpoint_units(meta),
            seed=seed,
        )
        feeds.append({k: v for k, v in (("face", sim.faces), ("bio", sim.bio)) if k in names})
    return feeds


def simulated_calibration(
    config: Any,
    meta: dict[str, Any],
    source: str = "simulated sessions (timing only: not this checkpoint's own data)",
) -> CalibrationData:
    """Simulated frames as :class:`CalibrationData`, for benchmarks that time the int8 graph of a
    network not trained on simulated faces (an untrained ResNet-50): the check's verdict on them
    says nothing about real faces, and ``source`` says so in the manifest and the analysis."""
    calib = simulated_feeds(config, meta, CALIBRATION, CALIBRATION_FRAMES)
    batches = [
        {k: v[a : a + 8] for k, v in feed.items()}
        for feed in calib
        for a in range(0, CALIBRATION_FRAMES, 8)
    ]
    return CalibrationData(
        batches, simulated_feeds(config, meta, HELD_OUT, HELD_OUT_FRAMES), source
    )


def _build(
    folder: Path,
    model: Any,
    config: Any,
    meta: dict[str, Any],
    say: Progress,
    calibration: CalibrationData | None = None,
) -> dict[str, Any]:
    from core.inference.export import activation_ranges, export_onnx, graph_inputs, quantize_int8
    from core.inference.runner import CompiledNetwork, compile_onnx

    fp32 = export_onnx(model, config, folder / "fp32.onnx")
    names = graph_inputs(config)
    info: dict[str, Any] = {"inputs": names, "int8_calibration": None}
    # the network's speed, on simulated frames (speed only: what the frames show does not matter)
    timing = simulated_feeds(config, meta, HELD_OUT, HELD_OUT_FRAMES)
    f_net = CompiledNetwork(fp32, names)
    info["frames_per_s"] = {"fp32": _rate(f_net, timing)}
    if meta.get("demo"):
        source = SIMULATED_SOURCE
    elif calibration is not None:
        source = calibration.source
    else:
        check = Int8Check(False, NO_CALIBRATION)
        info["int8_check"] = check.__dict__
        return info
    say(f"Checking int8 on {source}…")
    try:
        if calibration is None:
            calib = simulated_feeds(config, meta, CALIBRATION, CALIBRATION_FRAMES)
            batches = [
                {k: v[a : a + 8] for k, v in feed.items()}
                for feed in calib
                for a in range(0, CALIBRATION_FRAMES, 8)
            ]
            held = timing
        else:
            batches = [{k: v for k, v in b.items() if k in names} for b in calibration.calibration]
            held = [{k: v for k, v in h.items() if k in names} for h in calibration.held_out]
        ranges = activation_ranges(fp32, batches, lambda proto: compile_onnx(proto))
        int8 = quantize_int8(fp32, ranges, folder / "int8.onnx")
        q_net = CompiledNetwork(int8, names, precision="int8")
        f_out = [f_net(h.get("face"), h.get("bio")) for h in held]
        q_out = [q_net(h.get("face"), h.get("bio")) for h in held]
        info["frames_per_s"]["int8"] = _rate(q_net, timing)
        check = check_int8(f_out, q_out, source=source)
        info["int8_calibration"] = {
            "source": source,
            "calibration_frames": int(sum(len(next(iter(b.values()))) for b in batches)),
            "held_out_sessions": len(held),
        }
    except Exception as exc:  # quantisation is an optimisation: fp32 runs without it
        log.warning("int8 export failed: %s", exc)
        (folder / "int8.onnx").unlink(missing_ok=True)
        check = Int8Check(
            False, f"int8 not used: it could not be made ({type(exc).__name__}: {exc})"
        )
    info["int8_check"] = check.__dict__
    return info


def _rate(net: Any, feeds: list[dict[str, np.ndarray]]) -> float:
    """The network's frames/s over ``feeds`` (once warm): the model alone, on this machine."""
    import time

    t = time.perf_counter()
    n = 0
    for h in feeds:
        n += len(net(h.get("face"), h.get("bio")))
    return round(n / max(time.perf_counter() - t, 1e-9), 1)


def find_manifest(sha256: str, root: Path | None = None) -> dict[str, Any] | None:
    """The manifest of ``sha256``'s export for this computer's versions, when one was made (its
    files are not hashed here: the analysis checks them before use), else None. No torch or
    OpenVINO import: the review screen's estimate asks on the GUI thread."""
    from importlib.metadata import PackageNotFoundError

    try:
        ver = versions()
    except PackageNotFoundError:  # no OpenVINO: no optimised path
        return None
    man = (root or cache_root()) / cache_key(sha256, ver) / "manifest.json"
    try:
        m = json.loads(man.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict) or m.get("checkpoint_sha256") != sha256 or m.get("versions") != ver:
        return None
    return m


def _valid(folder: Path, sha256: str, ver: dict[str, str], inputs: list[str]) -> str | None:
    """None when the folder's exports are whole and current, else what is wrong (words)."""
    man = folder / "manifest.json"
    if not man.is_file():
        return "no export yet" if not folder.exists() else "the export is incomplete"
    try:
        m = json.loads(man.read_text())
        if m.get("checkpoint_sha256") != sha256 or m.get("versions") != ver:
            return "the export is stale (another checkpoint or version)"
        if m.get("inputs") != inputs:
            return "the export is stale (other inputs)"
        for name, digest in m["files"].items():
            p = folder / name
            if not p.is_file() or file_sha256(p) != digest:
                return f"the export is corrupt ({name} changed or missing)"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "the export's manifest is unreadable"
    return None


def prepare(
    sha256: str,
    model: Any,
    config: Any,
    meta: dict[str, Any],
    root: Path | None = None,
    progress: Progress | None = None,
    calibration: CalibrationData | None = None,
) -> Exports:
    """The checkpoint's checked exports, built (or rebuilt) when needed.

    Parameters
    ----------
    sha256 : str — the checkpoint file's SHA-256
    model, config, meta : as :func:`core.models.checkpoint.load_any_checkpoint` returns them
    root : Path, optional — the cache root (default :func:`cache_root`)
    progress : callable(text), optional — what it is doing, for people
    calibration : CalibrationData, optional — a non-demo checkpoint's own frames to calibrate
        and check int8 on (module docstring); an export made without them is rebuilt when they
        are given
    """
    from core.faces.track import trained_detector
    from core.inference.export import graph_inputs

    say = progress or (lambda _t: None)
    root = root or cache_root()
    ver = versions()
    folder = root / cache_key(sha256, ver)
    inputs = graph_inputs(config)
    why = _valid(folder, sha256, ver, inputs)
    if why is None and calibration is not None and not meta.get("demo"):
        try:
            made_without = (
                json.loads((folder / "manifest.json").read_text())["int8_calibration"] is None
            )
        except (OSError, ValueError, KeyError, TypeError):
            made_without = True
        if made_without:
            why = "int8 calibration data is now available"
    if why is not None:
        say("Preparing the optimised model (once for this checkpoint)…")
        log.info("inference export %s: %s; building it", folder.name, why)
        root.mkdir(parents=True, exist_ok=True)
        suffix = folder.name[32:]
        for old in root.iterdir():  # this checkpoint's stale or damaged exports, and any
            # checkpoint's made by other versions (an update leaves none behind)
            if (
                old.is_dir()
                and not old.name.startswith(".")
                and (old.name.startswith(sha256[:32]) or not old.name.endswith(suffix))
            ):
                shutil.rmtree(old, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}-", dir=root))
        try:
            info = _build(tmp, model, config, meta, say, calibration)
            files = {p.name: file_sha256(p) for p in sorted(tmp.glob("*.onnx"))}
            manifest = {
                "checkpoint_sha256": sha256,
                "versions": ver,
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "files": files,
                "face_detector": trained_detector(meta) if "face" in inputs else None,
                **info,
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
            shutil.rmtree(folder, ignore_errors=True)
            try:
                tmp.rename(folder)
            except OSError:  # another process finished the same export first
                if _valid(folder, sha256, ver, inputs) is not None:
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    m = json.loads((folder / "manifest.json").read_text())
    check = Int8Check(**m["int8_check"])
    int8 = folder / "int8.onnx"
    return Exports(
        folder=folder,
        fp32=folder / "fp32.onnx",
        int8=int8 if int8.is_file() else None,
        int8_check=check,
        inputs=list(m["inputs"]),
        frames_per_s={k: float(v) for k, v in m.get("frames_per_s", {}).items()},
        rebuilt=why,
    )
