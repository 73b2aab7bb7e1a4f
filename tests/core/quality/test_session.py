"""The data-quality summary of a real (simulated) recording with injected device events."""

from __future__ import annotations

import json

import pytest

from core.quality.session import assess_quality, fmt_pct, quality_summary
from core.quality.text import NOT_RECORDED, link_rows, link_text, packets_text, video_rows
from core.recording import open_session
from tests.core.quality.quality_data import (  # noqa: F401 (fixtures)
    STATS,
    record_with_faults,
    recorded_fixture,
    store_fixture,
)

OLD_STREAM_KEYS = {"expected", "received", "lost", "lost_pct", "gaps", "duration_s"}
OLD_VIDEO_KEYS = {"frames", "dropped", "corrupt", "duration_s", "fps"}


def test_summary_of_a_session_with_faults(store) -> None:  # type: ignore[no-untyped-def]
    cat, root, (rec, _) = store
    folder = root / rec.folder
    s = quality_summary(folder)
    json.dumps(s)  # JSON-able as it is
    assert s["simulated"] is True and s["status"] == "finalised" and s["duration_s"] == 20.0

    # signals: packets 60–99 lost = samples 2400–3999, one gap of 2.0 s
    (st,) = s["signals"]["streams"]
    data = open_session(folder).streams["bio"]
    expected = data.end_counter - data.first_counter
    assert st["label"] == "ECG + EDA" and st["rate_hz"] == 800.0
    assert (st["expected"], st["received"], st["lost"]) == (expected, data.n_received, 1600)
    assert st["received"] + st["lost"] == st["expected"]
    assert st["lost_pct"] == round(100 * 1600 / expected, 3)
    assert (st["gaps"], st["longest_gap_s"]) == (1, 2.0)
    assert st["segments"] == 2  # the gap splits the clock fit in two
    assert st["drift_ppm"] == pytest.approx(0.0, abs=5.0)  # the simulator has no drift
    assert st["achieved_rate_hz"] == pytest.approx(data.n_received / (expected / 800.0), rel=1e-4)
    assert 0.0 <= st["latency_median_ms"] <= st["latency_p95_ms"] < 150.0
    assert st["rejected_batches"] == 0 and st["samples_not_stored"] == 0
    lost_text = (
        f"{fmt_pct(100 * 1600 / expected)} of ECG + EDA samples lost in 1 gap (longest 2.0 s)"
    )
    assert s["signals"]["verdict"] == "poor" and s["signals"]["reasons"] == [lost_text]

    # the link: lost at 3.0 s for 2.0 s, and at 16.0 s until the end (20.0 s)
    link = s["link"]
    assert link["recorded"] and link["sensor"] == "Simulated ECG+EDA (800 Hz)"
    assert (link["disconnects"], link["reconnects"]) == (2, 1)
    assert link["outages"] == [
        {"start_s": 3.0, "duration_s": 2.0, "reconnected": True},
        {"start_s": 16.0, "duration_s": 4.0, "reconnected": False},
    ]
    assert link["outage_total_s"] == 6.0
    assert (link["battery_start_pct"], link["battery_end_pct"]) == (80, 78)
    assert link["address"] == "E8:31:CD:00:00:01" and link["packets"] == STATS
    assert link["packets_rejected"] == 6  # 3 bad CRC + 2 malformed + 1 duplicate
    assert link["verdict"] == "poor"
    assert link["reasons"] == [
        "sensor link lost twice, 6.0 s in all",
        "sensor link lost at 0:16.0 and not back before the end (4.0 s without signal)",
        "5 packets rejected (3 with a bad CRC, 2 malformed)",
    ]
    assert link_text(link) == (
        "lost twice, 6.0 s in all (0:03.0 for 2.0 s; 0:16.0 for 4.0 s, not back); 1 reconnection"
    )
    assert packets_text(link) == (
        "3 with a bad CRC, 2 malformed, 1 duplicated, 0 out of order (of 400 received)"
    )

    # video: 201 frames taken, 2 dropped; camera lost at 19.5 s
    v = s["video"]
    assert v["camera"] == "Simulated camera (synthetic face)" and v["simulated"]
    assert v["negotiated"] == {"width": 160, "height": 120, "fps": 10.0}
    assert (v["frames_stored"], v["frames_dropped"], v["frames_rejected"]) == (199, 2, 0)
    assert v["dropped_pct"] == round(100 * 2 / 201, 3)
    assert v["lost_at_s"] == 19.5 and v["measured_fps"] is None
    assert v["stored_fps"] == pytest.approx(9.9, abs=0.06)
    assert v["verdict"] == "check"
    assert v["reasons"] == ["camera lost at 0:19.5; no video for the last 0.50 s"]
    rows = dict(video_rows(v))
    assert rows["Camera lost"] == "at 0:19.5" and rows["Frames dropped"] == "2 (0.99 %)"
    assert rows["Negotiated"] == "160 × 120 pixels at 10 frames/s"

    # overall: the worst part, every reason, and the device error
    assert s["verdict"] == "poor"
    assert s["errors"] == {"count": 1, "last": "decoder: ValueError: bad frame"}
    assert s["reasons"][-1] == "1 device error (last: decoder: ValueError: bad frame)"


def test_finalise_stores_the_link_beside_the_old_keys(store) -> None:  # type: ignore[no-untyped-def]
    cat, root, (rec, _) = store
    q = cat.get_session(rec.id).quality
    assert set(q["streams"]["bio"]) >= OLD_STREAM_KEYS and set(q["video"]) >= OLD_VIDEO_KEYS
    assert q["duration_s"] == 20.0 and q["streams"]["bio"]["lost"] == 1600
    assert q["link"]["outages"][1] == {"start_s": 16.0, "duration_s": 4.0, "reconnected": False}
    assert q["link"]["packets"]["crc_errors"] == 3
    assert q["camera"] == {"lost_at_s": 19.5, "measured_fps": None}
    assert q["recorder"]["frames_rejected"] == 0
    # the catalog's copy alone gives the same verdicts (a list of sessions needs no folder)
    manifest = json.loads((root / rec.folder / "session.json").read_text())
    from_catalog = assess_quality(q, manifest["devices"], rec.simulated)
    assert from_catalog["reasons"] == quality_summary(root / rec.folder)["reasons"]


def test_without_device_events_the_link_is_not_recorded(store) -> None:  # type: ignore[no-untyped-def]
    _, root, (_, rec) = store
    s = quality_summary(root / rec.folder)
    assert s["signals"]["streams"][0]["lost"] == 1600  # the same data…
    link = s["link"]
    assert link["present"] and not link["recorded"] and link["verdict"] is None
    assert link["findings"] == [
        {"level": None, "text": "simulated sensor: it has no radio link to report"}
    ]
    rows = dict(link_rows(link))
    assert rows["Disconnections"] == NOT_RECORDED and rows["Battery"] == NOT_RECORDED
    assert rows["Packets with a bad CRC"] == NOT_RECORDED
    assert s["video"]["lost_at_s"] is None and dict(video_rows(s["video"]))["Camera lost"] == "no"


def test_an_old_session_reads_as_not_recorded(store) -> None:  # type: ignore[no-untyped-def]
    """A folder from before the journal and the new figures: no journal, the old quality keys."""
    _, root, (_, rec) = store
    folder = root / rec.folder
    (folder / "journal.jsonl").unlink()
    (folder / "integrity.json").unlink()  # nor checksums
    manifest = json.loads((folder / "session.json").read_text())
    del manifest["integrity"]
    old = manifest["quality"]
    manifest["quality"] = {
        "streams": {k: {x: v[x] for x in OLD_STREAM_KEYS} for k, v in old["streams"].items()},
        "video": {x: old["video"][x] for x in OLD_VIDEO_KEYS},
        "duration_s": old["duration_s"],
    }
    (folder / "session.json").write_text(json.dumps(manifest))
    s = quality_summary(folder)
    assert not s["link"]["recorded"] and s["errors"] is None
    assert not s["recorder_recorded"] and s["signals"]["streams"][0]["rejected_batches"] is None
    assert dict(video_rows(s["video"]))["Camera lost"] == NOT_RECORDED
    # and from the old stored figures alone
    a = assess_quality(manifest["quality"], manifest["devices"], True)
    assert a["link"]["verdict"] is None and a["signals"]["verdict"] == "poor"
    assert a["signals"]["streams"][0]["drift_ppm"] is None
    assert a["video"]["verdict"] == "good"


def test_a_real_camera_is_judged_by_what_it_negotiated_and_delivered() -> None:
    """OpenCVCamera's description: asked for 60 frames/s, the driver agreed to 30, 24 arrived."""
    camera = {
        "name": "Camera 0",
        "simulated": False,
        "requested": {"fps": 60.0, "width": 640, "height": 480},
        "negotiated": {"width": 640, "height": 480, "fps_reported": 30.0},
        "measured_fps": None,
    }
    quality = {
        "streams": {},
        "video": {"frames": 2400, "dropped": 0, "corrupt": 0, "duration_s": 100.0, "fps": 24.0},
        "duration_s": 100.0,
        "camera": {"lost_at_s": None, "measured_fps": None},
    }
    v = assess_quality(quality, {"sensor": None, "camera": camera})["video"]
    assert v["requested"] == {"fps": 60.0, "width": 640, "height": 480}
    assert v["negotiated"] == {"width": 640, "height": 480, "fps": 30.0}
    assert v["verdict"] == "check"
    assert v["reasons"] == ["camera delivered 24.0 frames/s of the 30 expected"]
    rows = dict(video_rows(v))
    assert rows["Asked for"] == "640 × 480 pixels at 60 frames/s"
    assert rows["Measured by the camera"] == NOT_RECORDED
    # not negotiated before the session started: what was asked for is no negotiated format
    v = assess_quality(quality, {"camera": {**camera, "negotiated": {}}})["video"]
    assert v["negotiated"] is None
    # a camera event that measured the rate is used before the stored frames' rate
    quality["camera"] = {"lost_at_s": None, "measured_fps": 29.5}
    v = assess_quality(quality, {"camera": camera})["video"]
    assert v["measured_fps"] == 29.5 and v["verdict"] == "good"
