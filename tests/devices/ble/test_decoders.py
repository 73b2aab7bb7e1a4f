"""BLE drivers as pure decoders: hand-made frames in, samples, counters and counts out (no bleak)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from core.types import SampleBatch
from devices.ble import bitalino as bit
from devices.ble import polar
from devices.ble.driver import BATTERY_LEVEL, uuid16
from devices.ble.profiles import identify, make_driver

MS = 1_000_000


# ---- PLUX BITalino -------------------------------------------------------------------------------
def test_bitalino_commands_and_frame_sizes() -> None:
    assert bit.cmd_set_rate(1000) == b"\xc3" and bit.cmd_set_rate(1) == b"\x03"
    assert bit.cmd_start([2, 3]) == bytes([0x01 | (0b000110 << 2)]) == b"\x19"
    assert bit.cmd_start(range(1, 7)) == b"\xfd"
    assert bit.CMD_STOP == b"\x00"
    assert [bit.frame_size(n) for n in range(1, 7)] == [3, 4, 6, 7, 8, 8]
    with pytest.raises(ValueError):
        bit.cmd_set_rate(500)
    with pytest.raises(ValueError):
        bit.cmd_start([7])


def test_crc4_of_known_frames() -> None:
    # all-zero frame, sequence 5: remainder (x² + 1)·x⁴ mod (x⁴ + x + 1) = x³ + x² + x + 1 = 0xF
    assert bit.crc4(bytes([0x00, 0x00, 0x00, 0x50])) == 0xF
    # A1 = 1023, A2 = 341, digital 1010, sequence 9, laid out by hand from the published layout:
    # d[-4] = A2 low byte, d[-3] = A1 low 6 bits << 2 | A2 high 2 bits, d[-2] = I/O | A1 high 4
    frame = bytes(
        [341 & 0xFF, ((1023 & 0x3F) << 2) | (341 >> 8), (0b1010 << 4) | (1023 >> 6), 0x97]
    )
    assert frame == bytes.fromhex("55 fd af 97")
    assert bit.crc4(frame) == bit.crc4_bitwise(frame) == 0x7
    assert bit.decode_frame(frame, 2) == (9, True, [1023, 341])
    assert bit.encode_frame(9, [1023, 341], digital=0b1010) == frame
    # every single-bit error is caught (x⁴ + x + 1 has more than one term)
    for i in range(32):
        bad = bytearray(frame)
        bad[i // 8] ^= 1 << (i % 8)
        if i // 8 == 3 and i % 8 >= 4:
            continue  # a flipped sequence bit changes what the CRC covers too; checked below
        assert not bit.decode_frame(bytes(bad), 2)[1]


def test_bitalino_frames_round_trip_for_every_channel_count() -> None:
    rng = np.random.default_rng(1)
    for n in range(1, 7):
        for _ in range(100):
            vals = [int(rng.integers(0, 1024 if i < 4 else 64)) for i in range(n)]
            seq = int(rng.integers(0, 16))
            f = bit.encode_frame(seq, vals)
            assert len(f) == bit.frame_size(n)
            assert bit.decode_frame(f, n) == (seq, True, vals)
            assert bit.crc4(f) == bit.crc4_bitwise(f)


def test_bitalino_transfer_functions() -> None:
    assert bit.ecg_mv(np.array([512]))[0] == 0.0
    assert bit.ecg_mv(np.array([1023]))[0] == pytest.approx((1023 / 1024 - 0.5) * 3.3 / 1100 * 1000)
    assert bit.ecg_mv(np.array([0]))[0] == pytest.approx(-1.5)
    assert bit.eda_us(np.array([1023]))[0] == pytest.approx(1023 / 1024 * 3.3 / 0.132)
    assert bit.eda_us(np.array([63]), bits=6)[0] == pytest.approx(63 / 64 * 25.0)


def _notif(first_seq: int, raws: list[tuple[int, int]]) -> bytes:
    return b"".join(bit.encode_frame((first_seq + j) % 16, list(r)) for j, r in enumerate(raws))


class _Bit:
    """Feeds a BitalinoDriver 5-frame notifications of a ramp, one per 5 ms, like the device."""

    def __init__(self, **kw: object) -> None:
        self.d = bit.BitalinoDriver(**kw)  # type: ignore[arg-type]
        self.batches: list[SampleBatch] = []

    def packet(self, k: int) -> bytes:  # notification k holds samples 5k … 5k + 4
        return _notif(5 * k, [(g % 1024, 0) for g in range(5 * k, 5 * k + 5)])

    def feed(self, payload: bytes, t_ns: float) -> None:
        self.batches += self.d.receive(bit.BITALINO_FRAMES, payload, int(t_ns))

    def send(self, ks: range | list[int], latency_ms: float = 3.0, t0: float = 1e12) -> None:
        for k in ks:
            self.feed(self.packet(k), t0 + (5 * k + 4 + latency_ms) * MS)

    def stored(self) -> dict[int, int]:
        """counter → g (decoded from the ramp) of every delivered sample."""
        self.batches += self.d.flush()
        out = {}
        for b in self.batches:
            adc = np.rint((b.samples[:, 0] / 1000 * 1100 / 3.3 + 0.5) * 1024).astype(int)
            for j, a in enumerate(adc):
                out[b.first_counter + j] = int(a)
        return out


def test_bitalino_sequence_gaps_duplicates_reorder_crc_and_length() -> None:
    s = _Bit()
    s.send(range(0, 40))
    s.send(range(41, 60))  # one notification (5 frames) lost: the sequence says 5
    s.feed(s.packet(59), 1e12 + (5 * 59 + 5) * MS)  # a duplicate
    s.send([61])
    s.send([60])  # reordered: arrives after 61, dropped (its frames are already a gap)
    bad = bytearray(s.packet(62))
    bad[6] ^= 0x10  # one bit of frame 1
    s.feed(bytes(bad), 1e12 + (5 * 62 + 7) * MS)
    s.feed(s.packet(63)[:-1], 1e12 + (5 * 63 + 7) * MS)  # truncated
    s.send(range(64, 80))
    st = s.stored()
    assert all(g == c % 1024 for c, g in st.items())  # every counter is the true sample number
    lost = {c for c in range(400) if c not in st}
    assert lost == set(range(200, 205)) | set(range(300, 305)) | {311} | set(range(315, 320))
    c = s.d.stats()
    assert (c["duplicates"], c["out_of_order"], c["crc_errors"], c["malformed"]) == (1, 1, 1, 1)
    assert c["lost_samples"] == len(lost) and c["samples"] == len(st)


def test_bitalino_a_frame_with_a_good_crc_but_the_wrong_sequence_is_counted_apart() -> None:
    s = _Bit()
    s.send(range(0, 20))
    frames = [s.packet(20)[4 * j : 4 * j + 4] for j in range(5)]
    frames[2] = bit.encode_frame(9, [(5 * 20 + 2) % 1024, 0])  # intact, but sequence 9, not 2
    s.feed(b"".join(frames), 1e12 + (5 * 20 + 4 + 3) * MS)
    s.send(range(21, 40))
    st = s.stored()
    assert all(g == c % 1024 for c, g in st.items())
    assert set(range(200)) - set(st) == {102}
    c = s.d.stats()
    assert (c["seq_mismatch"], c["crc_errors"], c["lost_samples"]) == (1, 0, 1)


@pytest.mark.parametrize("n_lost", [3, 4, 7, 16])
def test_bitalino_losses_beyond_a_sequence_wrap_are_sized_from_arrival_times(n_lost: int) -> None:
    # n_lost notifications = 5·n_lost frames: the 4-bit sequence only sees that modulo 16
    s = _Bit()
    s.send(range(0, 200))
    s.send(range(200 + n_lost, 400))
    st = s.stored()
    assert all(g == c % 1024 for c, g in st.items())
    assert sorted(set(range(2000)) - set(st)) == list(range(1000, 1000 + 5 * n_lost))


def test_bitalino_a_stall_is_not_mistaken_for_lost_wraps() -> None:
    s = _Bit()
    s.send(range(0, 200))
    for k in range(200, 230):  # 150 ms of packets held by the link, then released in a burst
        s.feed(s.packet(k), 1e12 + (5 * 229 + 4 + 3) * MS + (k - 200) * 0.05 * MS)
    s.send(range(230, 400))
    st = s.stored()
    assert len(st) == 2000 and all(g == c % 1024 for c, g in st.items())
    assert s.d.stats()["lost_samples"] == 0


def test_bitalino_a_stall_with_losses_inside_its_burst() -> None:
    # 110 ms stall released as a burst, with notifications 205 and 212 lost inside it
    s = _Bit()
    s.send(range(0, 200))
    burst_at = 1e12 + (5 * 222 + 4 + 3) * MS
    for i, k in enumerate([k for k in range(200, 222) if k not in (205, 212)]):
        s.feed(s.packet(k), burst_at + i * 0.05 * MS)
    s.send(range(222, 400))
    st = s.stored()
    assert all(g == c % 1024 for c, g in st.items())
    assert set(range(2000)) - set(st) == set(range(1025, 1030)) | set(range(1060, 1065))


def test_bitalino_a_late_copy_inside_a_stall_burst_is_withdrawn() -> None:
    # a 250 ms stall released as a burst, with 210 arriving after 211 inside it
    s = _Bit()
    s.send(range(0, 200))
    order = [*range(200, 210), 211, 210, *range(212, 250)]
    for i, k in enumerate(order):
        s.feed(s.packet(k), 1e12 + (5 * 249 + 4 + 3) * MS + i * 0.05 * MS)
    s.send(range(250, 400))
    st = s.stored()
    assert all(g == c % 1024 for c, g in st.items())
    assert set(range(2000)) - set(st) == set(range(1050, 1055))
    assert s.d.stats()["out_of_order"] == 1


def test_bitalino_a_late_copy_during_a_held_chain_is_not_taken_for_new_data() -> None:
    # 16 notifications (80 frames) lost: the sequence cannot see it; then, while the chain is
    # held, a notification arrives late (after its successor)
    s = _Bit()
    s.send(range(0, 200))
    s.send(range(216, 240))
    s.send([241])
    s.send([240])
    s.send(range(242, 400))
    st = s.stored()
    assert all(g == c % 1024 for c, g in st.items())
    assert set(range(2000)) - set(st) == set(range(1000, 1080)) | set(range(1200, 1205))
    assert s.d.stats()["out_of_order"] == 1


def test_bitalino_new_acquisition_after_reconnect_is_placed_by_host_time() -> None:
    s = _Bit(hold_s=0.2)
    s.send(range(0, 400))  # 2 s at 1 kHz
    s.d.link_lost(0)
    s.d.link_restored(0)
    # the device restarts its acquisition 3 s after time zero with sequence 0
    t0 = 1e12 + 3000 * MS
    for k in range(0, 200):
        payload = _notif(5 * k, [((3000 + 5 * k + j) % 1024, 0) for j in range(5)])
        s.feed(payload, t0 + (5 * k + 4 + 3 + (k % 3)) * MS)
    st = s.stored()
    assert all(g == c % 1024 for c, g in st.items())
    assert min(c for c in st if c >= 2000) == 3000
    assert s.d.stats()["timebase_resets"] == 1


# ---- Polar H10 ----------------------------------------------------------------------------------
def test_polar_ecg_frame_decodes_hand_made_bytes() -> None:
    ts = 599_616_000_000_000_000
    raw = bytes([0x00]) + struct.pack("<Q", ts) + bytes([0x00])
    raw += bytes.fromhex("010000 ffffff 000080 ffff7f 2c0100")
    f = polar.parse_ecg_frame(raw)
    assert f.timestamp_ns == ts
    assert f.samples_uv.tolist() == [1, -1, -(1 << 23), (1 << 23) - 1, 300]
    assert polar.encode_ecg_frame(ts, f.samples_uv) == raw
    for bad in (raw[:-1], raw[:12], bytes([0x02]) + raw[1:], raw[:9] + b"\x01" + raw[10:]):
        with pytest.raises(polar.PolarFormatError):
            polar.parse_ecg_frame(bad)
    assert polar.START_ECG.hex(" ") == "02 00 00 01 82 00 01 01 0e 00"


def test_heart_rate_measurement_with_rr_intervals() -> None:
    hr = polar.parse_heart_rate(bytes.fromhex("16 48 00 04 00 02"))
    assert (hr.bpm, hr.rr_s, hr.contact, hr.energy_kj) == (72, (1.0, 0.5), True, None)
    hr = polar.parse_heart_rate(bytes.fromhex("19 2c 01 10 00 33 03"))  # uint16 HR, energy, RR
    assert (hr.bpm, hr.energy_kj, hr.rr_s, hr.contact) == (300, 16, (0x0333 / 1024,), None)
    assert polar.parse_heart_rate(bytes.fromhex("04 3c")).contact is False
    with pytest.raises(polar.PolarFormatError):
        polar.parse_heart_rate(bytes.fromhex("10 48 00"))


def test_pmd_control_point_answers() -> None:
    d = polar.PolarH10Driver()
    d.receive(polar.PMD_CONTROL, bytes.fromhex("f0 02 00 00 00"), 0)
    assert d.last_response is not None and d.last_response.ok and not d.take_events()
    d.receive(polar.PMD_CONTROL, bytes.fromhex("f0 02 00 05 00"), 0)
    assert d.take_events() == [("device_error", {"op": 2, "type": 0, "error": "invalid parameter"})]
    d.receive(polar.PMD_CONTROL, bytes.fromhex("f0 02 00 06 00"), 0)  # already started: fine
    assert not d.take_events()
    d.receive(polar.HR_MEASUREMENT, bytes.fromhex("16 48 00 04"), 0)
    assert d.take_events() == [("heart_rate", {"bpm": 72, "rr_ms": [1000.0], "contact": True})]
    d.receive(BATTERY_LEVEL, b"\x57", 0)
    assert d.battery_percent == 87


def _polar_frame(k: int, n: int = 20, ts0: int = 10**15) -> bytes:
    g = np.arange(k * n, k * n + n)
    return polar.encode_ecg_frame(ts0 + round((k * n + n - 1) * 1e9 / 130), g)


def test_polar_counter_from_device_timestamps() -> None:
    d = polar.PolarH10Driver()
    out: list[SampleBatch] = []
    t = 1e12

    def feed(payload: bytes, k: int) -> None:
        out.extend(d.receive(polar.PMD_DATA, payload, int(t + (k * 20 + 19) / 130 * 1e9 + 3 * MS)))

    for k in range(0, 30):
        feed(_polar_frame(k), k)
    for k in (33, 34):  # frames 30–32 lost: the timestamp step says 60 samples
        feed(_polar_frame(k), k)
    feed(_polar_frame(34), 34)  # duplicate
    feed(_polar_frame(36), 36)
    feed(_polar_frame(35), 35)  # late: out of order
    feed(_polar_frame(37)[:-2], 37)  # truncated
    for k in range(38, 50):
        feed(_polar_frame(k), k)
    st = {
        b.first_counter + j: int(round(v * 1000))
        for b in out
        for j, v in enumerate(b.samples[:, 0])
    }
    assert all(c == g for c, g in st.items())
    assert set(range(1000)) - set(st) == set(range(600, 660)) | set(range(700, 720)) | set(
        range(740, 760)
    )
    c = d.stats()
    assert (c["duplicates"], c["out_of_order"], c["malformed"], c["lost_samples"]) == (1, 1, 1, 100)


def test_polar_clock_jump_is_placed_by_host_time() -> None:
    d = polar.PolarH10Driver(hold_s=0.3)
    out: list[SampleBatch] = []
    t = 1e12
    for k in range(0, 40):
        out += d.receive(polar.PMD_DATA, _polar_frame(k), int(t + (k * 20 + 19) / 130 * 1e9 + 3e6))
    # the strap restarted: its clock starts again near zero; frames resume at true sample 1040
    for k in range(52, 80):
        p = _polar_frame(k - 52, ts0=5_000_000)
        g = np.arange(k * 20, k * 20 + 20)
        p = p[:10] + polar.encode_ecg_frame(0, g)[10:]
        out += d.receive(polar.PMD_DATA, p, int(t + (k * 20 + 19) / 130 * 1e9 + 3e6))
    out += d.flush()
    st = {
        b.first_counter + j: int(round(v * 1000))
        for b in out
        for j, v in enumerate(b.samples[:, 0])
    }
    assert all(c == g for c, g in st.items())
    assert d.stats()["timebase_resets"] == 1


# ---- profiles ------------------------------------------------------------------------------------
def test_profiles_are_recognised_from_advertisements() -> None:
    assert identify("Polar H10 6A7B8C9D", [uuid16(0x180D)]) == "polar_h10"
    assert identify(None, [bit.BITALINO_SERVICE.upper()]) == "bitalino"
    assert identify("TheraScope-01", []) == "therascope_open_v1"
    assert identify("Mi Band", [uuid16(0x180D)]) is None
    assert make_driver("bitalino", rate_hz=100).streams[0].rate_hz == 100.0
    with pytest.raises(ValueError):
        make_driver("nope")


# ---- BITalino: several notifications per connection event ----------------------------------------
def _grouped_arrivals(
    n_packets: int, ci_ms: float, first_late_ms: float, rng: np.random.Generator
) -> np.ndarray:
    """Host arrival (ns) of each 5-frame notification at 1 kHz when the link delivers them in
    connection events: a notification goes out in the first event after its last frame was taken,
    several per event, all stamped at the event time plus the host's jitter. The first event after
    START comes ``first_late_ms`` late (its first packet is the latest of the session)."""
    drift = 1.0 + rng.uniform(-100e-6, 100e-6)
    ready = np.array([(5 * k + 4) / (1000.0 * drift) * 1e3 for k in range(n_packets)])  # ms
    first_event = ready[0] + first_late_ms
    out = np.empty(n_packets)
    for k, r in enumerate(ready):
        i = max(0, int(np.ceil((r + 0.3 - first_event) / ci_ms)))  # 0.3 ms: queued in time
        out[k] = first_event + i * ci_ms
    # per-event host jitter (one-sided), in order within an event
    t = np.empty(n_packets)
    jitter, pos = 0.0, 0
    for k in range(n_packets):
        if k == 0 or out[k] != out[k - 1]:
            jitter, pos = 0.8 + rng.exponential(0.4), 0
        t[k] = out[k] + jitter + 0.02 * pos
        pos += 1
    return (1e12 + t * 1e6).astype(np.int64)


@pytest.mark.parametrize("burst_at", [4, 300])
@pytest.mark.parametrize("ci_ms", [7.5, 15.0, 30.0])
def test_bitalino_grouped_delivery_with_a_late_first_packet_keeps_every_counter(
    ci_ms: float, burst_at: int
) -> None:
    # notification k holds frames 5k … 5k + 4; a burst of 16 notifications (one whole period of
    # the sequence: it cannot see it) is lost right after the start or later, a few single ones
    # early and late; one pair arrives swapped (the late one is dropped and counted)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n = 600
        t = _grouped_arrivals(n, ci_ms, float(rng.uniform(10.0, 30.0)), rng)
        lost = set(range(burst_at, burst_at + 16))
        lost |= {int(k) for k in rng.choice(np.arange(24, 60), 2, replace=False)}
        lost |= {int(rng.integers(400, 590))}
        swap = int(rng.integers(320, 390))
        order = [*range(swap), swap + 1, swap, *range(swap + 2, n)]
        s = _Bit()
        for k in order:
            if k not in lost:
                s.feed(s.packet(k), int(t[k + 1 if k == swap else k]) + 50_000 * (k == swap))
        st = s.stored()
        wrong = [c for c, g in st.items() if g != c % 1024]
        assert not wrong, f"seed {seed}: {len(wrong)} samples at wrong counters"
        missing = set(range(5 * n)) - set(st)
        truth = {5 * k + j for k in lost | {swap} for j in range(5)}
        assert missing == truth, f"seed {seed}: missing {sorted(missing ^ truth)[:10]}"
        c = s.d.stats()
        assert c["lost_samples"] == len(truth) and c["out_of_order"] == 1, f"seed {seed}: {c}"


@pytest.mark.parametrize(
    ("jump_s", "link_lost"), [(5.0, False), (-5.0, False), (-1200.0, False), (-1200.0, True)]
)
def test_polar_clock_jumps_are_checked_against_host_time(jump_s: float, link_lost: bool) -> None:
    # the strap's clock jumps by jump_s between frames 59 and 62 (frames 60, 61 are lost), or it
    # restarts while the link is down for 3 s; host arrivals follow the true sample times
    rng = np.random.default_rng(int(abs(jump_s)) + link_lost)
    d = polar.PolarH10Driver(hold_s=0.5)
    out: list[SampleBatch] = []
    t0 = 1e12
    resume = 80 if link_lost else 62  # first frame after the jump
    jump_ns = int(jump_s * 1e9)
    lost = set(range(60, resume)) | {90}
    for k in range(0, 140):
        if k in lost:
            continue
        if k == resume and link_lost:
            d.link_lost(int(t0 + 10e9))
            out += d.flush()
        ts0 = 10**15 + (jump_ns if k >= resume else 0)
        t = t0 + (k * 20 + 19) / 130 * 1e9 + 3e6 + rng.exponential(1e6)
        out += d.receive(polar.PMD_DATA, _polar_frame(k, ts0=ts0), int(t))
    out += d.flush()
    c = np.concatenate([b.first_counter + np.arange(b.n) for b in out])
    g = np.concatenate([np.rint(b.samples[:, 0] * 1000).astype(np.int64) for b in out])
    assert len(g) == 20 * (140 - len(lost))  # every frame delivered is stored
    assert (np.diff(c) > 0).all()
    assert (c[g < 1200] == g[g < 1200]).all()
    off = np.unique(c[g >= 1200] - g[g >= 1200])
    assert len(off) == 1 and abs(int(off[0])) <= 2, off  # placed by host time, within 2 samples
    s = d.stats()
    assert abs(s["lost_samples"] - 20 * len(lost)) <= 2
    assert s["lost_samples"] == int(c[-1]) + 1 - len(c)
    assert (s["timebase_resets"], s["out_of_order"], s["malformed"]) == (1, 0, 0)
    assert ("timebase_reset", {"stream": "ecg", "reason": "device clock jump"}) in d.take_events()
