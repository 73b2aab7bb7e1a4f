"""``therascope``: the GUI with no arguments; headless jobs as subcommands.

Qt is imported only when the GUI starts, so every subcommand runs on a machine without a display.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.build_info import build_info
from app.cli.arguments import SEED, SESSION_SECONDS
from app.cli.common import open_catalog, open_unlocked_catalog, patient_or_exit, unlock_folder


def _refuse(message: str) -> int:
    """Print why nothing was done; exit code 2."""
    print(f"therascope: {message}", file=sys.stderr)
    return 2


def _confirmed(what: str, expected: str, typed: str | None) -> bool:
    """Whether ``--confirm`` repeats ``expected`` exactly; prints the refusal otherwise."""
    from core.catalog.erasure import confirmation_matches

    if confirmation_matches(expected, typed):
        return True
    given = "no --confirm was given" if typed is None else "--confirm does not match"
    _refuse(
        f"refused: {given}. Deleting {what} cannot be undone; to confirm, repeat it exactly: "
        f"--confirm {expected}. Nothing was deleted."
    )
    return False


def cmd_patients(args: argparse.Namespace) -> int:
    if args.action in ("archive", "unarchive", "delete", "export") and not args.code:
        raise SystemExit(f"therascope patients {args.action} CODE")
    if args.action == "delete":
        return _erase_patient(args)
    cat, root = open_catalog(args)
    if args.action == "add":
        if not args.code:
            raise SystemExit("therascope patients add CODE")
        p = cat.add_patient(args.code, name=args.name, birth_year=args.birth_year)
        print(f"created patient {p.code} (id {p.id})")
        return 0
    if args.action in ("archive", "unarchive"):
        p = patient_or_exit(cat, args.code)
        if args.action == "archive":
            cat.archive_patient(p.id)
            print(f"archived patient {p.code} (hidden from the list; unarchive brings it back)")
            return 0
        cat.unarchive_patient(p.id)
        print(f"patient {p.code} is active again")
        return 0
    if args.action == "export":
        return _export_patient(args, cat, root)
    for row in cat.patient_overview(include_archived=args.archived):
        print(
            f"{row['code']:<16} sessions={row['n_sessions']:<3} last={row['last_session_at'] or '-'}"
            + ("  [demo]" if row["is_demo"] else "")
            + ("  [archived]" if row["archived"] else "")
        )
    return 0


def _erase_patient(args: argparse.Namespace) -> int:
    """``patients delete CODE --confirm CODE``: keys, folders, rows, the code in the audit."""
    from core.privacy.erasure import erase_patient

    cat, root, unlocked = open_unlocked_catalog(args)
    try:
        p = patient_or_exit(cat, args.code)
        if not _confirmed(f"patient {p.code} with all its sessions", p.code, args.confirm):
            return 2
        gone = erase_patient(cat, root, p.id, unlocked)
    finally:
        unlocked.close()
    print(f"deleted patient {gone.patient_code} and {len(gone.session_uids)} session(s)")
    if gone.keys_destroyed:
        print("their keys are destroyed and listed in the erasure ledger")
    if not gone.catalog_rewritten:
        print("note: the catalog is in use by another program; its WAL file is emptied later")
    return 0


def _export_patient(args: argparse.Namespace, cat: Any, root: Path) -> int:
    """``patients export CODE --out FILE.zip [--include-name]``."""
    from core.privacy.patient_export import export_patient

    if not args.out:
        raise SystemExit("therascope patients export CODE --out FILE.zip")
    p = patient_or_exit(cat, args.code)
    res = export_patient(cat, root, p.id, Path(args.out), include_name=args.include_name)
    print(
        f"exported patient {res.patient_code}: {len(res.sessions)} session(s), {res.files} "
        f"files, {res.bytes / 1e6:.1f} MB -> {res.path}"
    )
    for uid, why in res.left_out.items():
        print(f"left out: session {uid}: {why}")
    return 0


def cmd_sessions(args: argparse.Namespace) -> int:
    if args.action == "delete":
        from core.privacy.erasure import erase_session

        if not args.uid:
            raise SystemExit("therascope sessions delete UID --confirm UID")
        cat, root, unlocked = open_unlocked_catalog(args)
        try:
            found = cat.session_by_uid(args.uid)
            if found is None:
                return _refuse(f"No session {args.uid!r} (list them: therascope sessions)")
            if not _confirmed(f"session {found.uid}", found.uid, args.confirm):
                return 2
            erase_session(cat, root, found.id, unlocked)
        finally:
            unlocked.close()
        print(f"deleted session {found.uid}")
        return 0
    cat, root = open_catalog(args)
    pid = patient_or_exit(cat, args.patient).id if args.patient else None
    rows = cat.list_sessions(patient_id=pid)
    if args.json:
        print(json.dumps([vars(r) for r in rows], indent=2, default=str))
        return 0
    from core.timefmt import format_clock

    for r in rows:
        q = r.quality or {}
        lost = sum(s.get("lost", 0) for s in q.get("streams", {}).values())
        dur = format_clock(r.duration_s) if r.duration_s else "-"
        sim = " simulated" if r.simulated else ""
        print(
            f"{r.uid}  patient={cat.get_patient(r.patient_id).code:<12} {r.started_at}  "
            f"{dur:>9}  {r.status:<10} lost_samples={lost}{sim}"
        )
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from app.demo.simulation import record_simulated
    from core.config import Settings

    if not args.consent:
        raise SystemExit("Recording needs the patient's consent: add --consent once it is given")
    if not args.simulate and not args.sensor and not args.lsl:
        raise SystemExit(
            "Name the sensor (--sensor ADDRESS or --lsl STREAM; `therascope devices` lists them) "
            "or add --simulate"
        )
    if args.sensor and args.lsl:
        raise SystemExit("Name one sensor: --sensor ADDRESS or --lsl STREAM, not both")
    if not 0.0 <= args.drop_prob < 1.0:
        raise SystemExit("--drop-prob is a probability: 0 ≤ p < 1")
    if args.duration <= 0:
        raise SystemExit("--duration must be positive (seconds)")
    cat, root = open_catalog(args)
    patient = patient_or_exit(cat, args.patient)
    if not args.simulate:
        from app.cli.devices import record_real

        return record_real(args, cat, root, patient.id)  # --sensor or --lsl
    settings = Settings.load()
    if args.no_video:
        settings.camera_fps = 0
    last = [-1]

    def progress(done: float) -> None:
        pct = int(done * 100)
        if pct // 10 != last[0] // 10 and not args.quiet:
            print(f"  {pct:3d} %", file=sys.stderr, flush=True)
        last[0] = pct

    rec = record_simulated(
        cat,
        root,
        patient.id,
        args.duration,
        scenario=args.scenario,
        seed=args.seed,
        virtual=args.virtual,
        settings=settings,
        drop_prob=args.drop_prob,
        progress=progress,
        consent_note="consent given (command line)",
        with_markers=args.markers,
    )
    print(rec.uid)
    if not args.quiet:
        print(json.dumps(rec.quality, indent=2), file=sys.stderr)
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from core.recording.recovery import recover_unfinished
    from core.report.cleanup import clean_interrupted_writes

    cat, root = open_catalog(args)
    res = recover_unfinished(cat, root)
    for r in res:
        print(json.dumps(r))
    removed = clean_interrupted_writes(cat, root)
    for path in removed:
        print(json.dumps({"removed": path, "why": "left by an interrupted write"}))
    if not res and not removed:
        print("nothing to recover")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check every byte of one session's files, or of all, against their checksums.

    Exit status: 0 when nothing is damaged (a session without checksums is "not verified", not
    damaged), 1 when a file is damaged, 2 when the session is unknown.
    """
    from core.quality.session import quality_summary
    from core.quality.text import verify_lines
    from core.recording.integrity import SessionDamageError
    from core.recording.manifest import check_files, compute_quality, read_manifest

    if bool(args.uid) == bool(args.all):
        raise SystemExit("therascope verify UID, or therascope verify --all")
    cat, root = open_catalog(args)
    if args.all:
        records = cat.list_sessions()
    else:
        found = cat.session_by_uid(args.uid)
        if found is None:
            return _refuse(f"No session {args.uid!r} (list them: therascope sessions)")
        records = [found]
    damaged = 0
    for rec in records:
        folder = root / rec.folder
        if rec.status == "recording":
            print(f"{rec.uid}  not checked: still recording (or waiting for recovery)")
            continue
        if not (folder / "session.json").exists():
            print(f"{rec.uid}  DAMAGED\n  session folder missing: {folder}")
            damaged += 1
            continue
        try:
            lines = verify_lines(quality_summary(folder, deep=True))
        except SessionDamageError as e:
            checks, why = check_files(folder)
            lines = [f"{rec.uid}  DAMAGED", f"  {e}"]
            lines += [f"  {c.path}  {c.problem() or 'intact'}" for c in checks] or [f"  {why}"]
        else:
            if lines[0].endswith("DAMAGED"):
                # the lists, the patient page and the report then count what the damage cost
                fresh = compute_quality(folder, read_manifest(folder), deep=True)
                cat.update_session_quality(rec.id, {**rec.quality, **fresh})
                lines.append("  the catalog's quality figures now count the damaged files")
        damaged += lines[0].endswith("DAMAGED")
        print("\n".join(lines))
    if args.all:
        print(f"{len(records)} session(s) checked, {damaged} damaged")
    return 1 if damaged else 0


def cmd_report(args: argparse.Namespace) -> int:
    from core.report.session import export_session_report

    if args.course or args.patient is not None:
        return _course_report(args)
    if args.session is None:
        return _refuse("name a session uid, or --patient CODE --course for a course report")
    cat, root = open_catalog(args)
    rec = cat.session_by_uid(args.session)
    if rec is None:
        raise SystemExit(f"No session {args.session!r} (list them: therascope sessions)")
    out = export_session_report(
        cat,
        root,
        rec.id,
        Path(args.out),
        include_name=args.include_name,
        include_notes=args.include_notes,
    )
    print(out)
    return 0


def _course_report(args: argparse.Namespace) -> int:
    """``report --patient CODE --course --out FILE``: every session of the patient in one PDF."""
    from core.report.course import export_course_report

    if not (args.course and args.patient is not None) or args.session is not None:
        return _refuse("a course report takes --patient CODE --course (and no session uid)")
    cat, root = open_catalog(args)
    p = patient_or_exit(cat, args.patient)
    try:
        out = export_course_report(cat, root, p.id, Path(args.out), include_name=args.include_name)
    except ValueError as e:
        return _refuse(str(e))
    print(out)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Everything the review screen shows about one session (``--json``: strict JSON, no NaN).

    Exit status 2 when the session is unknown.
    """
    from core.report.overview import overview_lines, session_overview

    cat, root = open_catalog(args)
    rec = cat.session_by_uid(args.uid)
    if rec is None:
        return _refuse(f"No session {args.uid!r} (list them: therascope sessions)")
    cat.audit("open", "session", rec.id, "show")
    ov = session_overview(cat, root, rec.id)
    if args.json:
        print(json.dumps(ov, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print("\n".join(overview_lines(ov)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The demo patient, built in the demo data folder (no account: simulated patients only)."""
    from app.demo.patient import ensure_demo_patient
    from core.catalog import Catalog
    from core.config import demo_dir

    root = demo_dir()
    cat = Catalog.open(root / "catalog.sqlite")
    p = ensure_demo_patient(cat, root, progress=None, analyse=not args.no_analysis)
    print(f"demo patient {p.code}: {len(cat.list_sessions(patient_id=p.id))} sessions in {root}")
    return 0


def cmd_rebuild_catalog(args: argparse.Namespace) -> int:
    """Recreate the catalog from the record files; says what it could not recover."""
    import datetime as dt
    import os

    from core.catalog.rebuild import rebuild_catalog
    from core.config import data_dir

    root = data_dir(args.data_dir)
    unlock_folder(args, root)  # the catalog it writes holds patient data
    result = rebuild_catalog(root, Path(args.out) if args.out else None)
    print(f"Rebuilt catalog: {result.path}")
    print(f"It holds {result.summary()}.")
    if result.problems:
        print("Not recovered:")
        for problem in result.problems:
            print(f"  - {problem}")
    current = root / "catalog.sqlite"
    if not args.replace:
        print(
            f"To use it: close TheraScope, move {current.name} out of the way and rename "
            f"{result.path.name} to {current.name} (or run again with --replace)."
        )
        return 0
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if current.exists():
        kept = current.with_name(f"{current.name}.replaced-{stamp}")
        os.replace(current, kept)
        for suffix in ("-wal", "-shm"):  # the old catalog's journal goes with it
            side = current.with_name(current.name + suffix)
            if side.exists():
                os.replace(side, kept.with_name(kept.name + suffix))
        print(f"The old catalog is kept as {kept.name}.")
    os.replace(result.path, current)
    print(f"{current.name} is now the rebuilt catalog.")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from app.gui.main import run_gui

    return run_gui(data_dir=args.data_dir, demo=bool(args.demo))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="therascope", description=__doc__.splitlines()[0])
    # version, torch flavour (CPU-only / CUDA) and torch version; reads metadata, imports no torch
    ap.add_argument("--version", action="version", version=build_info().line())
    ap.add_argument(
        "--data-dir",
        help="data folder (default: the platform's user data folder, or $THERASCOPE_DATA_DIR)",
    )
    ap.add_argument(
        "--demo",
        action="store_true",
        help="GUI: open the demo data folder (a simulated patient; no account needed) instead "
        "of the clinic's data",
    )
    ap.add_argument(
        "--user",
        help="the account acting (default: $THERASCOPE_USER, or the data folder's only account); "
        "its password is typed, or read from the file $THERASCOPE_PASSWORD_FILE names",
    )
    sub = ap.add_subparsers(dest="cmd")

    p = sub.add_parser("gui", help="start the GUI (the default)")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser(
        "patients",
        help="list, add, archive, unarchive, export or delete patients",
        description="export writes every session and record of the patient into one zip file "
        "(--out). delete erases the patient for good: its keys, every session folder, every "
        "catalog record, and its code from the audit trail; it needs --confirm with the patient "
        "code repeated",
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=["list", "add", "archive", "unarchive", "export", "delete"],
        default="list",
    )
    p.add_argument("code", nargs="?")
    p.add_argument("--name")
    p.add_argument("--birth-year", type=int)
    p.add_argument("--archived", action="store_true", help="list: archived patients too")
    p.add_argument("--confirm", metavar="CODE", help="delete: the patient code, repeated")
    p.add_argument("--out", metavar="FILE.zip", help="export: the zip file to write")
    p.add_argument(
        "--include-name",
        action="store_true",
        help="export: write the patient's name (and birth year) too; by default only the code",
    )
    p.set_defaults(func=cmd_patients)

    p = sub.add_parser(
        "sessions",
        help="list or delete sessions",
        description="delete erases the session for good (its key, its folder and its catalog "
        "records): it needs --confirm with the session uid repeated",
    )
    p.add_argument("action", nargs="?", choices=["list", "delete"], default="list")
    p.add_argument("uid", nargs="?", help="delete: the session uid")
    p.add_argument("--patient", help="patient code")
    p.add_argument("--json", action="store_true")
    p.add_argument("--confirm", metavar="UID", help="delete: the session uid, repeated")
    p.set_defaults(func=cmd_sessions)

    p = sub.add_parser("record", help="record a session")
    p.add_argument("--patient", required=True, help="patient code")
    p.add_argument("--duration", type=SESSION_SECONDS, default=120.0, help="seconds (1–86400)")
    p.add_argument("--simulate", action="store_true", help="simulated sensor and camera")
    p.add_argument("--sensor", help="Bluetooth address of the sensor to record from")
    p.add_argument(
        "--lsl",
        metavar="NAME",
        help="record a Lab Streaming Layer stream (its name, type or source id; OpenSignals: "
        "OpenSignals or the device's MAC address)",
    )
    p.add_argument(
        "--profile",
        choices=["polar_h10", "bitalino", "therascope_open_v1"],
        help="the sensor's kind (default: found by a scan)",
    )
    p.add_argument("--camera", default="0", help="camera index or path, or 'none' (real devices)")
    p.add_argument(
        "--virtual", action="store_true", help="virtual clock: simulate faster than real time"
    )
    p.add_argument("--scenario", default="anxious_to_calm")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--drop-prob", type=float, default=0.0, help="simulated packet loss (0–1)")
    p.add_argument("--no-video", action="store_true")
    p.add_argument(
        "--markers",
        action="store_true",
        help="add treatment start/end markers at 1/3 and 2/3 of the session",
    )
    p.add_argument("--consent", action="store_true", help="the patient gave consent")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("recover", help="recover sessions left unfinished by a crash")
    p.set_defaults(func=cmd_recover)

    p = sub.add_parser(
        "rebuild-catalog",
        help="recreate the catalog from the data folder's record files (beside the old one)",
    )
    p.add_argument("--out", help="the new catalog file (default: catalog.rebuilt-<time>.sqlite)")
    p.add_argument(
        "--replace",
        action="store_true",
        help="then put it in place of catalog.sqlite (the old one is kept as "
        "catalog.sqlite.replaced-<time>); close TheraScope first",
    )
    p.set_defaults(func=cmd_rebuild_catalog)

    p = sub.add_parser(
        "verify",
        help="check every file of one or all sessions against its checksums",
        description="reads every byte of each session's files and compares them with the "
        "checksums written when the session was finalised; prints what is damaged (file, byte "
        "range, samples or frames lost, when) and what is still good. Exit status 1 when "
        "anything is damaged.",
    )
    p.add_argument("uid", nargs="?", help="the session uid")
    p.add_argument("--all", action="store_true", help="every session in the catalog")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "report",
        help="export a session's PDF report, or a patient's course report (--patient --course)",
    )
    p.add_argument("session", nargs="?", help="session uid")
    p.add_argument("--patient", help="patient code (with --course)")
    p.add_argument(
        "--course", action="store_true", help="every session of --patient in one course report"
    )
    p.add_argument("--out", required=True, help="PDF path")
    p.add_argument("--include-name", action="store_true", help="print the patient's name")
    p.add_argument(
        "--include-notes", action="store_true", help="print the session's notes on page 1"
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "show",
        help="everything the review screen shows about a session (facts, data quality, "
        "physiology, analysis, markers, ratings)",
    )
    p.add_argument("uid", help="the session uid")
    p.add_argument("--json", action="store_true", help="strict JSON (no NaN: null)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("demo", help="create the demo patient and its simulated sessions")
    p.add_argument("--no-analysis", action="store_true", help="do not analyse them")
    p.set_defaults(func=cmd_demo)

    from app.cli.accounts import add_account_commands
    from app.cli.backup import add_backup_commands
    from app.cli.devices import add_device_commands
    from app.cli.ml import add_commands
    from app.cli.selftest import add_selftest_command
    from app.cli.transfer import add_transfer_commands

    add_account_commands(sub)
    add_backup_commands(sub)
    add_device_commands(sub)
    add_commands(sub)
    add_selftest_command(sub)
    add_transfer_commands(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    from core.logs import setup_logging
    from core.storage import make_private, private_umask

    args = build_parser().parse_args(argv)
    private_umask()  # before the first file: the log, the catalog, a session
    # the self-test works in a folder of its own: the clinic's data folder (and its log) untouched
    apart = getattr(args, "keeps_out_of_data_folder", False)
    if not apart and setup_logging(args.data_dir) is None:  # the data folder can be written
        from core.config import data_dir

        try:
            changed = make_private(data_dir(args.data_dir))
        except OSError:  # a folder that cannot be made: the command says so in words
            changed = 0
        if changed:
            import logging

            logging.getLogger(__name__).info(
                "data folder made private to its owner (%d files and folders)", changed
            )
    if args.cmd is None:
        return cmd_gui(args)
    try:
        return int(args.func(args))
    except OSError as e:  # a file the command reads or writes: in words, never a traceback
        from core.storage import explain

        where = e.filename or args.data_dir or "the data folder"
        print(f"therascope: {explain(e, f'finish {args.cmd!r}', where)}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError) as e:  # StorageError (catalog) is a RuntimeError
        print(f"therascope: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
