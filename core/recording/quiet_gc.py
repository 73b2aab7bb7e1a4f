"""Keep the garbage collector's full passes from stalling a live recording.

A full (generation 2) collection walks every object the process holds, with the GIL held; with
torch, OpenCV, pyqtgraph and Qt loaded that took 39–134 ms on the 2-core reference machine
(benchmarks/first_start.py), long enough for the 60-fps camera thread to miss up to 8 frames.
While a live recording runs, the objects that exist when it starts are moved, after one
collection, to the permanent generation (:func:`gc.freeze`), so the collector's passes walk only
what was created since; when the last live recording stops they are handed back
(:func:`gc.unfreeze`). Garbage made during the recording is still collected as usual.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_live = 0  # live recordings running now (two at once are possible)


def live_recording_started() -> None:
    """A live (real-time) recording starts: the first one collects once, then freezes."""
    global _live
    with _lock:
        _live += 1
        if _live == 1:
            gc.collect()
            gc.freeze()


def live_recording_stopped() -> None:
    """A live recording ended: the last one hands the frozen objects back to the collector."""
    global _live
    with _lock:
        if _live == 0:
            return
        _live -= 1
        if _live == 0:
            gc.unfreeze()


def live_recordings() -> int:
    """How many live recordings keep the collector quiet now."""
    return _live
