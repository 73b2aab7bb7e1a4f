"""The self-test a clinic's IT runs after installing (``therascope selftest``, Help → Self-test…).

In a temporary data folder of its own — a throwaway administrator with the real Argon2id
parameters, so the folder is encrypted exactly as a clinic's is (SQLCipher catalog, AES-256-GCM
session files) — it runs the therapist's whole path through the real code, one step after
another:

1. ``data folder``: the folder, the account, the encrypted catalog, the password unlocking it again;
2. ``record``: :data:`SELFTEST_SECONDS` of the simulated sensor (800 Hz ECG + EDA) and camera on
   the virtual clock, with treatment markers, through the real recorder;
3. ``analyse``: the demo model over it (the model shipped with the installation);
4. ``report``: the PDF report, read back (its pages and the session's id, patient code and the
   labels "simulated data" and "demo model" on page 1);
5. ``catalog``: SQLite's and SQLCipher's integrity checks, the rows the steps wrote, every session
   file against its checksums;
6. ``clean up``: the temporary folder removed (always runs, also after a failure).

A step that fails stops the steps after it (they are "not run"), except the clean-up. Then it
reports, in plain words and never as a pass or a failure, what this computer offers
(:func:`environment`): the clinic's data folder (where it is; the self-test never opens it), the
Bluetooth adapter (seen by the kernel, BlueZ reachable over D-Bus — it never scans or connects),
the cameras (which open), the GPU and the torch build.

No Qt here: the command line (:mod:`app.cli.selftest`) and the GUI's dialog
(:mod:`app.gui.selftest_dialog`) both run :func:`run_selftest` and show its steps as they go.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: how long the simulated session is (s, on the virtual clock)
SELFTEST_SECONDS = 20.0
#: the throwaway account's name and the simulated patient's code (no real person)
ACCOUNT = "selftest"
PATIENT_CODE = "SELFTEST"
#: the steps, in order: (name, what it checks)
STEPS: tuple[tuple[str, str], ...] = (
    ("data folder", "temporary data folder, throwaway account, encrypted catalog"),
    ("record", "simulated sensor and camera on the virtual clock, real recorder"),
    ("analyse", "the demo model over the recorded session"),
    ("report", "the session's PDF report, built and read back"),
    ("catalog", "catalog integrity, its rows, every session file against its checksums"),
    ("clean up", "the temporary data folder removed"),
)
NOT_RUN = "not run: an earlier step failed"
STOPPED = "not run: the self-test was stopped"


class StepFailed(Exception):
    """A step found something wrong; ``str()`` says what, in words."""


class _Stopped(Exception):
    """The self-test was stopped (``cancel``) during a step."""


@dataclass
class Step:
    """One step of the self-test as it stands.

    Parameters
    ----------
    name : str — one of :data:`STEPS`' names
    what : str — what it checks
    state : str — ``"waiting"``, ``"running"``, ``"passed"``, ``"failed"`` or ``"not run"``
    seconds : float — how long it took (wall clock)
    detail : str — what it found, or why it failed, in words
    """

    name: str
    what: str
    state: str = "waiting"
    seconds: float = 0.0
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.state == "passed"


@dataclass
class Finding:
    """One plain-words line about this computer (not a pass or a failure)."""

    topic: str
    text: str


@dataclass
class SelfTestResult:
    """All steps, what this computer offers, and the total time (s)."""

    steps: list[Step]
    environment: list[Finding] = field(default_factory=list)
    total_s: float = 0.0
    stopped: bool = False

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.steps)

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.steps if s.state == "failed"]


#: ``on_step(step)``: a step started or ended (its ``state`` says which); called from the thread
#: that runs the self-test
StepCallback = Callable[[Step], None]
#: ``progress(fraction)`` within the running step
Progress = Callable[[float], None]


def selftest_settings() -> Any:
    """The recording and analysis settings of the self-test: the live sensor rate, and the demo
    patient's camera and analysis rate (sized for a 2-core laptop), CUDA when available."""
    from app.demo.patient import DEMO_ANALYSIS_FPS, DEMO_FPS, DEMO_FRAME
    from core.config import Settings

    return Settings(
        camera_width=DEMO_FRAME[0],
        camera_height=DEMO_FRAME[1],
        camera_fps=DEMO_FPS,
        analysis_frames_per_s=DEMO_ANALYSIS_FPS,
        analysis_device="auto",
    )


class _Run:
    """The state the steps share: the temporary folder, the unlocked account, the catalog, the
    session."""

    def __init__(self, temp_parent: Path | None, seconds: float, progress: Progress) -> None:
        self.temp_parent = temp_parent
        self.seconds = seconds
        self.progress = progress
        self.settings = selftest_settings()
        self.work: Path | None = None
        self.root: Path | None = None
        self.unlocked: Any = None
        self.catalog: Any = None
        self.patient_id: int | None = None
        self.session: Any = None
        self.pdf: Path | None = None
        self.cancel: Callable[[], bool] = lambda: False

    # -- the steps ------------------------------------------------------------------------------

    def data_folder(self) -> str:
        from core.catalog import Catalog
        from core.catalog.cipher import is_encrypted
        from core.security import vault
        from core.security.access import create_first_account, unlock

        parent = self.temp_parent or Path(tempfile.gettempdir())
        self.work = Path(tempfile.mkdtemp(prefix="therascope-selftest-", dir=parent))
        self.root = self.work / "data"
        password = secrets.token_urlsafe(18)  # never shown, never stored in the clear
        t0 = time.perf_counter()
        self.unlocked, _recovery = create_first_account(self.root, ACCOUNT, password)
        made_s = time.perf_counter() - t0
        vault.register(self.root, self.unlocked)
        self.catalog = Catalog.open(self.root / "catalog.sqlite")
        self.catalog.account = ACCOUNT
        if not (self.catalog.is_encrypted and is_encrypted(self.catalog.path)):
            raise StepFailed("the new catalog was written unencrypted")
        t0 = time.perf_counter()
        unlock(self.root, ACCOUNT, password).close()  # the password opens the folder again
        unlock_s = time.perf_counter() - t0
        patient = self.catalog.add_patient(
            PATIENT_CODE, notes="TheraScope self-test: simulated, no real person.", is_demo=True
        )
        self.patient_id = patient.id
        return (
            f"{self.work}: account made ({made_s:.1f} s) and unlocked again ({unlock_s:.1f} s) "
            "with Argon2id; catalog encrypted (SQLCipher)"
        )

    def record(self) -> str:
        from app.demo.simulation import Cancelled, record_simulated
        from core.security import vault

        assert self.catalog is not None and self.root is not None and self.patient_id is not None
        try:
            rec = record_simulated(
                self.catalog,
                self.root,
                self.patient_id,
                self.seconds,
                scenario="anxious_to_calm",
                seed=0,
                settings=self.settings,
                progress=self.progress,
                consent_note="self-test (simulated)",
                with_markers=True,
                cancel=self.cancel,
            )
        except Cancelled:
            raise _Stopped from None
        self.session = rec
        if rec.status != "finalised":
            raise StepFailed(f"the session ended {rec.status!r}, not finalised")
        folder = self.root / rec.folder
        if not vault.is_sealed_session(folder):
            raise StepFailed(f"the session's files were written unencrypted ({folder})")
        bio = (rec.quality.get("streams") or {}).get("bio") or {}
        video = rec.quality.get("video") or {}
        frames = int(video.get("frames") or 0)
        lost = int(bio.get("lost") or 0)
        received = int(bio.get("received") or 0)
        if received == 0:
            raise StepFailed("no ECG or EDA sample was stored")
        if lost:
            raise StepFailed(f"{lost} ECG/EDA samples were lost (the simulation loses none)")
        s = self.settings
        return (
            f"{self.seconds:g} s: {received} ECG+EDA samples at {s.bio_rate_hz:g} Hz, "
            f"{frames} frames at {s.camera_fps:g} frames/s ({s.camera_width}×{s.camera_height}), "
            "none lost; files encrypted"
        )

    def analyse(self) -> str:
        from core.learning.demo_model import find_demo_checkpoint

        assert self.catalog is not None and self.root is not None and self.session is not None
        ckpt = find_demo_checkpoint(self.root)  # the shipped model (the temporary folder has none)
        if ckpt is None:
            raise StepFailed(
                "the demo model is missing from this installation (demo-bmmn-bae2.pt); "
                "reinstall TheraScope"
            )
        from core.analysis.engine import AnalysisCancelled  # torch: once there is a model
        from core.analysis.review import analyse_and_review

        try:
            r = analyse_and_review(
                self.catalog,
                self.root,
                self.session.id,
                ckpt,
                self.settings,
                lambda f, _text: self.progress(f),
                self.cancel,
            )
        except AnalysisCancelled:
            raise _Stopped from None
        counts = r.estimates.info["counts"]
        if not counts.get("estimated"):
            raise StepFailed(
                f"no frame was estimated ({counts.get('frames_analysed', 0)} analysed, "
                f"{counts.get('without_face', 0)} without a face)"
            )
        if self.catalog.latest_analysis(self.session.id) is None:
            raise StepFailed("the analysis was not stored in the catalog")
        return (
            f"{counts['estimated']} of {counts['frames_analysed']} frames estimated by the demo "
            f"model on {r.estimates.info['device']}"
        )

    def report(self) -> str:
        import pypdf

        from core.report.session import export_session_report

        assert self.catalog is not None and self.root is not None and self.work is not None
        assert self.session is not None
        out = export_session_report(
            self.catalog,
            self.root,
            self.session.id,
            self.work / "selftest-report.pdf",
            settings=self.settings,
        )
        self.pdf = out
        reader = pypdf.PdfReader(out)
        first = reader.pages[0].extract_text() or ""
        missing = [
            what
            for what, text in (
                ("the session id", self.session.uid),
                ("the patient code", PATIENT_CODE),
                ("the simulated-data label", "SIMULATED DATA"),
                ("the demo-model label", "DEMO MODEL"),
            )
            if text not in first
        ]
        if missing:
            raise StepFailed(f"page 1 of the PDF lacks {', '.join(missing)}")
        size = out.stat().st_size
        return (
            f"{len(reader.pages)} pages, {size / 1024:.0f} kB; read back: page 1 names the "
            "session and the patient code and says simulated data, demo model"
        )

    def check_catalog(self) -> str:
        from core.catalog.cipher import connect, folder_key
        from core.quality.session import quality_summary
        from core.quality.text import verify_lines

        assert self.catalog is not None and self.root is not None and self.session is not None
        path = self.catalog.path
        problems: list[str] = []
        conn = connect(path, folder_key(self.root))
        try:
            check = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
            if check != ["ok"]:
                problems.append("SQLite integrity check: " + "; ".join(check[:5]))
            problems += [
                f"SQLCipher: {r[0]}" for r in conn.execute("PRAGMA cipher_integrity_check")
            ]
            problems += [
                f"foreign key: {tuple(r)}" for r in conn.execute("PRAGMA foreign_key_check")
            ]
        finally:
            conn.close()
        sessions = self.catalog.list_sessions(patient_id=self.patient_id)
        if [s.uid for s in sessions] != [self.session.uid]:
            problems.append(f"{len(sessions)} sessions listed where 1 was recorded")
        if len(self.catalog.list_markers(self.session.id)) != 2:
            problems.append("the two treatment markers are not both in the catalog")
        if len(self.catalog.list_reports(self.session.id)) != 1:
            problems.append("the report export is not recorded")
        lines = verify_lines(quality_summary(self.root / self.session.folder, deep=True))
        if not lines[0].endswith("intact: every file matches its checksums"):
            problems.append("session files: " + " ".join(x.strip() for x in lines))
        if problems:
            raise StepFailed("; ".join(problems))
        n_files = len(lines) - 2  # the verdict and "still good" around one line per file
        return (
            "SQLite and SQLCipher integrity checks pass; session, markers, analysis and report "
            f"recorded; {n_files} session files match their checksums"
        )

    def clean_up(self) -> str:
        from core.catalog.cipher import folder_key
        from core.security import vault

        if self.catalog is not None:
            self.catalog.close()
            self.catalog = None
        if self.root is not None:
            vault.unregister(self.root)
            folder_key(self.root)  # drops the cached catalog key now that the folder is gone
        if self.unlocked is not None:
            self.unlocked.close()
            self.unlocked = None
        if self.work is None:
            return "nothing was created"
        shutil.rmtree(self.work)
        if self.work.exists():
            raise StepFailed(f"{self.work} is still there")
        return f"{self.work} removed"

    def abandon(self) -> None:
        """The clean-up after an interruption (Ctrl+C), as far as it goes, without a word."""
        try:
            self.clean_up()
        except Exception:  # the interruption is what the caller hears about
            log.info("self-test: the clean-up after an interruption failed", exc_info=True)


def _words(exc: BaseException, step: str) -> str:
    """Why a step failed, in one line."""
    if isinstance(exc, StepFailed):
        return str(exc)
    if isinstance(exc, OSError):
        from core.storage import explain

        return str(explain(exc, f"finish the step {step!r}", exc.filename or "a file"))
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_selftest(
    temp_parent: Path | None = None,
    *,
    seconds: float = SELFTEST_SECONDS,
    data_folder: Path | None = None,
    on_step: StepCallback | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    check_environment: bool = True,
) -> SelfTestResult:
    """Run the self-test (see the module's description).

    Parameters
    ----------
    temp_parent : Path, optional — where the temporary data folder is made (default: the
        system's temporary folder); it is removed at the end
    seconds : float — length of the simulated session (s)
    data_folder : Path, optional — the clinic's data folder, only to say where it is (the
        command line's ``--data-dir``; default: where TheraScope keeps it)
    on_step : callable, optional — called as each step starts and ends
    progress : callable, optional — the running step's fraction done (recording, analysis)
    cancel : callable, optional — polled between steps and during the recording and analysis;
        True stops: the remaining steps are not run, the clean-up is
    check_environment : bool — also describe this computer (Bluetooth, camera, GPU, torch)

    Returns
    -------
    SelfTestResult — never raises for a failed step: the step says why
    """
    t_start = time.perf_counter()
    steps = [Step(name, what) for name, what in STEPS]
    result = SelfTestResult(steps)
    stop = cancel or (lambda: False)
    run = _Run(temp_parent, seconds, progress or (lambda f: None))
    run.cancel = stop
    actions = {
        "data folder": run.data_folder,
        "record": run.record,
        "analyse": run.analyse,
        "report": run.report,
        "catalog": run.check_catalog,
        "clean up": run.clean_up,
    }

    def tell(step: Step) -> None:
        if on_step is not None:
            on_step(step)

    broken = False
    for step in steps:
        if step.name != "clean up":  # the clean-up always runs
            result.stopped = result.stopped or (not broken and stop())
            if broken or result.stopped:
                step.state, step.detail = "not run", STOPPED if result.stopped else NOT_RUN
                tell(step)
                continue
        step.state = "running"
        tell(step)
        t0 = time.perf_counter()
        try:
            step.detail = actions[step.name]()
            step.state = "passed"
        except _Stopped:
            result.stopped = True
            step.state, step.detail = "not run", STOPPED
        except Exception as exc:  # every failure is reported as the step's, in words
            log.info("self-test step %r failed", step.name, exc_info=True)
            step.state, step.detail = "failed", _words(exc, step.name)
            broken = True
        except BaseException:  # Ctrl+C: the temporary folder goes all the same, then it stops
            run.abandon()
            raise
        step.seconds = time.perf_counter() - t0
        tell(step)
    if check_environment and not result.stopped:
        result.environment = environment(data_folder)
    result.total_s = time.perf_counter() - t_start
    return result


# -- this computer ------------------------------------------------------------------------------


def clinic_data_folder(override: str | os.PathLike[str] | None = None) -> Path:
    """Where the clinic's data folder is (as :func:`core.config.data_dir` finds it), without
    creating it."""
    import platformdirs

    from core.config import APP_NAME, DATA_ENV

    if override:
        return Path(override)
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def environment(data_folder: Path | None = None) -> list[Finding]:
    """What this computer offers, one plain line per topic; a probe that breaks says so in its
    line (it never stops the others)."""
    probes: tuple[tuple[str, Callable[[], str]], ...] = (
        ("Data folder", lambda: data_folder_words(data_folder or clinic_data_folder())),
        ("Bluetooth", bluetooth_words),
        ("Camera", camera_words),
        ("GPU", gpu_words),
        ("torch", torch_words),
    )
    found = []
    for topic, probe in probes:
        try:
            text = probe()
        except Exception as exc:  # a probe's own fault: said, never fatal
            log.info("self-test: the %s check failed", topic, exc_info=True)
            text = f"could not be checked ({_words(exc, topic)})"
        found.append(Finding(topic, text))
    return found


def data_folder_words(folder: Path) -> str:
    state = "it exists" if folder.is_dir() else "not created yet: the first start creates it"
    return f"the clinic's data is kept in {folder} ({state}); the self-test did not open it"


def bluetooth_words() -> str:
    """Whether a Bluetooth adapter is visible and usable, without scanning or connecting."""
    try:
        import bleak
    except ImportError:
        return "the Bluetooth library (bleak) is missing from this installation: reinstall"
    version = getattr(bleak, "__version__", "") or _dist_version("bleak")
    lib = f"bleak {version}" if version else "bleak"
    if not sys.platform.startswith("linux"):
        return (
            f"{lib} is installed; the system asks for Bluetooth permission at the first scan "
            "(Set up session → scan). The self-test does not scan."
        )
    kernel = sorted(p.name for p in Path("/sys/class/bluetooth").glob("hci*"))
    try:
        adapters = _bluez_adapters()
    except _BlueZUnreachable as exc:
        if kernel:
            return (
                f"the system sees adapter {', '.join(kernel)}, but TheraScope cannot reach it: "
                f"{exc}; sensors cannot be used until then"
            )
        return (
            f"no Bluetooth adapter: the system sees none, and {exc}. Plug in a Bluetooth 4.0 "
            "(Low Energy) adapter to use sensors"
        )
    if not adapters:
        return (
            "no Bluetooth adapter: the Bluetooth service (BlueZ) runs but has none. Plug in a "
            "Bluetooth 4.0 (Low Energy) adapter to use sensors"
        )
    parts = [
        f"{name} ({'switched on' if powered else 'switched off: switch it on in the system settings'})"
        for name, powered in adapters
    ]
    return f"adapter {', '.join(parts)}, reached through BlueZ over D-Bus ({lib}); not scanned"


def _dist_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


class _BlueZUnreachable(Exception):
    """The Bluetooth service cannot be reached; ``str()`` says why, in words."""


def _bluez_adapters(timeout_s: float = 5.0) -> list[tuple[str, bool]]:
    """The adapters BlueZ knows: ``[(name, powered)]``, asked over the system D-Bus (BlueZ's
    object list, as bleak reads it; nothing is scanned)."""
    import asyncio

    async def ask() -> list[tuple[str, bool]]:
        from dbus_fast import BusType, Message, MessageType
        from dbus_fast.aio import MessageBus

        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        try:
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path="/",
                    interface="org.freedesktop.DBus.ObjectManager",
                    member="GetManagedObjects",
                )
            )
        finally:
            bus.disconnect()
        if reply is None or reply.message_type == MessageType.ERROR:
            name = "" if reply is None else str(reply.error_name)
            if name.endswith("AccessDenied"):
                raise _BlueZUnreachable(
                    "TheraScope is not allowed to use the Bluetooth service (BlueZ): add the user "
                    "to the 'bluetooth' group, then log in again"
                )
            raise _BlueZUnreachable(
                "the Bluetooth service (BlueZ) is not running: start it (systemctl start bluetooth)"
            )
        found = []
        for path, interfaces in sorted(reply.body[0].items()):
            props = interfaces.get("org.bluez.Adapter1")
            if props is not None:
                powered = props.get("Powered")
                found.append((path.rsplit("/", 1)[-1], bool(powered.value) if powered else False))
        return found

    try:
        return asyncio.run(asyncio.wait_for(ask(), timeout_s))
    except _BlueZUnreachable:
        raise
    except ImportError:
        raise _BlueZUnreachable("the D-Bus library (dbus-fast) is missing: reinstall") from None
    except (FileNotFoundError, ConnectionRefusedError):
        raise _BlueZUnreachable(
            "the system message bus (D-Bus), through which the Bluetooth service is reached, "
            "is not running"
        ) from None
    except PermissionError:
        raise _BlueZUnreachable("the system message bus (D-Bus) refuses this user") from None
    except TimeoutError:
        raise _BlueZUnreachable(
            f"the Bluetooth service (BlueZ) did not answer within {timeout_s:g} s"
        ) from None
    except Exception as exc:  # dbus-fast's own errors: their words go to the log
        log.info("BlueZ probe failed", exc_info=True)
        raise _BlueZUnreachable(
            f"the Bluetooth service (BlueZ) cannot be reached ({exc})"
        ) from None


def camera_words() -> str:
    """Which cameras open (each opened for a moment; no picture is kept)."""
    from devices.camera import list_cameras

    linux = sys.platform.startswith("linux")
    nodes = sorted(Path("/dev").glob("video*")) if linux else []
    if linux and not nodes:
        return (
            "no camera: this computer has no video device (/dev/video*). Sessions can be "
            "recorded without video; plug in a USB webcam to record the face"
        )
    cams = list_cameras()
    opened = [
        f"{'/dev/video' if linux else 'index '}{c['index']} ({c['width']}×{c['height']}"
        + (f", {c['fps']:g} frames/s reported" if c["fps"] else "")
        + ")"
        for c in cams
    ]
    if linux:
        shut = [str(n) for n in nodes if n.name[5:] not in {str(c["index"]) for c in cams}]
        if not cams:
            return (
                f"{', '.join(shut)} present but none opens: in use by another program, or the "
                "user lacks access (the 'video' group)"
            )
        extra = (
            f"; {', '.join(shut)} do not open (often a camera's second, metadata device)"
            if shut
            else ""
        )
        return f"opens: {', '.join(opened)}{extra}"
    if not cams:
        return "no camera opens (none attached, in use, or camera access is not allowed)"
    return f"opens: {', '.join(opened)}"


def gpu_words() -> str:
    import torch

    cores = os.cpu_count() or 0
    if torch.cuda.is_available():
        names = []
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            names.append(f"{p.name} ({p.total_memory / 2**30:.0f} GiB)")
        return f"CUDA GPU: {', '.join(names)}; the analysis runs on it ({cores} CPU cores)"
    if torch.version.cuda:
        return (
            "no usable NVIDIA GPU (this torch is a CUDA build, but CUDA finds no device or "
            f"driver); the analysis runs on the CPU ({cores} cores)"
        )
    return f"not used: this torch build is CPU-only; the analysis runs on the CPU ({cores} cores)"


def torch_words() -> str:
    import torch

    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
    return f"torch {torch.__version__} ({build})"
