"""The recording screen's live status: what each traffic light shows while a session records.

:func:`live_status` turns the figures the screen gathers a few times a second
(:class:`LiveFigures`) into a level and a text per light (:class:`LiveStatus`); the screen only
paints them. Levels are ``"green"``, ``"amber"``, ``"red"`` and ``"grey"`` (nothing to judge);
their colours are in :data:`core.palette.LIGHT_COLOURS`. The set-up check before recording is
:mod:`core.quality.signal_check`; the verdict on a finished session :mod:`core.quality.session`.

Rules (why):

* **sensor** — a stream delivering under half its nominal rate is as good as silent (red, "no
  data"); under 95 % it is losing packets (amber). The first :data:`RATE_SETTLE_S` seconds are
  not judged: the achieved rate is still settling.
* **signal** — any lost sample is worth a look (amber); the electrodes themselves are judged at
  set-up.
* **camera** — under 90 % of the nominal frame rate (after :data:`RATE_SETTLE_S`) is amber; a
  lost camera is red (the signals go on without it).
* **disk** — over 30 min of space is green, over 10 min amber, less red: a session needs time
  to be stopped and space freed. A failure to store is red whatever the space.
* **link** (Bluetooth sensors, :func:`link_light`) — reconnecting is amber, red once the link has
  been down for :data:`LINK_DOWN_RED_S`; a battery at or under :data:`LOW_BATTERY_PCT` % turns a
  green light amber.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.recording.disk import disk_time_text
from core.timefmt import format_clock

#: seconds from the start before the achieved sample and frame rates are judged (s)
RATE_SETTLE_S = 3.0
#: below this share of its nominal rate a stream is red ("no data")
RATE_RED = 0.5
#: below this share of its nominal rate a stream is amber
RATE_AMBER = 0.95
#: below this share of its nominal frame rate the camera is amber
FPS_AMBER = 0.9
#: more disk space than this is green (min)
DISK_GREEN_MIN = 30.0
#: more disk space than this is amber, less is red (min)
DISK_AMBER_MIN = 10.0
#: seconds of recording before the write rate is measured rather than taken from the settings (s)
WRITE_RATE_SETTLE_S = 5.0
#: a link down (reconnecting) for this long or longer is red (s)
LINK_DOWN_RED_S = 30.0
#: a sensor battery at or under this turns a green link light amber (%)
LOW_BATTERY_PCT = 10
#: link states in which the sensor is not delivering and is being reconnected
LINK_DOWN_STATES = ("reconnecting", "disconnected", "connecting")


@dataclass(frozen=True)
class Light:
    """One traffic light as shown.

    Parameters
    ----------
    level : str — ``"green"``, ``"amber"``, ``"red"`` or ``"grey"``
    text : str — the detail shown beside it, e.g. ``"512 min available"``
    """

    level: str
    text: str


@dataclass(frozen=True)
class StreamFigures:
    """One bio stream's live figures.

    Parameters
    ----------
    name : str — stream name, e.g. ``"ECG"``
    achieved_rate_hz : float — samples per second received so far (Hz)
    nominal_rate_hz : float — the stream's nominal rate (Hz)
    lost : int — samples lost so far
    gaps : int — gaps those samples were lost in
    """

    name: str
    achieved_rate_hz: float
    nominal_rate_hz: float
    lost: int = 0
    gaps: int = 0


@dataclass(frozen=True)
class LinkFigures:
    """A Bluetooth sensor's link, for :func:`link_light`.

    Parameters
    ----------
    state : str — the link's state, e.g. ``"connected"``, ``"reconnecting"``
    reconnects : int — reconnections so far
    battery_percent : int or None — the sensor's battery (%), None when not reported
    down_s : float or None — time since the link was last lost (s), None when not known
    """

    state: str
    reconnects: int = 0
    battery_percent: int | None = None
    down_s: float | None = None


@dataclass(frozen=True)
class LiveFigures:
    """What the recording screen reads from the session, a few times a second.

    Parameters
    ----------
    elapsed_s : float — time since the recording started (s)
    heart_rate_bpm : float or None — latest heart rate (bpm); None or 0: not known yet
    eda_level_us : float or None — latest EDA level (µS); None or 0: not known yet
    streams : tuple of StreamFigures — the bio streams, in display order
    has_camera : bool — the session records video
    camera_lost_at_s : float or None — session time the camera was lost at (s), None if not lost
    nominal_fps : float — the camera's nominal frame rate (frames/s)
    achieved_fps : float — frames per second stored so far (frames/s)
    frames_dropped : int — video frames dropped so far
    frames_stored : int — video frames stored so far
    disk_minutes : float — recording time the free disk space holds (min)
    storage_error : str or None — why data could not be stored, None while all is stored
    link : LinkFigures or None — the sensor link (Bluetooth sensors); None: judged by the data
        rate alone
    """

    elapsed_s: float
    heart_rate_bpm: float | None = None
    eda_level_us: float | None = None
    streams: tuple[StreamFigures, ...] = field(default_factory=tuple)
    has_camera: bool = False
    camera_lost_at_s: float | None = None
    nominal_fps: float = 0.0
    achieved_fps: float = 0.0
    frames_dropped: int = 0
    frames_stored: int = 0
    disk_minutes: float = 0.0
    storage_error: str | None = None
    link: LinkFigures | None = None


@dataclass(frozen=True)
class LiveStatus:
    """What the recording screen shows, decided from :class:`LiveFigures`.

    Parameters
    ----------
    clock : str — elapsed time, e.g. ``"12:05"``
    heart_rate : str — e.g. ``"72 bpm"`` or ``"– bpm"``
    eda_level : str — e.g. ``"4.20 µS"`` or ``"– µS"``
    sensor : Light — the sensor light (data rate, and the link where :attr:`LiveFigures.link`
        is given)
    signal : Light — lost samples
    camera : Light — frame rate and dropped frames, or the lost camera
    disk : Light — minutes of disk space left, or the storage error
    rates : tuple of str — one line per stream, then the video's
    """

    clock: str
    heart_rate: str
    eda_level: str
    sensor: Light
    signal: Light
    camera: Light
    disk: Light
    rates: tuple[str, ...]


def sensor_light(elapsed_s: float, streams: tuple[StreamFigures, ...]) -> Light:
    """The sensor light from the data rates (before the link is considered).

    Parameters
    ----------
    elapsed_s : float — time since the recording started (s)
    streams : tuple of StreamFigures — the bio streams, in display order

    Returns
    -------
    Light — streams are taken in order: red under :data:`RATE_RED` of the nominal rate, amber
        under :data:`RATE_AMBER`, each after :data:`RATE_SETTLE_S` only; a slow stream sets the
        level (a later red or amber one replaces it, a later good one keeps it) and the text is
        the last stream's rate (``"250 Hz"``, or ``"no data"`` when red); green with no text
        when there are no streams
    """
    light = Light("green", "")
    for ss in streams:
        rate_text = f"{ss.achieved_rate_hz:,.0f} Hz"
        judged = elapsed_s > RATE_SETTLE_S
        if judged and ss.achieved_rate_hz < RATE_RED * ss.nominal_rate_hz:
            light = Light("red", "no data")
        elif judged and ss.achieved_rate_hz < RATE_AMBER * ss.nominal_rate_hz:
            light = Light("amber", rate_text)
        else:
            light = Light(light.level, rate_text)
    return light


def link_light(by_rate: Light, link: LinkFigures) -> Light:
    """The sensor light of a Bluetooth sensor: its link's state, reconnections and battery.

    Parameters
    ----------
    by_rate : Light — the light from the data rates (:func:`sensor_light`)
    link : LinkFigures — the link's state, reconnections, battery and time down

    Returns
    -------
    Light — while the link is down (:data:`LINK_DOWN_STATES`): amber ``"link lost —
        reconnecting (12 s)"``, red from :data:`LINK_DOWN_RED_S`; else ``by_rate``. Then
        ``"2 reconnects"`` and ``"battery 50 %"`` are added (joined with ``" · "``); a battery
        at or under :data:`LOW_BATTERY_PCT` % turns green to amber.
    """
    parts = []
    if link.state in LINK_DOWN_STATES:
        t = link.down_s
        head = "link lost — reconnecting" + (f" ({t:.0f} s)" if t is not None else "")
        level = "amber" if t is None or t < LINK_DOWN_RED_S else "red"
        parts.append(head)
    else:
        level = by_rate.level
        parts.append(by_rate.text)
    n = link.reconnects
    if n:
        parts.append(f"{n} reconnect{'s' if n != 1 else ''}")
    battery = link.battery_percent
    if battery is not None:
        parts.append(f"battery {battery} %")
        if battery <= LOW_BATTERY_PCT and level == "green":
            level = "amber"
    return Light(level, " · ".join(parts))


def signal_light(streams: tuple[StreamFigures, ...]) -> Light:
    """The signal light: lost samples.

    Parameters
    ----------
    streams : tuple of StreamFigures — the bio streams, in display order

    Returns
    -------
    Light — amber ``"12 samples lost"`` (the last stream with losses) when any were lost, else
        green ``"no loss"``
    """
    lossy = [ss for ss in streams if ss.lost]
    if lossy:
        return Light("amber", f"{lossy[-1].lost} samples lost")
    return Light("green", "no loss")


def camera_light(figures: LiveFigures) -> Light:
    """The camera light.

    Parameters
    ----------
    figures : LiveFigures — uses the camera's figures and ``elapsed_s``

    Returns
    -------
    Light — grey without a camera; red once it was lost (``"lost at 12:05 — …"``); else amber
        under :data:`FPS_AMBER` of the nominal frame rate (after :data:`RATE_SETTLE_S`), green
        otherwise, with ``"29.8 fps · 3 dropped"``
    """
    if not figures.has_camera:
        return Light("grey", "no camera: signals only")
    if figures.camera_lost_at_s is not None:
        at = format_clock(figures.camera_lost_at_s)
        return Light("red", f"lost at {at} — video stopped, signals go on")
    ok = (
        figures.achieved_fps >= FPS_AMBER * figures.nominal_fps or figures.elapsed_s < RATE_SETTLE_S
    )
    return Light(
        "green" if ok else "amber",
        f"{figures.achieved_fps:.1f} fps · {figures.frames_dropped} dropped",
    )


def disk_light(disk_minutes: float, storage_error: str | None = None) -> Light:
    """The disk light.

    Parameters
    ----------
    disk_minutes : float — recording time the free disk space holds (min)
    storage_error : str or None — why data could not be stored

    Returns
    -------
    Light — red with the error when storing failed; else ``"512 min available"``, green over
        :data:`DISK_GREEN_MIN` min, amber over :data:`DISK_AMBER_MIN`, red otherwise
    """
    if storage_error:
        return Light("red", storage_error)
    level = (
        "green"
        if disk_minutes > DISK_GREEN_MIN
        else "amber"
        if disk_minutes > DISK_AMBER_MIN
        else "red"
    )
    return Light(level, f"{disk_time_text(disk_minutes)} available")


def write_rate(bytes_written: int, elapsed_s: float) -> float | None:
    """The session's measured write rate, once there is enough of the session to measure it.

    Parameters
    ----------
    bytes_written : int — bytes stored so far
    elapsed_s : float — time since the recording started (s)

    Returns
    -------
    float or None — bytes per second, None for the first :data:`WRITE_RATE_SETTLE_S` (the disk
        estimate then uses the expected rate)
    """
    return bytes_written / elapsed_s if elapsed_s > WRITE_RATE_SETTLE_S else None


def live_status(figures: LiveFigures) -> LiveStatus:
    """Everything the recording screen shows about the session, from its live figures.

    Parameters
    ----------
    figures : LiveFigures — what the screen read from the session just now

    Returns
    -------
    LiveStatus — the clock, heart rate and EDA texts, a :class:`Light` each for sensor, signal,
        camera and disk (see the module's rules), and the per-stream rate lines
    """
    f = figures
    sensor = sensor_light(f.elapsed_s, f.streams)
    if f.link is not None:
        sensor = link_light(sensor, f.link)
    rates = [
        f"{ss.name}: {ss.achieved_rate_hz:,.0f} of {ss.nominal_rate_hz:,.0f} Hz · lost {ss.lost} "
        f"samples in {ss.gaps} gaps"
        for ss in f.streams
    ]
    rates.append(f"video: {f.frames_stored} frames stored")
    return LiveStatus(
        clock=format_clock(f.elapsed_s),
        heart_rate=f"{f.heart_rate_bpm:.0f} bpm" if f.heart_rate_bpm else "– bpm",
        eda_level=f"{f.eda_level_us:.2f} µS" if f.eda_level_us else "– µS",
        sensor=sensor,
        signal=signal_light(f.streams),
        camera=camera_light(f),
        disk=disk_light(f.disk_minutes, f.storage_error),
        rates=tuple(rates),
    )
