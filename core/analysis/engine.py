"""The analysis engine: a recorded session → per-frame valence, arousal, liking and emotions.

session on disk → video decode (threads) → face tracker and crops → bio channels on the model's
128 Hz grid → the 1000-sample window centred on each analysed frame → batched BMMN-BAE-2 →
:class:`~core.analysis.results.SessionEstimates`, stored in the session folder with the
checkpoint's identity (one generation: estimates and details published together).

Decoding and face tracking run in a producer thread while the calling thread builds bio windows
and runs the model, so the stages overlap (OpenCV and torch both release the GIL). On CUDA every
frame is analysed by default; on the CPU ``cpu_frames_per_s`` (default 4) per second, over the
whole session when it is short enough and over the comparison windows otherwise.

Frames without a face and windows holding a lost bio sample are marked and get no estimate; a
model is used only on sessions that have every modality it was trained for.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.inputs import (
    CropChunk,
    UnitMismatchError,
    bio_windows,
    iter_face_crops,
    scale_channels,
    select_frames,
    session_bio_grid,
    unit_factors,
)
from core.analysis.results import (
    AnalysisCounts,
    AnalysisInfo,
    CheckpointIdentity,
    SessionEstimates,
    save_estimates,
)
from core.analysis.sequences import (
    anchor_rate_cap,
    describe_sampling,
    estimate_sequences,
    filtered,
    sequence_crop_index,
)
from core.machine import cpu_description, file_sha256
from core.models.outputs import trained_outputs

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


class AnalysisError(ValueError):
    """The session cannot be analysed with this checkpoint (the message says why, plainly)."""


class AnalysisCancelled(Exception):
    """The analysis was cancelled; nothing was stored."""


@dataclass
class AnalysisOptions:
    """How to analyse.

    Parameters
    ----------
    device : str — ``"auto"`` (CUDA, else Apple's MPS, else the optimised CPU runtime:
        :func:`core.inference.select.plan_inference`), ``"cpu"`` (torch, the reference),
        ``"cuda"``, ``"cuda:1"``, ``"mps"``…
    frames_per_s : float, optional — analysed frames per second; None: every frame on CUDA,
        ``cpu_frames_per_s`` on the CPU
    cpu_frames_per_s : float — the CPU's default analysis rate (frames/s)
    scope : str — ``"session"`` (all of it), ``"phases"`` (the two comparison windows) or
        ``"auto"`` (the whole session on CUDA or when it is at most ``auto_session_minutes``
        long — on the optimised CPU runtime, 60 minutes when a 60-minute session would take at
        most 20 min by the measured rates of the network and of decoding + faces:
        :func:`core.inference.speed.whole_session_minutes` — else the phases)
    auto_session_minutes : float — see ``scope``
    phase_minutes : float — comparison window length without phase markers (min)
    batch_size : int — frames per model call
    amp : str — ``"auto"`` (bf16 on CUDA), ``"bf16"`` or ``"off"``
    workers : int — decoding threads (0: up to 8, one per core)
    chunk : int — frames per producer chunk
    every_frame : bool — analyse every stored frame of the whole session on any device (as on
        CUDA by default); overrides ``frames_per_s``
    face_detector : str, optional — the face detector's spec
        (:func:`core.faces.detect.make_detector`: ``"haar"``, ``"mtcnn"``…); None: the one the
        checkpoint's training crops were made with (:func:`core.faces.track.trained_detector`),
        so analysis crops are made as the model learnt them. The analysis records which ran.
    int8 : str — on the optimised CPU runtime: ``"auto"`` (int8 where its accuracy check on
        simulated sessions accepted it, else fp32), ``"on"`` (int8 regardless: timing only),
        ``"off"`` (fp32)
    cache_dir : str, optional — where the optimised runtime's exports are cached (None: the
        user's cache folder, :func:`core.inference.cache.cache_root`)
    """

    device: str = "auto"
    frames_per_s: float | None = None
    cpu_frames_per_s: float = 4.0
    scope: str = "auto"
    auto_session_minutes: float = 40.0
    phase_minutes: float = 15.0
    batch_size: int = 128
    amp: str = "auto"
    workers: int = 0
    chunk: int = 128
    every_frame: bool = False
    face_detector: str | None = None
    int8: str = "auto"
    cache_dir: str | None = None


def describe_device(device: Any) -> str:
    """``"cuda: NVIDIA H100 80GB HBM3"`` or ``"cpu: <processor>, N cores"``."""
    import torch

    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {cpu_description()}"


def checkpoint_identity(path: Path, metadata: dict[str, Any], config: Any) -> CheckpointIdentity:
    """Who made the estimates: stored with every analysis and printed in every report."""
    return {
        "path": str(path),
        "file": Path(path).name,
        "sha256": file_sha256(Path(path)),
        "label": str(metadata.get("label") or Path(path).stem),
        "demo": bool(metadata.get("demo", False)),
        "variant": str(getattr(config, "variant", metadata.get("family", ""))),
        "backbone": str(getattr(config, "backbone", getattr(config, "face_backbone", ""))),
        "modalities": config.modalities,
        "signals": list(config.signals),
        "training_data": str(metadata.get("training_data", "")),
        "created_at": str(metadata.get("created_at", "")),
        "outputs_trained": trained_outputs(metadata)[0],
        "outputs_basis": trained_outputs(metadata)[1],
    }


def modality_label(modalities: str, signals: Sequence[str]) -> str:
    """Plain words for what a model looks at, e.g. ``"face + ECG + EDA"``."""
    bio = " + ".join(signals)
    return {"both": f"face + {bio}", "face": "face only", "bio": f"{bio} only"}[modalities]


def _check_inputs(config: Any, rates: dict[str, float], has_video: bool) -> None:
    """Refuse, in words, a session the checkpoint cannot read: a signal it needs is missing or
    sampled below the model's bio rate (resampling up would invent what the sensor never saw:
    an ECG at 100 Hz smears every R peak over several of the model's samples)."""
    needs_bio = config.modalities in ("both", "bio")
    needs_face = config.modalities in ("both", "face")
    channels = list(rates)
    missing = [s for s in config.signals if s not in channels] if needs_bio else []
    problems = []
    if missing:
        problems.append(
            f"the model needs {' and '.join(config.signals)}, this session has "
            f"{' and '.join(channels) if channels else 'no bio signals'}"
        )
    ecg_rate = rates.get("ECG")
    model_hz = float(config.bio_rate_hz)
    if needs_bio and "ECG" in config.signals and ecg_rate is not None and ecg_rate < model_hz:
        problems.append(
            f"its ECG is sampled at {ecg_rate:g} Hz, below the {model_hz:g} Hz the model reads "
            "(heart rate and RMSSD still work; the model needs a faster ECG)"
        )
    if needs_face and not has_video:
        problems.append("the model needs the face video, this session has none")
    if problems:
        raise AnalysisError(
            "This checkpoint cannot analyse this session: "
            + "; ".join(problems)
            + ". Choose a checkpoint trained for what the session has (Settings → model)."
        )


def _spans(
    opts: AnalysisOptions,
    on_cuda: bool,
    duration_s: float,
    markers: list[tuple[float, str]],
    whole_minutes: float | None = None,
) -> list[tuple[float, float]] | None:
    from core.physiology.summary import phase_windows

    scope = opts.scope
    if scope == "auto":
        whole = opts.auto_session_minutes if whole_minutes is None else whole_minutes
        short = duration_s <= whole * 60.0
        scope = "session" if on_cuda or short else "phases"
    if scope == "session":
        return None
    if scope != "phases":
        raise ValueError(f"scope must be 'session', 'phases' or 'auto', not {opts.scope!r}")
    spans = [(w.start_s, w.end_s) for w in phase_windows(duration_s, None, opts.phase_minutes)]
    if markers:  # the therapist's phases too, so editing markers later needs no new analysis
        spans += [(w.start_s, w.end_s) for w in phase_windows(duration_s, markers)]
    return spans


def _optimised_model(
    plan: Any,
    sha256: str,
    model: Any,
    cfg: Any,
    meta: dict[str, Any],
    opts: AnalysisOptions,
    runtime: dict[str, Any],
    progress: Progress | None,
) -> Any:
    """The optimised CPU runtime's compiled network when the plan asks for it, else None (also
    when it fails: torch runs, and ``runtime`` records why)."""
    if not plan.optimised:
        return None
    from core.inference.select import load_optimised

    try:
        opt = load_optimised(
            sha256,
            model,
            cfg,
            meta,
            int8=opts.int8,
            cache_root=Path(opts.cache_dir) if opts.cache_dir else None,
            progress=(lambda text: progress(0.0, text)) if progress else None,
        )
    except Exception as exc:  # any failure of the optimised path: torch, recorded and said
        _fall_back(runtime, "preparing", exc)
        return None
    runtime.update(
        engine=opt.runtime,
        precision=opt.precision,
        int8=opt.int8_note,
        export=opt.export_note,
        model_frames_per_s=opt.frames_per_s,
    )
    return opt


def _fall_back(
    runtime: dict[str, Any],
    stage: str,
    exc: BaseException,
    switched_at: dict[str, Any] | None = None,
) -> None:
    """Record that the optimised runtime failed and torch runs instead; ``switched_at`` (the
    first analysed frame torch ran: ``analysed_frame``, ``stored_frame``, ``t_s``) when it
    failed mid-analysis, after earlier frames ran on it: both runtimes are recorded."""
    msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    log.warning("optimised CPU runtime failed while %s (%s); torch runs instead", stage, msg)
    text = f"the optimised CPU runtime failed while {stage} ({msg}); torch ran instead"
    if switched_at is not None and runtime.get("engine", "torch") != "torch":
        k = int(switched_at["analysed_frame"])
        before = {
            "engine": runtime["engine"],
            "precision": runtime.get("precision", "fp32"),
            "analysed_frames": [0, k],
        }
        runtime["runtimes"] = [
            before,
            {"engine": "torch", "precision": "fp32", "analysed_frames": [k, None]},
        ]
        runtime["switched_at"] = dict(switched_at)
        text = (
            f"the optimised CPU runtime ({before['engine']}, {before['precision']}) failed while "
            f"{stage} at analysed frame {k} (stored frame {switched_at['stored_frame']}, "
            f"{float(switched_at['t_s']):.1f} s; {msg}): frames before it ran on it, torch (fp32) "
            "ran the rest"
        )
    runtime.update(engine="torch", precision="fp32", fallback=text)


def _producer(
    chunks: Any, q: queue.Queue[Any], stop: threading.Event
) -> None:  # pragma: no cover - exercised through analyse_session
    try:
        for c in chunks:
            while not stop.is_set():
                try:
                    q.put(c, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        q.put(None)
    except BaseException as exc:  # handed to the consumer, which raises it
        q.put(exc)


def analyse_session(
    folder: Path,
    checkpoint: Path,
    options: AnalysisOptions | None = None,
    markers: list[tuple[float, str]] | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    save: bool = True,
) -> SessionEstimates:
    """Analyse the session in ``folder`` with the model in ``checkpoint``.

    Parameters
    ----------
    markers : list of (t_s, kind), optional — phase markers (for the ``"phases"`` scope)
    progress : callable(fraction, text), optional
    cancel : callable, optional — polled between chunks; True stops with
        :class:`AnalysisCancelled` and stores nothing
    save : bool — store the estimates in the session folder (a new generation, published at
        once: :func:`~core.analysis.results.save_estimates`); to store them together with the
        catalog's record, pass False and use :func:`core.analysis.review.store_analysis`

    Raises
    ------
    AnalysisError — the checkpoint needs a modality the session lacks
    core.models.checkpoint.CheckpointError — the checkpoint is corrupt, foreign or mismatched
    """
    import torch

    from core import __version__
    from core.faces.detect import make_detector
    from core.faces.track import CropPolicy, FaceTracker, tracker_for, trained_detector
    from core.inference.select import plan_inference
    from core.models.checkpoint import load_any_checkpoint
    from core.models.families import family_of, inputs_of
    from core.models.runtime import autocast, faces_to_input
    from core.recording.reader import open_session

    opts = options or AnalysisOptions()
    t_start = time.perf_counter()
    plan_inference(opts.device)  # a device this computer lacks: refused before any work
    model, cfg, meta = load_any_checkpoint(checkpoint, map_location="cpu")
    inputs = inputs_of(cfg)
    sequence = inputs.kind == "sequence"  # DeepVANet, Transformer, AViGaS: core.analysis.sequences
    plan = plan_inference(opts.device, frame_model=not sequence)
    device = plan.device
    runtime: dict[str, Any] = {"engine": "torch", "reason": plan.reason}
    trained = trained_detector(meta)  # the detector the model's training crops came from
    data = open_session(Path(folder))
    video = data.video(verify=False)
    try:
        rates = {c: s.info.rate_hz for s in data.streams.values() for c in s.info.channels}
        _check_inputs(cfg, rates, video is not None and len(video) > 0)
        use_face = cfg.modalities in ("both", "face")
        use_bio = cfg.modalities in ("both", "bio")
        factors: dict[str, float] = {}
        if use_bio:  # the session's units into the checkpoint's, or a refusal in words
            units = {
                c: u
                for s in data.streams.values()
                for c, u in zip(s.info.channels, s.info.units, strict=True)
            }
            try:
                factors = unit_factors(cfg.signals, meta, units)
            except UnitMismatchError as exc:
                raise AnalysisError(
                    f"This checkpoint cannot analyse this session: {exc}. Choose another "
                    "checkpoint (Settings → model)."
                ) from None
        on_cuda = device.type == "cuda"
        ck_sha = file_sha256(Path(checkpoint)) if plan.optimised else ""
        optimised = _optimised_model(plan, ck_sha, model, cfg, meta, opts, runtime, progress)
        every = on_cuda or opts.every_frame  # every frame, of the whole session by default
        if opts.every_frame:
            frames_per_s = None
        else:
            frames_per_s = opts.frames_per_s or (None if on_cuda else opts.cpu_frames_per_s)
        if sequence:  # their crops are held until the sequences are cut: a bounded anchor rate
            cap = anchor_rate_cap(inputs)
            frames_per_s = cap if frames_per_s is None else min(frames_per_s, cap)
        duration = data.duration_s
        whole: float | None = None
        cache_dir = Path(opts.cache_dir) if opts.cache_dir else None
        detector_spec = (opts.face_detector or trained) if use_face else None
        rates_key = None
        if optimised is not None:
            from core.inference.speed import end_to_end, face_stage, rate_key
            from core.inference.speed import whole_session_minutes as whole_rule

            rates_key = rate_key(ck_sha, optimised.precision, detector_spec)
            decision = whole_rule(
                optimised.frames_per_s,
                face_stage(detector_spec, cache_dir) if detector_spec else None,
                frames_per_s or opts.cpu_frames_per_s,
                opts.auto_session_minutes,
                end_to_end(rates_key, cache_dir),
            )
            whole = decision.minutes
            runtime["whole_session_minutes"] = whole
            runtime["whole_session_reason"] = decision.reason
        spans = _spans(opts, every, duration, markers or [], whole)
        if video is not None and len(video):
            all_t = (video.timestamps_ns - data.t0_ns) / 1e9
            frame_ids = video.frame_indices
        else:  # a bio-only model on a session without video: a time grid stands in for frames
            step = 1.0 / (frames_per_s or opts.cpu_frames_per_s)
            all_t = np.arange(0.0, duration, step)
            frame_ids = np.arange(len(all_t))
        pos = select_frames(all_t, frames_per_s, spans)
        times = all_t[pos]
        n = len(pos)

        if use_bio:
            if progress:
                progress(0.0, "Preparing the bio signals…")
            grid = session_bio_grid(data, cfg.signals, cfg.bio_rate_hz)
            scaled = scale_channels(grid, cfg.signals, meta["scaling"], factors)
            if family_of(cfg).name == "transformer":
                scaled = filtered(scaled, cfg.signals, cfg.bio_rate_hz)

        model = model.to(device).eval()
        if on_cuda:
            model = model.to(memory_format=torch.channels_last)
        outputs = np.full((n, len(meta.get("output_names", [])) or 10), np.nan, np.float32)
        has_face = np.zeros(n, bool)
        complete = np.zeros(n, bool)
        timings = {"decode": 0.0, "faces": 0.0, "bio": 0.0, "model": 0.0}
        unreadable = 0

        tracker: FaceTracker | None = None
        if use_face:
            assert video is not None
            detector = make_detector(opts.face_detector or trained)
            try:  # the tracker mode and settings of the model's training crops
                tracker = tracker_for(meta, detector)
            except ValueError as exc:
                raise AnalysisError(
                    f"This checkpoint cannot analyse this session: {exc}. Choose another "
                    "checkpoint (Settings → model)."
                ) from None
            policy = CropPolicy(size=cfg.face_size)
            workers = opts.workers or min(8, os.cpu_count() or 1)
            chunks: Any = iter_face_crops(
                video, pos, times, tracker, policy, opts.chunk, workers, cancel
            )
        else:
            size = cfg.face_size
            chunks = (
                CropChunk(
                    pos[a : a + opts.chunk],
                    times[a : a + opts.chunk],
                    np.zeros((0, size, size, 3), np.uint8),
                    np.zeros(len(pos[a : a + opts.chunk]), bool),
                )
                for a in range(0, n, opts.chunk)
            )
        kept: list[np.ndarray] = []
        q: queue.Queue[Any] = queue.Queue(maxsize=4)
        stop = threading.Event()
        worker = threading.Thread(target=_producer, args=(chunks, q, stop), daemon=True)
        worker.start()
        t_loop = time.perf_counter()
        done = 0
        try:
            while True:
                if cancel is not None and cancel():
                    raise AnalysisCancelled("analysis cancelled")
                item = q.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                c: CropChunk = item
                sl = slice(done, done + len(c.positions))
                timings["decode"] += c.decode_s
                timings["faces"] += c.faces_s
                unreadable += c.n_unreadable
                has_face[sl] = c.has_face
                if sequence:  # sequences are cut once every crop is in
                    kept.append(c.crops)
                    done += len(c.positions)
                    continue
                t0 = time.perf_counter()
                if use_bio:
                    win, ok = bio_windows(scaled, grid, c.times_s, inputs.bio_samples)
                else:
                    win = np.zeros(
                        (len(c.positions), len(cfg.signals), inputs.bio_samples), np.float32
                    )
                    ok = np.ones(len(c.positions), bool)
                complete[sl] = ok if use_bio else False
                t1 = time.perf_counter()
                usable = (c.has_face if use_face else np.ones(len(ok), bool)) & ok
                idx = np.flatnonzero(usable)
                if optimised is not None and len(idx):
                    try:  # the optimised runtime batches itself
                        outputs[done + idx] = optimised(
                            c.crops[idx] if use_face else None, win[idx] if use_bio else None
                        )
                        idx = idx[:0]
                    except Exception as exc:  # torch takes over, and the analysis says so
                        at = {
                            "analysed_frame": int(done),
                            "stored_frame": int(frame_ids[pos[done]]),
                            "t_s": round(float(times[done]), 3),
                        }
                        _fall_back(runtime, "running", exc, at if done > 0 else None)
                        optimised = None
                for b in range(0, len(idx), opts.batch_size):
                    j = idx[b : b + opts.batch_size]
                    face_t = (
                        faces_to_input(torch.from_numpy(c.crops[j]), device)
                        if use_face
                        else torch.zeros(len(j), 3, cfg.face_size, cfg.face_size, device=device)
                    )
                    bio_t = torch.from_numpy(win[j]).to(device)
                    with torch.inference_mode(), autocast(device, opts.amp):
                        out = model(face_t, bio_t)["out"]
                    outputs[done + j] = out.float().cpu().numpy()
                timings["bio"] += t1 - t0
                timings["model"] += time.perf_counter() - t1
                done += len(c.positions)
                if progress:
                    progress(done / max(n, 1), f"Analysed {done} of {n} frames")
        finally:
            stop.set()
            worker.join(timeout=5)
        loop_s = time.perf_counter() - t_loop
        if done < n:  # the producer stopped early: only through cancel
            raise AnalysisCancelled("analysis cancelled")
        if sequence:
            t1 = time.perf_counter()
            side = cfg.face_size
            crops = (
                np.concatenate(kept)
                if use_face and kept
                else np.zeros((1, side, side, 3), np.uint8)
            )
            index, near = sequence_crop_index(times, has_face, inputs)
            if not use_face:
                index, near = np.zeros_like(index), np.ones(n, bool)
            if use_bio:
                segs, complete = bio_windows(scaled, grid, times, inputs.bio_samples)
            else:
                segs = np.zeros((n, len(cfg.signals), inputs.bio_samples), np.float32)
            ok = near & (complete if use_bio else True)
            outputs[:] = estimate_sequences(
                model, inputs, crops, index, segs, ok, device, opts.amp, opts.batch_size
            )
            has_face = near if use_face else has_face
            timings["model"] += time.perf_counter() - t1
            if progress:
                progress(1.0, f"Analysed {n} sequences")
    finally:
        if video is not None:
            video.close()

    if plan.optimised:  # the next whole-session decision's measured rates
        from core.inference.speed import record_rates

        whole_run = runtime["engine"] != "torch"  # no fallback: the rate is the optimised one
        face_s = timings["decode"] + timings["faces"]
        record_rates(n, detector_spec, face_s, rates_key if whole_run else None, loop_s, cache_dir)

    from core.models.outputs import from_training_scale

    est_mask = np.all(np.isfinite(outputs), axis=1)
    outputs[est_mask] = from_training_scale(outputs[est_mask])
    prec = "bf16" if (opts.amp == "bf16" or (opts.amp == "auto" and on_cuda)) else "fp32"
    if runtime["engine"] != "torch":
        prec = str(runtime["precision"])
    engine_text = f" — {runtime['engine']}" if runtime["engine"] != "torch" else ""
    if "runtimes" in runtime:  # the optimised runtime failed mid-analysis: both are named
        first, k = runtime["runtimes"][0], runtime["switched_at"]["analysed_frame"]
        prec = f"{first['precision']} (analysed frames 0–{k - 1}), then fp32"
        engine_text = f" — {first['engine']} for analysed frames 0–{k - 1}, then torch"
    wall = time.perf_counter() - t_start
    counts: AnalysisCounts = {
        "frames_stored": int(len(all_t)),
        "frames_analysed": int(n),
        "estimated": int(est_mask.sum()),
        "without_face": int((~has_face).sum()) if use_face else 0,
        "bio_incomplete": int((~complete).sum()) if use_bio else 0,
        "unreadable": int(unreadable),
    }
    info: AnalysisInfo = {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "code_version": __version__,
        "checkpoint": checkpoint_identity(Path(checkpoint), meta, cfg),
        "inputs": modality_label(cfg.modalities, cfg.signals)
        + (f" — {describe_sampling(inputs, frames_per_s)}" if sequence else ""),
        "output_names": list(meta.get("output_names", [])),
        "device": describe_device(device) + engine_text,
        "precision": prec,
        "runtime": runtime,
        "options": asdict(opts),
        "frames_per_s": frames_per_s,
        "face_detector": tracker.describe() if tracker is not None else None,
        "face_detector_trained": trained if use_face else None,
        "spans": [list(s) for s in spans] if spans is not None else None,
        "duration_s": duration,
        "counts": counts,
        "timings_s": {
            "decode": round(timings["decode"], 3),
            "faces": round(timings["faces"], 3),
            "bio": round(timings["bio"], 3),
            "model": round(timings["model"], 3),
            "wall": round(wall, 3),
        },
    }
    est = SessionEstimates(
        t_s=np.asarray(times, np.float64),
        frame=np.asarray(frame_ids[pos], np.int64),
        outputs=outputs,
        has_face=has_face,
        bio_complete=complete,
        info=info,
    )
    if save:
        save_estimates(Path(folder), est)
    log.info(
        "session analysed: %d of %d frames estimated in %.1f s on %s",
        counts["estimated"],
        n,
        wall,
        info["device"],
    )
    return est
