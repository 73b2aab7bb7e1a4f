"""The session's markers as an LSL stream, so that LabRecorder stores them beside other streams.

:func:`publish_session_markers` opens a marker outlet for a session being recorded: an irregular
stream of type ``Markers``, one text channel, named ``TheraScope markers <session uid>`` (source id
``therascope-<session uid>``) — the session's random uid, never the patient's code or name. Each
marker the session adds is pushed with its own time on LSL's clock (the marker's session time, not
the moment it was typed into the stream), as its kind (``treatment_start``, ``note``…) and its number
in the session; a note's free text stays in the catalog (it may hold what the patient said). The
outlet closes when the session stops.

An outlet can be read from the network whatever the LSL configuration says (liblsl binds its data
servers to every interface; ``ListenAddress`` moves only the multicast responder), so callers open
one only when Settings → ``lsl_markers`` is on, which is off by default and says so.
"""

from __future__ import annotations

import logging
from typing import Any

from core.clock import Clock, MonotonicClock
from devices.lsl.config import clock_offset_ns, load_pylsl

log = logging.getLogger(__name__)

STREAM_TYPE = "Markers"


def stream_name(session_uid: str) -> str:
    """The marker stream's name for a session."""
    return f"TheraScope markers {session_uid}"


class MarkerOutlet:
    """An LSL outlet of one session's markers.

    Parameters
    ----------
    session_uid : str — the session's uid (the stream's name; never patient data)
    t0_ns : int — the session's time zero on the host monotonic clock (ns)
    clock : Clock, optional — that host clock
    network : bool — the discovery Setting (first use of LSL in the process decides)
    """

    def __init__(
        self,
        session_uid: str,
        t0_ns: int,
        *,
        clock: Clock | None = None,
        network: bool = False,
    ) -> None:
        pylsl = load_pylsl(network)
        self.session_uid = session_uid
        self.t0_ns = int(t0_ns)
        self.clock = clock or MonotonicClock()
        info = pylsl.StreamInfo(
            stream_name(session_uid),
            STREAM_TYPE,
            1,
            pylsl.IRREGULAR_RATE,
            "string",
            f"therascope-{session_uid}",
        )
        desc = info.desc()
        desc.append_child_value("session", session_uid)
        desc.append_child_value("software", "TheraScope")
        ch = desc.append_child("channels").append_child("channel")
        ch.append_child_value("label", "marker")
        ch.append_child_value("type", "Marker")
        self._pylsl = pylsl
        self._outlet: Any = pylsl.StreamOutlet(info)
        # host monotonic ns − LSL local clock ns: the process's one pairing, as the inlets use
        self._offset_ns = clock_offset_ns(self.clock)
        self.pushed = 0

    def lsl_time(self, t_s: float) -> float:
        """LSL's clock (s) at session time ``t_s``."""
        return (self.t0_ns + t_s * 1e9 - self._offset_ns) / 1e9

    def push(self, kind: str, marker_id: int | None, t_s: float, change: str = "") -> None:
        """Publish one marker at session time ``t_s`` (s); ``change`` (``moved``, ``withdrawn``)
        follows the marker's number when a marker already sent is changed."""
        if self._outlet is None:
            return
        text = kind if marker_id is None else f"{kind} #{marker_id}"
        if change:
            text = f"{text} {change}"
        self._outlet.push_sample([text], self.lsl_time(t_s))
        self.pushed += 1

    def close(self) -> None:
        """Withdraw the stream. Idempotent."""
        outlet, self._outlet = self._outlet, None
        if outlet is not None:
            del outlet


def publish_session_markers(session: Any, network: bool = False) -> MarkerOutlet | None:
    """Publish a live :class:`~core.recording.session.RecordingSession`'s markers over LSL.

    Every marker the session adds from now on (``session.add_marker``, whoever calls it) goes
    to the outlet too, and so does every change to one: a marker moved
    (``session.move_marker``) is sent again at its new time as ``treatment_start #3 moved``, one
    withdrawn (``session.delete_marker``, an undo) as ``treatment_start #3 withdrawn`` at the
    moment of the undo, so that a LabRecorder file tells the markers that stand. ``session.stop``
    closes the outlet. Returns None, and the session records as before, when LSL is not available
    (said in the log).
    """
    try:
        outlet = MarkerOutlet(
            session.record.uid, session.t0_ns, clock=session.clock, network=network
        )
    except Exception as e:
        log.warning("no LSL marker outlet for this session: %s", e)
        return None
    add, move, delete, stop = (
        session.add_marker,
        session.move_marker,
        session.delete_marker,
        session.stop,
    )

    def send(kind: str, marker_id: int, t_s: float, change: str = "") -> None:
        try:
            outlet.push(kind, marker_id, t_s, change)
        except Exception as e:  # the catalog has the marker; the stream is a copy
            log.warning("LSL marker not published: %r", e)

    def add_marker(kind: str, label: str = "", t_s: float | None = None) -> Any:
        m = add(kind, label, t_s)
        send(m.kind, m.id, m.t_s)
        return m

    def move_marker(marker_id: int, t_s: float) -> Any:
        m = move(marker_id, t_s)
        send(m.kind, m.id, m.t_s, "moved")
        return m

    def delete_marker(marker_id: int) -> Any:
        m = delete(marker_id)
        send(m.kind, m.id, session.elapsed_s(), "withdrawn")
        return m

    def stop_session(*args: Any, **kwargs: Any) -> Any:
        try:
            return stop(*args, **kwargs)
        finally:
            outlet.close()

    session.add_marker = add_marker
    session.move_marker = move_marker
    session.delete_marker = delete_marker
    session.stop = stop_session
    return outlet
