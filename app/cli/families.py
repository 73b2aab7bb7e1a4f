"""``therascope train --model deepvanet|transformer|avigas`` and ``evaluate --models …``.

The BMMN family keeps its own path (:mod:`app.cli.ml`); this module trains and evaluates the other
families through :mod:`core.learning` on the same data, crop cache and person-independent folds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli.arguments import bounded

MODELS = ("bmmn", "deepvanet", "transformer", "avigas")
SEQUENCE_MODELS = MODELS[1:]


def models_spec(text: str) -> list[str]:
    """argparse ``type=`` of ``--models``: a comma list of model families, each once."""
    names = [n for n in "".join(text.split()).split(",") if n]
    bad = [n for n in names if n not in MODELS]
    if not names or bad or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected a comma list of {', '.join(MODELS)}, each at most once, got {text!r}"
        )
    return names


def family_epochs_spec(text: str) -> tuple[int, int]:
    """argparse ``type=`` of ``--family-epochs``: "EPOCHS[,PRETRAIN]" whole numbers 0–1000."""
    parts = "".join(text.split()).split(",")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() and int(p) <= 1000 for p in parts):
        raise argparse.ArgumentTypeError(
            f'expected "EPOCHS" or "EPOCHS,PRETRAIN" (whole numbers 0-1000), got {text!r}'
        )
    return int(parts[0]), int(parts[1]) if len(parts) == 2 else 5


def add_family_args(p: argparse.ArgumentParser) -> None:
    """Options of the sequence families (shared by ``train`` and ``evaluate``)."""
    p.add_argument(
        "--size",
        default="paper",
        choices=["paper", "small"],
        help="DeepVANet/Transformer/AViGaS sizes: the papers' or small ones for CPU runs",
    )
    p.add_argument(
        "--family-epochs",
        type=family_epochs_spec,
        default=(10, 5),
        help='DeepVANet/Transformer/AViGaS: "EPOCHS,PRETRAIN" (labels, then MVP pre-training '
        "epochs, Transformer only; default 10,5)",
    )
    p.add_argument(
        "--pretrain-sessions",
        nargs="+",
        default=[],
        metavar="FOLDER",
        help="train --model transformer: recorded session folders whose ECG and EDA join the "
        "MVP pre-training as unlabelled data (recorded in the checkpoint's provenance)",
    )
    p.add_argument(
        "--anchor-step",
        type=bounded(int, 1, 1000),
        default=1,
        help="DeepVANet/Transformer/AViGaS: one sequence sample per this many analysed frames",
    )


def family_train_config(args: argparse.Namespace, name: str) -> Any:
    """The :class:`FamilyTrainConfig` a command line asks for (each paper's learning rate)."""
    from core.learning.family_training import FamilyTrainConfig

    epochs, pretrain = args.family_epochs
    lr = 1e-3 if name == "deepvanet" or args.size == "small" else 1e-4
    return FamilyTrainConfig(
        epochs=epochs,
        epochs_pretrain=pretrain,
        batch_size=64 if args.batch == 115 else args.batch,  # 115 is BMMN's default
        lr=lr,
        weight_decay=1e-5 if name == "transformer" else 0.0,
        seed=args.seed,
        device=args.device,
        amp=args.amp,
    )


def describe_family(name: str) -> str:
    """The family's model card."""
    from core.models.families import family

    return family(name).card()


def unlock_session_folders(args: Any, folders: list[Path]) -> None:
    """Unlock each clinic data folder the given session folders belong to (their files are
    encrypted there): the account and password as every command takes them."""
    from app.cli.common import unlock_folder
    from core.security import vault
    from core.security.access import folder_has_accounts

    for root in {f.resolve().parent.parent for f in folders}:
        if folder_has_accounts(root) and vault.unlocked_for(root) is None:
            unlock_folder(args, root)


def train_family_command(args: argparse.Namespace, trials: list[Any], cache: Path) -> Path:
    """Train a sequence family on ``trials`` (all of them) and write its checkpoint."""
    from core import __version__
    from core.learning.comparison import family_config, sequence_samples_for
    from core.learning.datasets.amigos import SignalScaling
    from core.learning.datasets.frames import build_frame_samples
    from core.learning.experiment import data_fingerprint
    from core.learning.family_training import SequenceDataset, train_family
    from core.models.checkpoint import save_checkpoint
    from core.models.families import inputs_of
    from core.models.outputs import to_training_scale

    config = family_config(args.model, args.size)
    tc = family_train_config(args, args.model)
    inputs = inputs_of(config)
    scaling = SignalScaling.fit(trials)
    from core.faces.detect import make_detector
    from core.faces.track import FACE_STAGE_KEY, FaceTracker, face_stage

    def tracker() -> FaceTracker:  # the face detector recorded with the model
        return FaceTracker(make_detector(args.detector))

    frames = build_frame_samples(
        trials, scaling, cache, args.frame_step, inputs.face_size, tracker_factory=tracker
    )
    seqs = sequence_samples_for(config, frames, args.anchor_step)
    print(f"{len(seqs)} samples: {inputs.describe()}", file=sys.stderr)

    def progress(stage: str, done: float, info: dict[str, float]) -> None:
        print(f"\r{stage:>14} {100 * done:5.1f} %", end="", file=sys.stderr, flush=True)

    scaling_meta = {"signals": ["ECG", "EDA"], **scaling.to_dict(), "rate_hz": 128.0}
    unlabelled: Any = None
    sessions: list[dict[str, Any]] = []
    if args.model == "transformer" and args.pretrain_sessions:
        from core.learning.unlabelled import session_segments

        folders = [Path(f) for f in args.pretrain_sessions]
        unlock_session_folders(args, folders)
        unlabelled, sessions = session_segments(
            folders,
            scaling_meta,
            inputs.signals,
            inputs.bio_rate_hz,
            inputs.bio_samples,
        )
        print(f"{len(unlabelled)} unlabelled segments from recorded sessions", file=sys.stderr)
    dataset = SequenceDataset(seqs, to_training_scale(seqs.targets))
    model, hist = train_family(
        config,
        tc,
        dataset,
        unlabelled=unlabelled,
        progress=progress,
    )
    print(file=sys.stderr)
    data = f"AMIGOS at {args.amigos}, {len(trials)} trials, participants " + ",".join(
        str(p) for p in sorted({t.participant for t in trials})
    )
    provenance: dict[str, Any] = {
        "fine_tuning": {"data": data, "fingerprint": data_fingerprint(trials), "samples": len(seqs)}
    }
    if args.model == "transformer":
        provenance["pretraining"] = {
            "data": "the fine-tuning data's signal, unlabelled (MVP)"
            + (f", and {len(sessions)} recorded sessions" if sessions else ""),
            "segments": len(seqs) + (len(unlabelled) if unlabelled is not None else 0),
            "sessions": sessions,
            "epochs": tc.epochs_pretrain,
        }
    meta = {
        "scaling": scaling_meta,
        "units": dict(scaling.units),
        "data_fingerprint": data_fingerprint(trials),
        "training_data": data,
        "outputs_trained": dataset.outputs_trained,
        "provenance": provenance,
        "training": {"epochs": tc.epochs, "lr": tc.lr, "batch_size": tc.batch_size},
        "history": hist,
        "code_version": __version__,
        FACE_STAGE_KEY: face_stage(args.detector, inputs.face_size),
    }
    return save_checkpoint(Path(args.out), model, config, meta)


def evaluate_models_command(
    args: argparse.Namespace, trials: list[Any], cache: Path, bmmn_configs: Any
) -> int:
    """All asked families on the same folds; one table beside the papers' figures."""
    from core.learning.comparison import (
        comparison_table,
        cross_validate_family,
        family_config,
        markdown,
        per_subject_protocol,
    )

    results = []
    for name in args.models:
        print(f"== {name}", file=sys.stderr)
        if name == "bmmn":
            config, tc = bmmn_configs(args, args.variants.split(",")[0], "both")
            anchor = 1
        else:
            config, tc = family_config(name, args.size), family_train_config(args, name)
            anchor = args.anchor_step
        results.append(
            cross_validate_family(
                trials,
                config,
                tc,
                cache,
                args.folds,
                args.frame_step,
                args.seed,
                anchor_step=anchor,
                progress=lambda m: print(m, file=sys.stderr),
            )
        )
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(comparison_table(results))
    if args.per_subject:
        print("== DeepVANet per-subject protocol", file=sys.stderr)
        ps = per_subject_protocol(
            trials,
            family_config("deepvanet", args.size),
            family_train_config(args, "deepvanet"),
            cache,
            folds=args.per_subject_folds,
            frame_step=args.frame_step,
            progress=lambda m: print(m, file=sys.stderr),
        )
        text += "\n" + per_subject_markdown(ps)
        results.append({"per_subject": ps})
    (out_dir / "comparison.md").write_text(text, encoding="utf-8")
    (out_dir / "comparison.json").write_text(json.dumps(results, indent=2, default=str))
    print(text)
    print(f"saved {out_dir / 'comparison.md'}", file=sys.stderr)
    return 0


def per_subject_markdown(ps: dict[str, Any]) -> str:
    """DeepVANet's per-subject protocol, both splits, as a Markdown table."""
    lines = [
        "DeepVANet per-subject protocol (a model per participant, k-fold over its 1-s segments):",
        "",
        "| split | valence % | arousal % | majority valence % | majority arousal % |",
        "| --- | --- | --- | --- | --- |",
    ]
    for split, label in (("random", "random 1-s segments (paper)"), ("time", "time blocks")):
        if split in ps:
            r = ps[split]
            lines.append(
                f"| {label} | {r['valence']:.2f} | {r['arousal']:.2f} | "
                f"{r['baseline_valence']:.2f} | {r['baseline_arousal']:.2f} |"
            )
    if "inflation" in ps:
        inf = ps["inflation"]
        lines += [
            "",
            f"Random segments minus time blocks: valence {inf['valence']:+.2f}, arousal "
            f"{inf['arousal']:+.2f} points (adjacent segments of one trial in train and test). "
            "Paper 001, per-subject: DEAP 98.56 / 98.18, MAHNOB-HCI 99.19 / 99.22 "
            "(valence / arousal, other datasets).",
        ]
    return "\n".join(lines) + "\n"
