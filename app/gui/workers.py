"""Run long core jobs (demo creation, report export) off the GUI thread.

:func:`run_job` starts one; :func:`running_jobs` and :func:`wait_for_jobs` let the main window,
when it closes, wait for what is still being written (``Job.what``) instead of cutting it off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot


class Job(QObject):
    """Runs ``fn(progress)`` in a QThread; ``progress`` takes a fraction in [0, 1]."""

    progressed = Signal(float)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[Callable[[float], None]], Any], what: str = "") -> None:
        super().__init__()
        self._fn = fn
        #: what the job writes, in the therapist's words ("the course report"); empty for a job
        #: that writes nothing the therapist waits for (a device scan, a figure on screen)
        self.what = what
        self.worker_thread = QThread()
        self.moveToThread(self.worker_thread)
        self.worker_thread.started.connect(self._run)

    def _run(self) -> None:
        try:
            result = self._fn(self.progressed.emit)
        except Exception as e:  # shown to the user; the traceback goes to the log
            import logging

            log = logging.getLogger(__name__)
            if getattr(e, "expected", False):  # a condition the user is told about, not a fault
                log.warning("background job: %s", e)
            else:
                log.exception("background job failed")
            self.failed.emit(str(e))
        else:
            self.finished.emit(result)
        finally:
            self.worker_thread.quit()

    def start(self) -> None:
        self.worker_thread.start()


class _Relay(QObject):
    """Lives on the GUI thread, so signals from the worker reach the callbacks there (queued)."""

    def __init__(self, on_done: Any, on_error: Any, on_progress: Any) -> None:
        super().__init__()
        self._cb = (on_done, on_error, on_progress)
        self.entry: tuple[Job, _Relay] | None = None

    @Slot(object)
    def done(self, result: object) -> None:
        if self._cb[0]:
            self._cb[0](result)

    @Slot(str)
    def error(self, msg: str) -> None:
        if self._cb[1]:
            self._cb[1](msg)

    @Slot(float)
    def progress(self, f: float) -> None:
        if self._cb[2]:
            self._cb[2](f)

    @Slot()
    def cleanup(self) -> None:
        _running.discard(self.entry)


_running: set[tuple[Job, _Relay]] = set()


def run_job(
    fn: Callable[[Callable[[float], None]], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
    what: str = "",
) -> Job:
    """Start ``fn`` in a worker thread; callbacks run on the GUI thread. ``what``: what the job
    writes, in words ("the course report"), asked about when the main window closes."""
    job = Job(fn, what)
    relay = _Relay(on_done, on_error, on_progress)
    job.finished.connect(relay.done)
    job.failed.connect(relay.error)
    job.progressed.connect(relay.progress)
    entry = (job, relay)
    _running.add(entry)
    relay.entry = entry
    job.worker_thread.finished.connect(relay.cleanup)
    job.start()
    return job


def jobs_running() -> int:
    """Background jobs started with :func:`run_job` that have not finished yet."""
    return len(_running)


def running_jobs() -> list[Job]:
    """The jobs started with :func:`run_job` whose worker thread still runs."""
    return [job for job, _ in list(_running) if job.worker_thread.isRunning()]


def wait_for_jobs(tick: Callable[[], None] | None = None, step_ms: int = 50) -> int:
    """Block until every job started with :func:`run_job` has finished its work (the main window
    closing: a report must not be cut off half-written, nor its thread destroyed while it runs).
    ``tick`` is called every ``step_ms`` while waiting (to keep a progress message painted).

    Returns
    -------
    int — how many jobs were still running
    """
    busy = running_jobs()
    for job in busy:
        while not job.worker_thread.wait(step_ms):
            if tick is not None:
                tick()
    return len(busy)
