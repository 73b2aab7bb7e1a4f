"""The TheraScope open GATT profile v1: its document and the central-side driver (no bleak)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from core.types import SampleBatch, StreamInfo
from devices.ble import open_profile as op
from devices.ble.profiles import PROFILES
from devices.protocol import descriptor_for, encode_data, encode_descriptor

SPEC = Path(__file__).resolve().parents[3] / "resources" / "protocol" / "open-profile-v1.md"
INFO = StreamInfo(0, "bio", ("ECG", "EDA"), ("mV", "uS"), 800.0)
DESC = descriptor_for(INFO, (0.001, 0.001), (0.0, 32.768))
MS = 1_000_000


def test_document_matches_the_implementation() -> None:
    text = SPEC.read_text()
    for uuid in (op.OPEN_SERVICE, op.OPEN_STREAM, op.OPEN_CONTROL, op.OPEN_STATUS):
        assert uuid in text
    assert (
        op.OPEN_SERVICE
        in next(p for p in PROFILES if p.key == op.OpenProfileDriver.profile).service_uuids
    )
    examples = dict(
        re.findall(
            r"(START|SET_RATE of stream 0 to 800 Hz|SET_CHANNELS of\nstream 0 to channels 0 and 1) = `([0-9a-f ]+)`",
            text,
        )
    )
    assert bytes.fromhex(examples["START"]) == op.cmd_start()
    assert bytes.fromhex(examples["SET_RATE of stream 0 to 800 Hz"]) == op.cmd_set_rate(0, 800.0)
    key = "SET_CHANNELS of\nstream 0 to channels 0 and 1"
    assert bytes.fromhex(examples[key]) == op.cmd_set_channels(0, 0b11)
    status = re.search(r"one stream: `([0-9a-f ]+)`", text)
    assert status is not None
    assert op.parse_status(bytes.fromhex(status.group(1))) == op.Status(1, True, 0x1234ABCD, 1)
    assert "7.5–15 ms" in text and "247" in text


def _data(counter: int, g0: int, n: int = 40) -> bytes:
    g = np.arange(g0, g0 + n)
    raw = np.column_stack([g % 65536 - 32768, np.full(n, -32768)])
    return encode_data(0, counter, raw)


def _g(b: SampleBatch) -> np.ndarray:
    return np.rint(b.samples[:, 0] / 0.001).astype(np.int64) + 32768


def test_driver_learns_streams_then_decodes_with_exact_counters() -> None:
    d = op.OpenProfileDriver(rates_hz={0: 800.0})
    assert [o.kind for o in d.connect_ops()][:2] == ["subscribe", "read"]
    assert not d.ready()
    d.receive(op.OPEN_STATUS, op.Status(1, False, 7, 1).encode(), 0)
    d.receive(op.OPEN_STREAM, encode_descriptor(DESC), 0)
    assert d.ready() and d.streams == [INFO]
    first = d.start_ops()
    assert [o.data for o in first] == [op.cmd_set_rate(0, 800.0), op.cmd_start()]
    assert [o.data for o in d.start_ops()] == [op.cmd_start()]  # no configuration once started
    out: list[SampleBatch] = []
    start = (1 << 32) - 100  # the 32-bit counter wraps
    for k in range(20):
        if k in (5, 6):
            continue  # lost
        out += d.receive(op.OPEN_STREAM, _data(start + 40 * k, 40 * k), int(1e12 + k * 50 * MS))
    out += d.receive(op.OPEN_STREAM, _data(start + 40 * 19, 40 * 19), int(1e12 + 20 * 50 * MS))
    out += d.receive(op.OPEN_STREAM, _data(start, 0)[:-1], int(1e12 + 20 * 50 * MS))
    assert all((_g(b) == np.arange(b.n) + b.first_counter - start).all() for b in out)
    s = d.stats()
    assert (s["lost_samples"], s["duplicates"], s["malformed"], s["samples"]) == (80, 1, 1, 720)


def test_a_new_counter_epoch_is_placed_on_the_grid_by_host_time() -> None:
    d = op.OpenProfileDriver(hold_s=0.2)
    d.receive(op.OPEN_STATUS, op.Status(1, False, 7, 1).encode(), 0)
    d.receive(op.OPEN_STREAM, encode_descriptor(DESC), 0)
    t0 = 1e12
    out: list[SampleBatch] = []
    for k in range(40):  # 2 s at 800 Hz, 3 ms latency
        out += d.receive(
            op.OPEN_STREAM, _data(40 * k, 40 * k), int(t0 + ((40 * k + 39) / 800 + 0.003) * 1e9)
        )
    # the sensor rebooted: new epoch, counters from 0 again; its sample 0 is true sample 2400
    d.receive(op.OPEN_STATUS, op.Status(1, False, 99, 1).encode(), int(t0 + 2.9e9))
    d.receive(op.OPEN_STREAM, encode_descriptor(DESC), int(t0 + 2.9e9))
    for k in range(30):
        g0 = 2400 + 40 * k
        t = t0 + ((g0 + 39) / 800 + 0.003 + 0.002 * (k % 2)) * 1e9
        out += d.receive(op.OPEN_STREAM, _data(40 * k, g0), int(t))
    out += d.flush()
    assert all((_g(b) == np.arange(b.n) + b.first_counter).all() for b in out)
    assert d.stats()["timebase_resets"] == 1 and d.stats()["lost_samples"] == 800


def test_a_rebooted_peripheral_is_configured_again_and_other_rates_are_refused() -> None:
    # the session records 800 Hz; the peripheral's default after a power cycle is 250 Hz
    d = op.OpenProfileDriver(rates_hz={0: 800.0}, hold_s=0.2)
    d250 = descriptor_for(StreamInfo(0, "bio", ("ECG", "EDA"), ("mV", "uS"), 250.0), (0.001, 0.001))
    d.receive(op.OPEN_STATUS, op.Status(1, False, 7, 1).encode(), 0)
    d.receive(op.OPEN_STREAM, encode_descriptor(DESC), 0)
    assert [o.data for o in d.start_ops()] == [op.cmd_set_rate(0, 800.0), op.cmd_start()]
    t0 = 1e12
    out: list[SampleBatch] = []
    for k in range(40):  # 2 s at 800 Hz, 3 ms latency
        t = t0 + ((40 * k + 39) / 800 + 0.003) * 1e9
        out += d.receive(op.OPEN_STREAM, _data(40 * k, 40 * k), int(t))
    d.take_events()
    # the link drops, the peripheral reboots; on reconnection the central reads the status and
    # asks for the descriptors (connect_ops): the default configuration is declared
    d.link_lost(int(t0 + 2.1e9))
    out += d.flush()
    d.receive(op.OPEN_STATUS, op.Status(1, False, 99, 1).encode(), int(t0 + 2.9e9))
    d.receive(op.OPEN_STREAM, encode_descriptor(d250), int(t0 + 2.9e9))
    # the configuration is sent again before START (the rebooted peripheral is idle)
    assert [o.data for o in d.start_ops()] == [op.cmd_set_rate(0, 800.0), op.cmd_start()]
    assert [o.data for o in d.start_ops()] == [op.cmd_start()]
    events = d.take_events()
    assert ("timebase_reset", {"reason": "counter epoch changed"}) in events
    changed = [e for k, e in events if k == "config_changed"]
    assert changed and changed[0]["refused"] and changed[0]["rate"] == 250.0
    assert d.streams == [INFO]  # the session's stream stays as it was
    # a peripheral that ignored it streams 250 Hz data: refused, counted, not stored
    for k in range(5):
        t = t0 + (2.95 + 0.05 * k) * 1e9
        out += d.receive(op.OPEN_STREAM, _data(40 * k, 0), int(t))
    assert d.stats()["rejected_config"] == 200 and all(b.end_counter <= 1600 for b in out)
    # once it declares 800 Hz again, its data are stored, placed by host time (true sample 2560)
    d.receive(op.OPEN_STREAM, encode_descriptor(DESC), int(t0 + 3.2e9))
    assert [e["refused"] for k, e in d.take_events() if k == "config_changed"] == [False]
    for k in range(30):
        g0 = 2560 + 40 * k
        t = t0 + ((g0 + 39) / 800 + 0.003 + 0.002 * (k % 2)) * 1e9
        out += d.receive(op.OPEN_STREAM, _data(200 + 40 * k, g0), int(t))
    out += d.flush()
    assert all((_g(b) == np.arange(b.n) + b.first_counter).all() for b in out)
    s = d.stats()
    assert sum(b.n for b in out) == 1600 + 1200 and s["lost_samples"] == 960
    assert (s["rejected_config"], s["timebase_resets"], s["config_mismatch"]) == (200, 1, 0)


def test_streams_and_stats_are_consistent_snapshots_while_the_loop_decodes() -> None:
    # the GUI thread reads while the BLE loop decodes: across epoch changes (the decoder is
    # replaced, its figures carried over) the figures it reads never go back
    import sys
    import threading

    d = op.OpenProfileDriver()
    d.receive(op.OPEN_STATUS, op.Status(1, False, 0, 1).encode(), 0)
    d.receive(op.OPEN_STREAM, encode_descriptor(DESC), 0)
    seen: list[int] = []
    streams_seen: list[list[StreamInfo]] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.append(d.stats()["malformed"])
            streams_seen.append(d.streams)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    th = threading.Thread(target=reader)
    th.start()
    try:
        for epoch in range(1, 3000):
            d.receive(op.OPEN_STREAM, b"\x01", 0)  # malformed: counted by the decoder
            d.receive(op.OPEN_STATUS, op.Status(1, False, epoch, 1).encode(), 0)
    finally:
        done.set()
        th.join()
        sys.setswitchinterval(old)
    assert d.stats()["malformed"] == 2999
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False)), "figures went back"
    assert all(x == [INFO] for x in streams_seen)
