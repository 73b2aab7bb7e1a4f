"""``therascope train`` / ``evaluate`` / ``synthetic-amigos``: the model family from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from app.cli.arguments import SEED, bounded
from app.cli.common import open_catalog
from app.cli.families import (
    MODELS,
    add_family_args,
    describe_family,
    evaluate_models_command,
    models_spec,
    train_family_command,
)

#: the highest participant number ``--participants`` may name (AMIGOS has 40)
MAX_PARTICIPANT = 1000
#: the most epochs one training stage may run
MAX_EPOCHS = 1000


def _participants(spec: str | None) -> list[int] | None:
    """``"1-40"`` or ``"1,2,5-8"`` → participant numbers (``spec`` checked by
    :func:`participant_spec`)."""
    if not spec:
        return None
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def participant_spec(text: str) -> str:
    """argparse ``type=`` of ``--participants``: ``"1-40"`` or ``"1,2,5-8"``, numbers from 1 to
    :data:`MAX_PARTICIPANT`, each range low to high.

    Returns
    -------
    str — ``text`` without spaces

    Raises
    ------
    argparse.ArgumentTypeError — one line with the expected form
    """
    spec = "".join(text.split())
    for part in spec.split(","):
        a, dash, b = part.partition("-")
        ok = a.isdigit() and (not dash or b.isdigit())
        if ok:
            lo, hi = int(a), int(b) if dash else int(a)
            ok = 1 <= lo <= hi <= MAX_PARTICIPANT
        if not ok:
            raise argparse.ArgumentTypeError(
                f'expected participant numbers from 1 to {MAX_PARTICIPANT} such as "1-40" or '
                f'"1,2,5-8", got {text!r}'
            )
    return spec


def epochs_spec(text: str) -> str:
    """argparse ``type=`` of ``--epochs``: three whole numbers "BMMN,BAE,joint", each from 0 to
    :data:`MAX_EPOCHS`.

    Returns
    -------
    str — ``text`` without spaces

    Raises
    ------
    argparse.ArgumentTypeError — one line with the expected form
    """
    parts = "".join(text.split()).split(",")
    if len(parts) != 3 or not all(p.isdigit() and int(p) <= MAX_EPOCHS for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected three whole numbers from 0 to {MAX_EPOCHS} for the BMMN, BAE and joint "
            f'stages, such as "10,5,10", got {text!r}'
        )
    return ",".join(parts)


def device_spec(text: str) -> str:
    """argparse ``type=`` of ``--device``: a device this computer has
    (:func:`core.models.runtime.pick_device`, the GUI's and training's check too; imports torch).

    Returns
    -------
    str — the setting, lower case (``"auto"``, ``"cpu"``, ``"cuda:0"`` …)

    Raises
    ------
    argparse.ArgumentTypeError — one line naming the valid devices on this computer, and saying
        "no CUDA GPU on this computer" when there is none
    """
    from core.models.runtime import DeviceError, pick_device

    try:
        pick_device(text)
    except DeviceError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text.strip().lower()


def _layout(args: argparse.Namespace) -> Any:
    from core.learning.datasets.amigos import AmigosLayout

    kw: dict[str, Any] = {
        "root": Path(args.amigos),
        "ecg_column": args.ecg_column,
        "ecg_unit": args.ecg_unit,
    }
    if args.mat_pattern:
        kw["mat_pattern"] = args.mat_pattern
    if args.video_pattern:
        kw["video_pattern"] = args.video_pattern
    return AmigosLayout(**kw)


def training_configs(args: argparse.Namespace, variant: str, modalities: str) -> tuple[Any, Any]:
    """The model and training configs a ``train`` / ``evaluate`` command line asks for."""
    from core.learning.training import TrainConfig
    from core.models import BMMNConfig

    weights = str(args.weights)  # "imagenet", "none" or a file's path (core.models.spatial)
    mc = BMMNConfig(
        variant=variant,
        modalities=modalities,
        backbone=args.backbone,
        backbone_weights=weights,
        face_size=args.face_size,
    )
    e1, e2, e3 = (int(x) for x in args.epochs.split(","))
    tc = TrainConfig(
        epochs_bmmn=e1,
        epochs_bae=e2,
        epochs_joint=e3,
        batch_size=args.batch,
        lr=args.lr,
        lambda_bmmn=args.lambda_bmmn,
        lambda_bae=args.lambda_bae,
        seed=args.seed,
        device=args.device,
        amp=args.amp,
    )
    return mc, tc


def _progress(stage: str, done: float, info: dict[str, float]) -> None:
    print(
        f"\r{stage:>5} {100 * done:5.1f} %  loss {info.get('loss', 0):.4f}",
        end="",
        file=sys.stderr,
        flush=True,
    )


def cmd_train_demo(args: argparse.Namespace) -> int:
    from app.demo.training import train_demo_model
    from core.learning.demo_model import SHIPPED

    last = [""]

    def progress(stage: str, done: float) -> None:
        if stage != last[0]:
            print(file=sys.stderr)
            last[0] = stage
        print(f"\r{stage}: {100 * done:5.1f} %", end="", file=sys.stderr, flush=True)

    from app.demo.training import DemoPlan

    plan = DemoPlan(face_detector=args.detector)
    out = train_demo_model(Path(args.out) if args.out else SHIPPED, plan, progress=progress)
    print(file=sys.stderr)
    print(out)
    return 0


def describe_training(args: argparse.Namespace) -> str:
    """The model card followed by the settings this ``train`` command would use."""
    from core.models.card import model_card

    e1, e2, e3 = (int(x) for x in args.epochs.split(","))
    videos = "16 short + 4 long videos" if args.include_long_videos else "the 16 short videos"
    frames = "every frame" if args.frame_step == 1 else f"every {args.frame_step}th frame"
    return (
        model_card().rstrip()
        + "\n\n## This command's settings\n\n"
        + f"- variant {args.variant}, modalities {args.modalities}, backbone {args.backbone} "
        f"({args.weights} weights), face crops {args.face_size} px by {args.detector}\n"
        + f"- epochs: BMMN {e1}, BAE {e2}, joint {e3}; λ_BMMN {args.lambda_bmmn:g}, "
        f"λ_BAE {args.lambda_bae:g}\n"
        + f"- Adam, learning rate {args.lr:g}, batch {args.batch}, seed {args.seed}\n"
        + f"- AMIGOS: {videos} per participant, {frames}, ECG column "
        f"{args.ecg_column} read as {args.ecg_unit} → mV, GSR kΩ → µS\n"
    )


def trial_weighting(frames_per_trial: list[int]) -> str:
    """One line stating how much each trial weighs in training (by its number of frames)."""
    import numpy as np

    if not frames_per_trial:
        return "no frames"
    n = np.asarray(frames_per_trial)
    return (
        f"each frame weighs the same, so a trial weighs by its frames: {len(n)} trials, "
        f"{int(n.min())}–{int(n.max())} frames each (median {int(np.median(n))})"
    )


def cmd_train(args: argparse.Namespace) -> int:
    if args.model != "bmmn":
        if args.describe:
            print(describe_family(args.model))
            return 0
        if not args.amigos or not args.out:
            raise SystemExit(f"therascope train --model {args.model} needs --amigos and --out")
        from core.learning.datasets.amigos import load_dataset

        trials = load_dataset(
            _layout(args), _participants(args.participants), args.include_long_videos
        )
        if not trials:
            raise SystemExit(f"No usable AMIGOS trials under {args.amigos}")
        cache = Path(args.cache or Path(args.amigos) / "therascope-crop-cache")
        print(train_family_command(args, trials, cache))
        return 0
    if args.describe:
        print(describe_training(args))
        return 0
    if args.demo:
        return cmd_train_demo(args)
    if not args.amigos or not args.out:
        raise SystemExit("therascope train needs --amigos and --out (or --demo)")
    from core import __version__
    from core.learning.datasets.amigos import SignalScaling, load_dataset
    from core.learning.datasets.frames import build_frame_samples
    from core.learning.experiment import data_fingerprint, dataset_of
    from core.learning.training import train
    from core.models.checkpoint import save_checkpoint

    trials = load_dataset(_layout(args), _participants(args.participants), args.include_long_videos)
    if not trials:
        raise SystemExit(f"No usable AMIGOS trials under {args.amigos}")
    mc, tc = training_configs(args, args.variant, args.modalities)
    scaling = SignalScaling.fit(trials)
    cache = Path(args.cache or Path(args.amigos) / "therascope-crop-cache")
    from core.faces.detect import make_detector
    from core.faces.track import FACE_STAGE_KEY, FaceTracker, face_stage

    def tracker() -> FaceTracker:  # the analysis will find faces the same way
        return FaceTracker(make_detector(args.detector))

    samples = build_frame_samples(
        trials, scaling, cache, args.frame_step, mc.face_size, tracker_factory=tracker
    )
    print(
        f"{len(samples)} frames from {len(trials)} trials "
        f"({samples.n_without_face} frames without a face left out)",
        file=sys.stderr,
    )
    per_trial = [int(n) for n in samples.frames_per_trial()]
    print(trial_weighting(per_trial), file=sys.stderr)
    dataset = dataset_of(samples)
    model, hist = train(mc, tc, dataset, _progress, work_dir=Path(args.out).with_suffix(".work"))
    print(file=sys.stderr)
    meta = {
        "scaling": {"signals": ["ECG", "EDA"], **scaling.to_dict(), "rate_hz": 128.0},
        "units": dict(scaling.units),  # ECG mV, EDA µS: what the loader converted to
        "data_fingerprint": data_fingerprint(trials),
        "outputs_trained": dataset.outputs_trained,
        "training_data": (
            f"AMIGOS at {args.amigos}, {len(trials)} trials ("
            + ("short and long videos" if args.include_long_videos else "the 16 short videos")
            + ")"
        ),
        "amigos": {
            "long_videos": bool(args.include_long_videos),
            "ecg_file_units": sorted({t.ecg_file_unit for t in trials}),
            "conversion": {"ECG": "file unit → mV", "EDA": "kΩ resistance → µS (1000 / kΩ)"},
            "frames_per_trial": per_trial,
        },
        "training": {
            "epochs": {"bmmn": tc.epochs_bmmn, "bae": tc.epochs_bae, "joint": tc.epochs_joint},
            "lambda_bmmn": tc.lambda_bmmn,
            "lambda_bae": tc.lambda_bae,
            "lr": tc.lr,
            "batch_size": tc.batch_size,
        },
        "history": hist,
        "code_version": __version__,
        FACE_STAGE_KEY: face_stage(args.detector, mc.face_size),
    }
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only the first process saves
        print(save_checkpoint(Path(args.out), model, mc, meta))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.learning.datasets.amigos import load_dataset
    from core.learning.experiment import cross_validate, results_table, write_tables

    trials = load_dataset(_layout(args), _participants(args.participants), args.include_long_videos)
    if not trials:
        raise SystemExit(f"No usable AMIGOS trials under {args.amigos}")
    cache = Path(args.cache or Path(args.amigos) / "therascope-crop-cache")
    if args.models:
        return evaluate_models_command(args, trials, cache, training_configs)
    results = []
    for variant in args.variants.split(","):
        for modalities in args.modalities.split(","):
            mc, tc = training_configs(args, variant, modalities)
            print(f"== {variant} / {modalities}", file=sys.stderr)
            results.append(
                cross_validate(
                    trials,
                    mc,
                    tc,
                    cache,
                    args.folds,
                    args.frame_step,
                    args.seed,
                    progress=lambda m: print(m, file=sys.stderr),
                )
            )
    rows = results_table(results)
    csv_path, md_path = write_tables(rows, Path(args.out_dir))
    print(md_path.read_text())
    (Path(args.out_dir) / "evaluation.json").write_text(json.dumps(results, indent=2))
    print(f"saved {csv_path} and {md_path}", file=sys.stderr)
    return 0


def cmd_synthetic(args: argparse.Namespace) -> int:
    from core.learning.datasets.synthetic_amigos import write_synthetic_amigos

    layout = write_synthetic_amigos(
        Path(args.out),
        participants=args.participants,
        trials=args.trials,
        seconds=args.seconds,
        seed=args.seed,
    )
    print(layout.root)
    return 0


def cmd_analyse(args: argparse.Namespace) -> int:
    from app.demo.training import ensure_demo_checkpoint
    from core.analysis.circumplex import describe_shift, quadrant_label
    from core.analysis.review import analyse_and_review
    from core.config import Settings
    from core.learning.demo_model import active_checkpoint

    cat, root = open_catalog(args)
    settings = Settings.load()
    if args.detector:
        settings.face_detector = args.detector
    if args.device:
        settings.analysis_device = args.device
    else:  # the settings file's: checked before anything is loaded
        from core.models.runtime import DeviceError, pick_device

        try:
            pick_device(settings.analysis_device)
        except DeviceError as e:
            raise DeviceError(f"The settings' analysis device: {e}") from None
    if args.fps:
        settings.analysis_frames_per_s = args.fps
    ckpt = Path(args.checkpoint) if args.checkpoint else active_checkpoint(settings, root)
    if ckpt is None:
        ckpt = ensure_demo_checkpoint(lambda s, f: None, root)
    for uid in args.sessions:
        rec = cat.session_by_uid(uid)
        if rec is None:
            raise SystemExit(f"No session {uid!r} (list them: therascope sessions)")

        def progress(f: float, text: str, uid: str = uid) -> None:
            print(f"\r{uid}: {100 * f:5.1f} %", end="", file=sys.stderr, flush=True)

        r = analyse_and_review(
            cat, root, rec.id, ckpt, settings, progress, every_frame=args.every_frame
        )
        print(file=sys.stderr)
        info = r.estimates.info
        c = r.circumplex
        print(
            f"{uid}: {info['counts']['estimated']} of {info['counts']['frames_analysed']} "
            f"frames estimated on {info['device']} in {info['timings_s']['wall']:.1f} s"
        )
        print(f"  model: {r.checkpoint.get('label')} ({info['inputs']})")
        for ph in (c.pre, c.post):
            print(
                f"  {ph.label:<18} valence {ph.mean_valence:+.2f} ± {ph.sd_valence:.2f}  "
                f"arousal {ph.mean_arousal:+.2f} ± {ph.sd_arousal:.2f}  "
                f"{quadrant_label(ph.quadrant)}"
            )
        print("  " + describe_shift(c))
    return 0


def _fmt_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def cmd_cohort(args: argparse.Namespace) -> int:
    """Each counted patient's pre→post shift and the group's statistics (tests from 6 patients)."""
    from core.analysis.circumplex import BOOTSTRAP_RESAMPLES
    from core.analysis.review import cohort
    from core.config import Settings

    cat, root = open_catalog(args)
    with_sim = bool(args.include_simulated)
    entries, stats = cohort(cat, root, Settings.load(), include_simulated=with_sim)
    if args.json:
        group = stats.to_dict()
        print(
            json.dumps(
                {
                    "include_simulated": with_sim,
                    "patients": [vars(e) for e in entries],
                    "group": group,
                },
                indent=2,
                default=str,
            )
        )
        return 0
    counted = "real or SIMULATED" if with_sim else "real (not simulated)"
    print(
        f"Cohort: each patient's latest {counted}, consented, analysed session "
        "(demo patients never count)"
    )
    if with_sim and any(e.simulated for e in entries):
        print("INCLUDES SIMULATED SESSIONS — not real recordings (marked [simulated])")
    for e in entries:
        print(
            f"{e.code:<16} pre ({e.pre[0]:+.2f}, {e.pre[1]:+.2f}) → post "
            f"({e.post[0]:+.2f}, {e.post[1]:+.2f})"
            + ("  [simulated]" if e.simulated else "")
            + ("  [demo model]" if e.demo_model else "")
        )
    for name, d in (("valence", stats.valence), ("arousal", stats.arousal)):
        line = f"{name}: n={d.n} shift {d.mean_shift:+.2f} ± {d.sd_shift:.2f}"
        if stats.tested:
            line += (
                f", paired t={d.t:.2f} p={_fmt_p(d.p)}, Wilcoxon p={_fmt_p(d.wilcoxon_p)}, "
                f"d_z={d.dz:.2f} [95 % CI {d.dz_ci_low:.2f}, {d.dz_ci_high:.2f}]"
            )
        print(line)
    if stats.tested:
        print(
            "Paired t-test and Wilcoxon signed-rank test, two-sided; d_z = mean shift / SD with "
            f"a percentile-bootstrap interval ({BOOTSTRAP_RESAMPLES} resamples of the patients, "
            "fixed seed)."
        )
    else:
        print(f"No p-values and no d_z: {stats.test_note}; the shifts only.")
    return 0


def add_commands(sub: Any) -> None:
    def data_args(p: argparse.ArgumentParser, need_amigos: bool = True) -> None:
        p.add_argument("--amigos", required=need_amigos, help="folder of the AMIGOS copy")
        p.add_argument(
            "--participants", type=participant_spec, help='e.g. "1-40" (default: all found)'
        )
        p.add_argument("--mat-pattern", help="default Data_Preprocessed_P{p:02d}.mat")
        p.add_argument("--video-pattern", help="default P{p}_{video_id}_face.mov")
        p.add_argument(
            "--ecg-column", type=bounded(int, 0, 16), default=14, help="14 ECG right, 15 ECG left"
        )
        p.add_argument(
            "--ecg-unit",
            default="auto",
            choices=["auto", "uV", "mV", "V"],
            help="the unit of the copy's ECG, converted to mV on load (auto: found from the "
            "amplitude, participant by participant)",
        )
        p.add_argument(
            "--include-long-videos",
            action="store_true",
            help="also the 4 long-video trials (default: the 16 short videos, as the paper)",
        )
        p.add_argument("--cache", help="face-crop cache folder (default: inside the copy)")
        p.add_argument(
            "--frame-step", type=bounded(int, 1, 1000), default=1, help="use every k-th video frame"
        )
        p.add_argument("--backbone", default="resnet50", choices=["resnet50", "resnet18", "small"])
        p.add_argument("--weights", default="imagenet", help="imagenet, none or a weights file")
        p.add_argument("--face-size", type=bounded(int, 32, 1024, unit="pixels"), default=224)
        p.add_argument(
            "--epochs", type=epochs_spec, default="10,5,10", help="BMMN,BAE,joint stage epochs"
        )
        p.add_argument("--batch", type=bounded(int, 1, 65536), default=115)
        p.add_argument("--lr", type=bounded(float, 0.0, 1.0, lo_open=True), default=1e-4)
        p.add_argument(
            "--lambda-bmmn",
            type=bounded(float, 0.0, 1000.0),
            default=1.0,
            help="λ_BMMN, weight of the label loss in the joint stage (paper Eq. 1)",
        )
        p.add_argument(
            "--lambda-bae",
            type=bounded(float, 0.0, 1000.0),
            default=1.0,
            help="λ_BAE, weight of the reconstruction loss in the joint stage (paper Eq. 1)",
        )
        p.add_argument("--device", type=device_spec, default="auto", help="auto, cpu, cuda, cuda:N")
        p.add_argument("--amp", default="auto", choices=["auto", "bf16", "off"])
        p.add_argument("--seed", type=SEED, default=0)

    p = sub.add_parser("train", help="train a model on AMIGOS (torchrun for several GPUs)")
    data_args(p, need_amigos=False)
    p.add_argument(
        "--model",
        default="bmmn",
        choices=list(MODELS),
        help="model family: bmmn (paper 000; --variant picks BMMN, BAE-1 or BAE-2), deepvanet "
        "(001), transformer (003, MVP pre-training), avigas (004, gated fusion)",
    )
    add_family_args(p)
    p.add_argument("--variant", default="bae2", choices=["bmmn", "bae1", "bae2"])
    p.add_argument("--modalities", default="both", choices=["both", "face", "bio"])
    p.add_argument(
        "--detector",
        default="mtcnn",
        choices=["haar", "mtcnn"],
        help="the face detector the training crops are made with (recorded in the checkpoint; "
        "the analysis then uses the same)",
    )
    p.add_argument("--out", help="checkpoint file to write (--demo: default the shipped file)")
    p.add_argument(
        "--demo",
        action="store_true",
        help="train the demo model (small backbone) on simulated sessions instead of AMIGOS",
    )
    p.add_argument(
        "--describe",
        action="store_true",
        help="print the model card (what the paper did, what we do, every deviation) and the "
        "settings this command would train with, and stop",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="person-independent evaluation beside the paper")
    data_args(p)
    p.add_argument("--folds", type=bounded(int, 2, 100), default=5)
    p.add_argument("--variants", default="bae2", help="comma list of bmmn,bae1,bae2")
    p.add_argument("--modalities", default="both", help="comma list of both,face,bio")
    p.add_argument(
        "--models",
        type=models_spec,
        help="comma list of bmmn,deepvanet,transformer,avigas: all on the same folds, one table "
        "beside each paper's figures (bmmn: the first of --variants)",
    )
    add_family_args(p)
    p.add_argument(
        "--per-subject",
        action="store_true",
        help="with --models: also DeepVANet's per-subject protocol, random 1-s segments vs "
        "time blocks",
    )
    p.add_argument("--per-subject-folds", type=bounded(int, 2, 100), default=10)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("analyse", help="analyse recorded sessions with the model")
    p.add_argument("sessions", nargs="+", help="session uids")
    p.add_argument("--checkpoint", help="model checkpoint (default: the settings' or the demo)")
    p.add_argument(
        "--device",
        type=device_spec,
        help="auto (a CUDA GPU, else an Apple GPU, else the optimised CPU runtime, OpenVINO), "
        "cpu (torch, the reference), cuda, cuda:N, mps (default: the settings')",
    )
    p.add_argument(
        "--fps",
        type=bounded(float, 0.25, 60.0, unit="frames per second"),
        help="analysed frames per second on the CPU (0.25–60, as in the settings)",
    )
    p.add_argument(
        "--every-frame",
        action="store_true",
        help="analyse every stored frame of the whole session, on the CPU too (the CUDA "
        "default; overrides --fps)",
    )
    p.add_argument(
        "--detector",
        choices=["haar", "mtcnn"],
        help="the face detector (default: the settings'): haar, light, for frontal faces; mtcnn, "
        "a CNN for tilted and turned heads, low light and small faces (slower on the CPU)",
    )
    p.set_defaults(func=cmd_analyse)

    p = sub.add_parser(
        "cohort",
        help="each patient's pre→post shift (real, consented, analysed sessions; no demo patient) "
        "and the group statistics (tests from 6 patients)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--include-simulated",
        action="store_true",
        help="let sessions from simulated devices count too (each marked [simulated])",
    )
    p.set_defaults(func=cmd_cohort)

    p = sub.add_parser("synthetic-amigos", help="write a small synthetic AMIGOS-format dataset")
    p.add_argument("out")
    p.add_argument("--participants", type=bounded(int, 1, 100), default=6)
    p.add_argument(
        "--trials",
        type=bounded(int, 1, 20),
        default=4,
        help="per participant: the short videos first, 17–20 add the long ones",
    )
    p.add_argument(
        "--seconds",
        type=bounded(float, 0.0, 3600.0, unit="seconds", lo_open=True),
        default=10.0,
        help="every trial's length",
    )
    p.add_argument("--seed", type=SEED, default=0)
    p.set_defaults(func=cmd_synthetic)
