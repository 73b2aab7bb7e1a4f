"""Which Lab Streaming Layer configuration liblsl runs with, applied before pylsl loads.

LSL discovers streams by multicast, by default on the whole site network. TheraScope keeps
discovery on this machine unless the user widens it in Settings: :func:`load_pylsl` points the
environment variable ``LSLAPICFG`` at ``resources/lsl/lsl_api.cfg`` (``ResolveScope = machine``,
``KnownPeers = {127.0.0.1}``, multicast responders on 127.0.0.1) or, with the setting on,
``resources/lsl/lsl_api_network.cfg``, and only then imports pylsl. No configuration keeps an
*outlet* on this machine: liblsl binds its data servers (TCP and UDP) to every interface whatever
the file says, so TheraScope opens one (the marker stream) only when Settings ask for it. liblsl reads its configuration once per process, at the first call that needs it,
so the choice made first holds until the program restarts (:func:`load_pylsl` says so when asked
for the other one later).

Every use of pylsl in TheraScope goes through :func:`load_pylsl`; nothing imports pylsl at module
level.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

from core.clock import Clock, MonotonicClock
from core.resources import resource_path
from devices.timebase import pair_clocks

log = logging.getLogger(__name__)


def _shipped(name: str) -> Path:
    """A file of the shipped ``resources/lsl/`` folder (found by importlib, wherever installed)."""
    return resource_path("lsl", name)


#: discovery on this machine only (the default; tests and benchmarks)
MACHINE_CONFIG = _shipped("lsl_api.cfg")
#: discovery on the local network (Settings → Lab Streaming Layer on the local network)
NETWORK_CONFIG = _shipped("lsl_api_network.cfg")
ENV = "LSLAPICFG"

_lock = threading.Lock()
_applied: Path | None = None
_monotonic_offset_ns: int | None = None  # measured once per process (clock_offset_ns)


class LslUnavailable(RuntimeError):
    """pylsl (with its bundled liblsl) cannot be loaded on this machine."""

    expected = True  # one plain sentence, as the Bluetooth errors are


def config_file(network: bool = False) -> Path:
    """The configuration file for machine-only (default) or local-network discovery."""
    return NETWORK_CONFIG if network else MACHINE_CONFIG


def applied_config() -> Path | None:
    """The configuration liblsl was started with in this process (None: not loaded yet)."""
    return _applied


def load_pylsl(network: bool = False) -> ModuleType:
    """Import pylsl with TheraScope's configuration; returns the module.

    Parameters
    ----------
    network : bool — discovery on the local network (the Setting); False keeps everything on
        this machine. Honoured only by the first call in a process (liblsl reads its configuration
        once); a later call asking for the other scope logs that it applies at the next start.

    Raises
    ------
    LslUnavailable — pylsl or its liblsl cannot be loaded (one sentence)
    """
    global _applied
    with _lock:
        want = config_file(network)
        if _applied is None:
            if not want.is_file():
                raise LslUnavailable(f"The Lab Streaming Layer configuration {want} is missing.")
            if "pylsl" in sys.modules and os.environ.get(ENV) != str(want):
                log.warning("pylsl was imported before TheraScope set its LSL configuration")
            os.environ[ENV] = str(want)
            try:
                import pylsl
            except (ImportError, OSError, RuntimeError) as e:
                log.warning("pylsl cannot be loaded: %r", e)
                raise LslUnavailable(
                    "Lab Streaming Layer is not available on this computer (pylsl and its liblsl "
                    "could not be loaded)."
                ) from e
            _applied = want
            return pylsl
        if want != _applied:
            log.info("LSL discovery scope changes at the next start (liblsl reads it once)")
        import pylsl

        return pylsl


def clock_offset_ns(clock: Clock) -> int:
    """Host clock − LSL's local clock (ns), paired right after the host clock ticks
    (:func:`~devices.timebase.pair_clocks`). For the host monotonic clock it is measured once per
    process and shared (the inlets and the marker outlet place time on the same pairing); any
    other clock is paired on each call."""
    global _monotonic_offset_ns
    pylsl = load_pylsl()

    def lsl_ns() -> int:
        return int(round(pylsl.local_clock() * 1e9))

    if type(clock) is not MonotonicClock:
        return pair_clocks(clock.now_ns, lsl_ns)
    with _lock:
        if _monotonic_offset_ns is None:
            _monotonic_offset_ns = pair_clocks(clock.now_ns, lsl_ns)
        return _monotonic_offset_ns
