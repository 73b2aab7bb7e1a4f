"""The recording screen's live traffic lights: each rule and its thresholds."""

from __future__ import annotations

import pytest

from core.quality.live import (
    Light,
    LinkFigures,
    LiveFigures,
    StreamFigures,
    camera_light,
    disk_light,
    link_light,
    live_status,
    sensor_light,
    signal_light,
    write_rate,
)


def _ecg(achieved_rate_hz: float, lost: int = 0, gaps: int = 0) -> StreamFigures:
    return StreamFigures("ECG", achieved_rate_hz, 250.0, lost, gaps)


# ---- sensor: the data rate ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("achieved_rate_hz", "level", "text"),
    [
        (250.0, "green", "250 Hz"),
        (237.5, "green", "238 Hz"),  # exactly 95 %: not below it
        (237.4, "amber", "237 Hz"),
        (125.0, "amber", "125 Hz"),  # exactly 50 %: amber, not red
        (124.9, "red", "no data"),
        (0.0, "red", "no data"),
    ],
)
def test_sensor_light_by_rate(achieved_rate_hz: float, level: str, text: str) -> None:
    assert sensor_light(10.0, (_ecg(achieved_rate_hz),)) == Light(level, text)


@pytest.mark.parametrize("elapsed", [0.0, 2.9, 3.0])
def test_sensor_rate_is_not_judged_in_the_first_3_s(elapsed: float) -> None:
    assert sensor_light(elapsed, (_ecg(0.0),)) == Light("green", "0 Hz")
    assert sensor_light(3.01, (_ecg(0.0),)).level == "red"


def test_sensor_light_over_several_streams() -> None:
    eda = StreamFigures("EDA", 32.0, 32.0)
    # a slow stream sets the level; a later good one keeps it but shows its own rate
    assert sensor_light(10.0, (_ecg(0.0), eda)) == Light("red", "32 Hz")
    assert sensor_light(10.0, (_ecg(200.0), eda)) == Light("amber", "32 Hz")
    # a later slow stream replaces the level
    assert sensor_light(10.0, (_ecg(0.0), StreamFigures("EDA", 20.0, 32.0))) == Light(
        "amber", "20 Hz"
    )
    assert sensor_light(10.0, (_ecg(200.0), StreamFigures("EDA", 1.0, 32.0))) == Light(
        "red", "no data"
    )
    assert sensor_light(10.0, ()) == Light("green", "")


def test_sensor_rate_has_thousands_separators() -> None:
    assert sensor_light(10.0, (StreamFigures("ECG", 1000.0, 1000.0),)).text == "1,000 Hz"


# ---- sensor: the Bluetooth link -----------------------------------------------------------


def test_link_connected_keeps_the_rate_light() -> None:
    by_rate = Light("amber", "200 Hz")
    assert link_light(by_rate, LinkFigures("connected")) == by_rate


@pytest.mark.parametrize(
    ("down_s", "level", "text"),
    [
        (None, "amber", "link lost — reconnecting"),
        (0.0, "amber", "link lost — reconnecting (0 s)"),
        (29.9, "amber", "link lost — reconnecting (30 s)"),
        (30.0, "red", "link lost — reconnecting (30 s)"),
        (95.0, "red", "link lost — reconnecting (95 s)"),
    ],
)
@pytest.mark.parametrize("state", ["reconnecting", "disconnected", "connecting"])
def test_link_down(state: str, down_s: float | None, level: str, text: str) -> None:
    got = link_light(Light("green", "250 Hz"), LinkFigures(state, down_s=down_s))
    assert got == Light(level, text)


def test_link_reconnects_and_battery() -> None:
    by_rate = Light("green", "250 Hz")
    assert (
        link_light(by_rate, LinkFigures("connected", reconnects=1)).text == "250 Hz · 1 reconnect"
    )
    got = link_light(by_rate, LinkFigures("connected", reconnects=2, battery_percent=55))
    assert got == Light("green", "250 Hz · 2 reconnects · battery 55 %")


@pytest.mark.parametrize(
    ("battery", "by_level", "level"),
    [
        (11, "green", "green"),
        (10, "green", "amber"),
        (0, "green", "amber"),
        (5, "red", "red"),  # a low battery never makes a light better
        (5, "amber", "amber"),
    ],
)
def test_link_low_battery(battery: int, by_level: str, level: str) -> None:
    got = link_light(Light(by_level, "x"), LinkFigures("connected", battery_percent=battery))
    assert got == Light(level, f"x · battery {battery} %")


def test_live_status_applies_the_link_when_given() -> None:
    f = LiveFigures(10.0, streams=(_ecg(250.0),), link=LinkFigures("reconnecting", down_s=40.0))
    assert live_status(f).sensor == Light("red", "link lost — reconnecting (40 s)")


# ---- signal: lost samples -----------------------------------------------------------------


def test_signal_light() -> None:
    assert signal_light((_ecg(250.0),)) == Light("green", "no loss")
    assert signal_light(()) == Light("green", "no loss")
    assert signal_light((_ecg(250.0, lost=1, gaps=1),)) == Light("amber", "1 samples lost")
    eda_lossy = StreamFigures("EDA", 32.0, 32.0, lost=7, gaps=2)
    assert signal_light((_ecg(250.0, lost=40), eda_lossy)).text == "7 samples lost"
    assert signal_light((_ecg(250.0, lost=40), StreamFigures("EDA", 32.0, 32.0))).text == (
        "40 samples lost"
    )


# ---- camera -------------------------------------------------------------------------------


def _cam(elapsed: float = 10.0, fps: float = 30.0, lost_at: float | None = None) -> LiveFigures:
    return LiveFigures(
        elapsed,
        has_camera=True,
        camera_lost_at_s=lost_at,
        nominal_fps=30.0,
        achieved_fps=fps,
        frames_dropped=3,
    )


@pytest.mark.parametrize(
    ("fps", "level"), [(30.0, "green"), (27.0, "green"), (26.9, "amber"), (0.0, "amber")]
)
def test_camera_frame_rate(fps: float, level: str) -> None:
    assert camera_light(_cam(fps=fps)) == Light(level, f"{fps:.1f} fps · 3 dropped")


@pytest.mark.parametrize(("elapsed", "level"), [(0.0, "green"), (2.99, "green"), (3.0, "amber")])
def test_camera_rate_is_not_judged_in_the_first_3_s(elapsed: float, level: str) -> None:
    assert camera_light(_cam(elapsed, fps=0.0)).level == level


def test_camera_absent_or_lost() -> None:
    assert camera_light(LiveFigures(10.0)) == Light("grey", "no camera: signals only")
    assert camera_light(_cam(lost_at=725.4)) == Light(
        "red", "lost at 12:05 — video stopped, signals go on"
    )
    assert camera_light(_cam(lost_at=3725.0)).text.startswith("lost at 1:02:05 ")


# ---- disk ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "level", "text"),
    [
        (512.0, "green", "510 min available"),  # two significant figures, as on the set-up
        (99.4, "green", "99 min available"),
        (30.01, "green", "30 min available"),
        (30.0, "amber", "30 min available"),
        (10.01, "amber", "10 min available"),
        (10.0, "red", "10 min available"),
        (0.0, "red", "0 min available"),
        (12345.0, "green", "12,000 min (200 h) available"),
    ],
)
def test_disk_light(minutes: float, level: str, text: str) -> None:
    assert disk_light(minutes) == Light(level, text)


def test_disk_error_wins() -> None:
    assert disk_light(900.0, "disk full") == Light("red", "disk full")
    assert disk_light(900.0, "") == Light("green", "900 min (15 h) available")


def test_write_rate_after_5_s() -> None:
    assert write_rate(1_000_000, 5.0) is None
    assert write_rate(1_000_000, 0.0) is None
    assert write_rate(1_000_000, 10.0) == pytest.approx(100_000.0)


# ---- the whole status ---------------------------------------------------------------------


def test_live_status_texts() -> None:
    f = LiveFigures(
        elapsed_s=725.4,
        heart_rate_bpm=72.4,
        eda_level_us=4.2,
        streams=(_ecg(249.6, lost=12, gaps=2), StreamFigures("EDA", 32.0, 32.0)),
        has_camera=True,
        nominal_fps=30.0,
        achieved_fps=29.84,
        frames_dropped=3,
        frames_stored=21_000,
        disk_minutes=512.0,
    )
    s = live_status(f)
    assert (s.clock, s.heart_rate, s.eda_level) == ("12:05", "72 bpm", "4.20 µS")
    assert s.sensor == Light("green", "32 Hz")
    assert s.signal == Light("amber", "12 samples lost")
    assert s.camera == Light("green", "29.8 fps · 3 dropped")
    assert s.disk == Light("green", "510 min available")
    assert s.rates == (
        "ECG: 250 of 250 Hz · lost 12 samples in 2 gaps",
        "EDA: 32 of 32 Hz · lost 0 samples in 0 gaps",
        "video: 21000 frames stored",
    )


@pytest.mark.parametrize("value", [None, 0.0])
def test_live_status_unknown_heart_rate_and_eda(value: float | None) -> None:
    s = live_status(LiveFigures(0.0, heart_rate_bpm=value, eda_level_us=value))
    assert (s.clock, s.heart_rate, s.eda_level) == ("0:00", "– bpm", "– µS")
    assert s.rates == ("video: 0 frames stored",)
