"""How well the demo model recovers the known course of simulated sessions it never saw.

    .venv/bin/python benchmarks/demo_model_eval.py                       # the demo model
    .venv/bin/python benchmarks/demo_model_eval.py --checkpoint face.pt --checkpoint bio.pt

Records held-out simulated sessions (seeds the demo model's training never used; scenarios
anxious → calm, the reversed calm → anxious, and neutral), analyses each with every checkpoint
given, and prints per session and checkpoint:

* the pre and post means (circumplex scale) and their quadrants next to the scenario's own;
* Pearson r between the per-frame estimates and the scenario's valence and arousal;
* sign accuracy: share of frames whose estimate is on the same side of neutral as the truth
  (frames whose truth lies within 0.1 of neutral left out), against the 50 % of chance.

Train face-only and bio-only checkpoints for the ablation with
``app.demo.training.train_demo_model(out, DemoPlan(modalities="face"))`` (or ``"bio"``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HELD_OUT = (
    ("anxious_to_calm", 6.0, 901),
    ("calm_to_anxious", 6.0, 902),
    ("anxious_to_calm", 6.0, 903),
    ("neutral", 4.0, 904),
)


def record(root: Path, sessions: tuple[tuple[str, float, int], ...]) -> list[tuple[str, Path]]:
    from app.demo.simulation import record_simulated
    from core.catalog import Catalog
    from core.config import Settings

    index = root / "sessions.json"
    if index.exists():
        return [(s, root / f) for s, f in json.loads(index.read_text())]
    out = []
    with Catalog.open(root / "catalog.sqlite") as cat:
        p = cat.add_patient("HELD-OUT")
        settings = Settings(camera_width=320, camera_height=240, camera_fps=20)
        for scenario, minutes, seed in sessions:
            rec = record_simulated(
                cat, root, p.id, minutes * 60, scenario=scenario, seed=seed, settings=settings
            )
            out.append((scenario, rec.folder))
    index.write_text(json.dumps(out))
    return [(s, root / f) for s, f in out]


def score(est, truth_v: np.ndarray, truth_a: np.ndarray) -> dict[str, float]:  # type: ignore[no-untyped-def]
    m = est.estimated
    out: dict[str, float] = {"estimated": float(m.mean())}
    for name, e, t in (("valence", est.valence, truth_v), ("arousal", est.arousal, truth_a)):
        e, t = e[m], t[m]
        out[f"r_{name}"] = float(np.corrcoef(e, t)[0, 1]) if np.std(t) > 1e-6 else float("nan")
        clear = np.abs(t) >= 0.1
        out[f"sign_{name}"] = (
            float(np.mean(np.sign(e[clear]) == np.sign(t[clear]))) if clear.any() else float("nan")
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", action="append", help="checkpoint(s); default the demo model")
    ap.add_argument("--keep", help="folder for the held-out sessions (reused when present)")
    ap.add_argument("--frames-per-s", type=float, default=4.0)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)

    from core.analysis.circumplex import quadrant_label, quadrant_of, session_circumplex
    from core.analysis.engine import AnalysisOptions, analyse_session
    from core.physiology.summary import phase_windows
    from core.recording.reader import open_session
    from core.simulation.scenario import Scenario

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="therascope-eval-"))
    root.mkdir(parents=True, exist_ok=True)
    if args.checkpoint:
        ckpts = [Path(c) for c in args.checkpoint]
    else:
        from app.demo.training import ensure_demo_checkpoint

        ckpts = [ensure_demo_checkpoint()]
    sessions = record(root, HELD_OUT)
    rows = []
    for ck in ckpts:
        for scenario, folder in sessions:
            data = open_session(folder)
            sc = Scenario.from_dict(data.simulation()["scenario"])  # type: ignore[index]
            est = analyse_session(
                folder,
                ck,
                AnalysisOptions(device="cpu", frames_per_s=args.frames_per_s),
                save=False,
            )
            tv, ta = sc.at(est.t_s)
            wins = phase_windows(data.duration_s)
            c = session_circumplex(est.t_s, est.valence, est.arousal, wins)
            truth = [
                quadrant_of(float(np.mean(tv[(est.t_s >= w.start_s) & (est.t_s < w.end_s)])),
                            float(np.mean(ta[(est.t_s >= w.start_s) & (est.t_s < w.end_s)])))
                for w in wins
            ]  # fmt: skip
            row = {
                "checkpoint": ck.name,
                "inputs": est.info["inputs"],
                "scenario": scenario,
                "seed": int(data.simulation()["seed"]),  # type: ignore[index]
                "pre": [c.pre.mean_valence, c.pre.mean_arousal],
                "post": [c.post.mean_valence, c.post.mean_arousal],
                "pre_quadrant": quadrant_label(c.pre.quadrant, short=True),
                "post_quadrant": quadrant_label(c.post.quadrant, short=True),
                "truth_quadrants": [quadrant_label(q, short=True) for q in truth],
                "quadrants_right": [c.pre.quadrant == truth[0], c.post.quadrant == truth[1]],
                **score(est, tv, ta),
            }
            rows.append(row)
            print(
                f"{ck.name:<24} {est.info['inputs']:<18} {scenario:<16} "
                f"pre {row['pre_quadrant']:<8} post {row['post_quadrant']:<8} "
                f"(truth {' → '.join(row['truth_quadrants'])})  "
                f"r_v {row['r_valence']:+.2f} r_a {row['r_arousal']:+.2f}  "
                f"sign_v {100 * row['sign_valence']:.0f} % sign_a {100 * row['sign_arousal']:.0f} %",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
