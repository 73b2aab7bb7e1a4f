"""``therascope import`` and ``therascope export``: recordings in from other tools, data out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.arguments import bounded
from app.cli.common import open_catalog, patient_or_exit

#: the video's start relative to the signals' (s): within a day either way
OFFSET_SECONDS = bounded(float, -86400.0, 86400.0, unit="seconds")


def cmd_import(args: argparse.Namespace) -> int:
    """Plan the import, print the preview, then (unless --dry-run) import; prints the UID."""
    from core.transfer.importer import ImportRefused, import_session, plan_import

    def progress(done: int, listed: int | None) -> None:
        if not args.quiet:
            total = f" of {listed:,}" if listed else ""
            print(f"\rindexing the video: {done:,}{total} frames", end="", file=sys.stderr)

    cat, root = open_catalog(args)
    patient = patient_or_exit(cat, args.patient)
    if not args.consent and not args.dry_run:
        print(
            "therascope: importing needs the patient's consent to the use of this recording: "
            "add --consent once it is given (or --dry-run to preview). Nothing was imported.",
            file=sys.stderr,
        )
        return 2
    try:
        plan = plan_import(
            Path(args.signals),
            Path(args.video) if args.video else None,
            offset_s=args.offset,
            ecg=args.ecg,
            eda=args.eda,
            progress=progress,
        )
    except ImportRefused as exc:
        print(f"therascope: {exc}. Nothing was imported.", file=sys.stderr)
        return 2
    if args.video and not args.quiet:
        print(file=sys.stderr)
    if not args.quiet or args.dry_run:
        print("\n".join(plan.summary_lines()), file=sys.stderr)
    if args.dry_run:
        print("Dry run: nothing was imported.", file=sys.stderr)
        return 0
    try:
        rec = import_session(
            cat, root, patient.id, plan, consent=True, consent_note=args.consent_note or ""
        )
    except (ValueError, RuntimeError) as exc:  # ImportRefused, StorageError: in words
        print(f"therascope: {exc} Nothing was imported.", file=sys.stderr)
        return 2
    print(rec.uid)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export one session as a CSV folder or an EDF+ (BDF+) file; prints what was written."""
    from core.transfer.export import export_session

    cat, root = open_catalog(args)
    if cat.session_by_uid(args.uid) is None:
        print(
            f"therascope: No session {args.uid!r} (list them: therascope sessions)", file=sys.stderr
        )
        return 2
    try:
        res = export_session(
            cat, root, args.uid, args.format, Path(args.out), include_name=args.include_name
        )
    except FileExistsError as exc:
        print(f"therascope: {exc}", file=sys.stderr)
        return 2
    print(res.path)
    print(
        f"{res.format}: {len(res.files)} file(s), {res.samples:,} samples, {res.markers} markers"
        + (f", {res.estimates:,} estimated frames" if res.estimates else ""),
        file=sys.stderr,
    )
    for c in res.channels:
        if c.step is not None:
            within = "within" if c.step_ok else "coarser than" if c.step_ok is False else "vs"
            res_text = f"{c.resolution:g}" if c.resolution is not None else "unknown"
            print(
                f"  {c.name}: quantisation step {c.step:.3g} {c.unit}, {within} the sensor's "
                f"resolution ({res_text})",
                file=sys.stderr,
            )
    for note in res.notes:
        print(f"Note: {note}", file=sys.stderr)
    return 0


def add_transfer_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "import",
        help="import a recording made by another tool (OpenSignals, EDF/BDF, XDF) with its video",
        description="reads the signal file (OpenSignals .txt/.h5, EDF, EDF+, BDF, BDF+, XDF) and "
        "the video (any file OpenCV's FFmpeg reads: MP4, MOV, AVI, MKV), shows what it found, "
        "and makes them one session of the patient: it plays back, analyses, reviews and "
        "reports like a recorded one, labelled imported with its files' names, formats and "
        "SHA-256. Prints the new session's uid.",
    )
    p.add_argument("--patient", required=True, help="patient code")
    p.add_argument("--signals", required=True, help="the signal file")
    p.add_argument("--video", help="the video of the patient's face (optional)")
    p.add_argument(
        "--offset",
        type=OFFSET_SECONDS,
        default=0.0,
        help="seconds the video starts after the signals (negative: before); default 0",
    )
    p.add_argument("--ecg", help="the ECG channel's label (default: the file's first ECG)")
    p.add_argument("--eda", help="the EDA channel's label (default: the file's first EDA)")
    p.add_argument("--consent", action="store_true", help="the patient consented to its use")
    p.add_argument("--consent-note", help="how consent was given")
    p.add_argument("--dry-run", action="store_true", help="show what would be imported, only")
    p.add_argument("--quiet", action="store_true", help="print only the new session's uid")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "export",
        help="export a session's data as CSV (a folder) or EDF+ (one file) for other tools",
        description="csv: a folder with the signals (session time; lost samples as empty "
        "cells), markers, per-frame estimates, the physiology per window and session.json "
        "explaining every column. edf: ECG and EDA with their units as EDF+ (BDF+ where 16 bits "
        "would be coarser than the sensor's resolution), lost samples as skipped records or "
        "annotations, markers as annotations. Only the patient's code is written unless "
        "--include-name. The export is audited.",
    )
    p.add_argument("uid", help="the session uid")
    p.add_argument("--format", required=True, choices=["csv", "edf"])
    p.add_argument("--out", required=True, help="csv: a new (or empty) folder; edf: the file")
    p.add_argument("--include-name", action="store_true", help="write the patient's name too")
    p.set_defaults(func=cmd_export)
