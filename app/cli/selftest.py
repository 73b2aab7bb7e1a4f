"""``therascope selftest``: what a clinic's IT runs after installing (:mod:`app.demo.selftest`).

Prints one line per step as it ends (PASS / FAIL / not run, the seconds it took, what it found or
why it failed), the total, then what this computer offers (data folder, Bluetooth, camera, GPU,
torch) in plain words. Exit status 0 only when every step passed, 1 otherwise.

It needs no account and never opens the clinic's data folder (nor writes its log there): it works
in a temporary data folder of its own, removed at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.arguments import bounded
from app.demo.selftest import SELFTEST_SECONDS

#: the longest simulated session the self-test may be asked for (s)
MAX_SELFTEST_SECONDS = 600.0
_MARK = {"passed": "PASS", "failed": "FAIL", "not run": "--"}


def step_line(step: object) -> str:
    """One step as printed: ``  PASS  record       2.1 s  what it found``."""
    from app.demo.selftest import Step

    assert isinstance(step, Step)
    took = f"{step.seconds:5.1f} s" if step.state in ("passed", "failed") else " " * 7
    return f"  {_MARK.get(step.state, step.state):<4}  {step.name:<11}  {took}  {step.detail}"


def cmd_selftest(args: argparse.Namespace) -> int:
    from app.demo.selftest import Step, run_selftest
    from core import __version__

    temp = Path(args.temp_dir) if args.temp_dir else None
    print(
        f"TheraScope {__version__} self-test: a temporary data folder with a throwaway account, "
        "simulated devices and the demo model; the clinic's data is not touched.",
        flush=True,
    )

    def show(step: Step) -> None:
        if step.state != "running" and step.state != "waiting":
            print(step_line(step), flush=True)

    result = run_selftest(
        temp,
        seconds=args.seconds,
        data_folder=Path(args.data_dir) if args.data_dir else None,
        on_step=show,
    )
    n, ok = len(result.steps), sum(s.passed for s in result.steps)
    if result.passed:
        print(f"Self-test PASSED: {ok} of {n} steps in {result.total_s:.1f} s.")
    else:
        failed = result.failed
        where = ", ".join(repr(s.name) for s in failed) or "—"
        print(
            f"Self-test FAILED at step {where}: {ok} of {n} steps passed, in "
            f"{result.total_s:.1f} s. {failed[0].detail if failed else ''}".rstrip()
        )
    if result.environment:
        print("This computer:")
        for f in result.environment:
            print(f"  {f.topic}: {f.text}")
    sys.stdout.flush()
    return 0 if result.passed else 1


def add_selftest_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "selftest",
        help="check this installation: record, analyse, report and check the catalog in a "
        "temporary folder; then describe Bluetooth, camera, GPU and torch",
        description="What a clinic's IT runs after installing. In a temporary data folder with a "
        "throwaway account (encrypted as a clinic's is) it records from the simulated sensor and "
        "camera on the virtual clock, analyses with the demo model, builds the PDF report and "
        "reads it back, checks the catalog and every session file, and removes the folder; one "
        "line per step (PASS/FAIL and its time). Then it says in plain words what this computer "
        "offers: the clinic's data folder (never opened), the Bluetooth adapter (never scanned), "
        "the cameras, the GPU and the torch build. Exit status 0 only when every step passed.",
    )
    p.add_argument(
        "--temp-dir",
        metavar="DIR",
        help="make the temporary data folder in DIR (default: the system's temporary folder)",
    )
    p.add_argument(
        "--seconds",
        type=bounded(float, 5, MAX_SELFTEST_SECONDS, unit="seconds"),
        default=SELFTEST_SECONDS,
        help=f"length of the simulated session (default: {SELFTEST_SECONDS:g})",
    )
    p.set_defaults(func=cmd_selftest, keeps_out_of_data_folder=True)
