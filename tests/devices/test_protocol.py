"""Stream format v1: encoder/decoder round trips, the spec's worked example, and receiver rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from core.types import StreamInfo
from devices.protocol import (
    COUNTER_MOD,
    FORMAT_RANGE,
    MAX_PAYLOAD,
    DataPacket,
    Descriptor,
    ProtocolError,
    SampleFormat,
    StreamDecoder,
    descriptor_for,
    encode_data,
    encode_descriptor,
    max_samples_per_packet,
    parse_packet,
    to_raw,
)

SPEC = Path(__file__).resolve().parents[2] / "resources" / "protocol" / "stream-format-v1.md"
INFO = StreamInfo(0, "bio", ("ECG", "EDA"), ("mV", "uS"), 800.0)
DESC = descriptor_for(INFO, (0.001, 0.001), (0.0, 32.768))


def _decoder(desc: Descriptor = DESC) -> StreamDecoder:
    dec = StreamDecoder()
    assert dec.feed(encode_descriptor(desc), 0) is None
    return dec


def _pkt(counter: int, n: int = 40, value: int = 0) -> bytes:
    return encode_data(0, counter, np.full((n, 2), value, dtype=np.int64))


@pytest.mark.parametrize("fmt", list(SampleFormat))
def test_round_trip_each_format(fmt: SampleFormat) -> None:
    rng = np.random.default_rng(int(fmt))
    n = max_samples_per_packet(3, fmt)
    if fmt == SampleFormat.FLOAT32:
        raw: np.ndarray = rng.normal(0, 100, (n, 3)).astype(np.float32)
    else:
        lo, hi = FORMAT_RANGE[fmt]
        raw = rng.integers(lo, hi, (n, 3), endpoint=True)
        raw[0] = (lo, hi, -1)  # the extremes and a sign-extension case
    payload = encode_data(7, 123_456, raw, fmt)
    assert len(payload) <= MAX_PAYLOAD
    pkt = parse_packet(payload)
    assert isinstance(pkt, DataPacket)
    assert (pkt.stream_id, pkt.fmt, pkt.counter) == (7, fmt, 123_456)
    np.testing.assert_array_equal(pkt.raw, raw)

    info = StreamInfo(7, "x", ("a", "b", "c"), ("mV", "uS", "V"), 250.0)
    desc = descriptor_for(info, (0.5, 2.0, 1e-3), (1.0, -3.0, 0.25))
    batch = _decoder(desc).feed(payload, 99)
    assert batch is not None
    assert batch.samples.dtype == np.float32 and batch.samples.shape == (n, 3)
    assert (batch.first_counter, batch.arrival_ns, batch.stream_id) == (123_456, 99, 7)
    expect = raw * np.array(desc.scales) + np.array(desc.offsets)
    np.testing.assert_allclose(batch.samples, expect, rtol=1e-6)


def test_descriptor_round_trip_and_stream_info() -> None:
    info = StreamInfo(3, "bio-β", ("ECG", "EDA", "Resp"), ("mV", "µS", "a.u."), 1000.0)
    desc = descriptor_for(info, (1e-3, 2e-3, 1.0), (0.0, 10.0, -5.0))
    parsed = parse_packet(encode_descriptor(desc))
    assert parsed == desc
    assert isinstance(parsed, Descriptor) and parsed.stream_info() == info
    dec = _decoder(desc)
    assert dec.streams == {3: info} and dec.descriptor(3) == desc and dec.descriptor(9) is None


def test_to_raw_rounds_and_saturates() -> None:
    raw = to_raw(DESC, np.array([[1.2004, 5.0], [100.0, -1.0], [-100.0, 99.0]]), SampleFormat.INT16)
    np.testing.assert_array_equal(raw, [[1200, -27768], [32767, -32768], [-32768, 32767]])


def _spec_hex(after_heading: str) -> bytes:
    text = SPEC.read_text()
    block = re.search(re.escape(after_heading) + r".*?```\n(.*?)```", text, re.S)
    assert block, f"no hex block after {after_heading!r}"
    return bytes.fromhex(block.group(1).replace("\n", " "))


def test_spec_examples_match_the_implementation() -> None:
    desc_bytes = _spec_hex("## Descriptor packet")
    assert desc_bytes == encode_descriptor(DESC)
    data_bytes = _spec_hex("### Worked example")
    assert data_bytes == encode_data(0, 800_000, np.array([[1200, -27768], [-350, -27767]]))

    dec = StreamDecoder()
    dec.feed(desc_bytes, 0)
    batch = dec.feed(data_bytes, 1)
    assert batch is not None and batch.first_counter == 800_000 and batch.end_counter == 800_002
    np.testing.assert_allclose(batch.samples, [[1.2, 5.0], [-0.35, 5.001]], atol=1e-6)
    assert dec.streams[0] == INFO


def test_counter_wrap_is_unwrapped() -> None:
    dec = _decoder()
    start = COUNTER_MOD - 80
    firsts = []
    for k in range(5):
        b = dec.feed(_pkt(start + 40 * k), k)  # encode_data takes the counter modulo 2³²
        assert b is not None
        firsts.append(b.first_counter)
    assert firsts == [start + 40 * k for k in range(5)]
    # a gap across the wrap is a gap, not a jump back
    b = dec.feed(_pkt(start + 400), 9)
    assert b is not None and b.first_counter == start + 400 and dec.n_lost_samples == 200
    # the spec's unwrap example
    dec2 = _decoder()
    dec2.feed(_pkt(0xFFFFFFFA - 40), 0)
    b = dec2.feed(encode_data(0, 0x22, np.zeros((1, 2), dtype=np.int64)), 1)
    assert b is not None and b.first_counter == 4_294_967_330


def test_packets_older_than_the_first_across_the_wrap_are_out_of_order() -> None:
    dec = _decoder()
    assert dec.feed(_pkt(5), 0) is not None
    assert dec.feed(_pkt(COUNTER_MOD - 40), 1) is None
    assert dec.n_out_of_order == 1 and dec.n_batches == 1


def test_duplicates_and_out_of_order_are_dropped_and_counted() -> None:
    dec = _decoder()
    for c in (0, 40, 80):
        assert dec.feed(_pkt(c), c) is not None
    assert dec.feed(_pkt(40), 100) is None  # duplicate of a delivered packet
    assert dec.feed(_pkt(0), 101) is None
    assert dec.n_duplicates == 2
    assert dec.feed(_pkt(160), 102) is not None  # gap: 120..159 lost
    assert dec.n_lost_samples == 40
    assert dec.feed(_pkt(120), 103) is None  # late, never delivered: out of order
    assert dec.feed(_pkt(120), 104) is None
    assert dec.n_out_of_order == 2 and dec.n_duplicates == 2
    assert dec.feed(_pkt(160), 105) is None and dec.n_duplicates == 3
    assert dec.feed(_pkt(60, n=10), 106) is None and dec.n_duplicates == 4  # inside a run
    b = dec.feed(_pkt(200), 107)
    assert b is not None and b.first_counter == 200
    assert "duplicate" in dec.last_error
    json.dumps(dec.stats())


def test_descriptor_repeat_keeps_state_and_change_resets_it() -> None:
    dec = _decoder()
    dec.feed(_pkt(1000), 0)
    dec.feed(encode_descriptor(DESC), 1)  # identical repeat
    assert dec.feed(_pkt(1000), 2) is None and dec.n_duplicates == 1
    changed = descriptor_for(INFO, (0.002, 0.001), (0.0, 32.768))
    dec.feed(encode_descriptor(changed), 3)  # sensor restarted: counting starts afresh
    b = dec.feed(_pkt(0, value=500), 4)
    assert b is not None and b.first_counter == 0
    assert b.samples[0, 0] == pytest.approx(1.0)


def _bad_packets() -> dict[str, bytes]:
    good = _pkt(0, n=4)
    desc = encode_descriptor(DESC)
    bad_fmt = bytearray(good)
    bad_fmt[3] = 0x7F
    zero_n = bytearray(good)
    zero_n[8] = 0
    bad_utf8 = bytearray(desc)
    bad_utf8[-1] = 0xFF
    zero_scale = bytearray(desc)
    zero_scale[8:12] = b"\0\0\0\0"
    return {
        "empty": b"",
        "one byte": b"\x01",
        "bad version": b"\x02" + good[1:],
        "unknown type": b"\x01\x09" + good[2:],
        "unknown format": bytes(bad_fmt),
        "truncated header": good[:7],
        "truncated samples": good[:-1],
        "extra byte": good + b"\0",
        "zero samples": bytes(zero_n),
        "three channels": encode_data(0, 0, np.zeros((4, 3), dtype=np.int64)),
        "truncated descriptor": desc[:-3],
        "descriptor trailing": desc + b"x",
        "descriptor bad utf-8": bytes(bad_utf8),
        "descriptor zero scale": bytes(zero_scale),
    }


@pytest.mark.parametrize("case", list(_bad_packets()))
def test_malformed_packets_are_counted_never_raised(case: str) -> None:
    dec = _decoder()
    payload = _bad_packets()[case]
    assert dec.feed(payload, 5) is None
    assert dec.n_malformed == 1 and dec.last_error
    if case != "three channels":  # well-formed alone; malformed only against its descriptor
        with pytest.raises(ProtocolError):
            parse_packet(payload)
    b = dec.feed(_pkt(0), 6)  # the stream carries on
    assert b is not None and b.n == 40


def test_data_before_descriptor_is_dropped_and_counted() -> None:
    dec = StreamDecoder()
    assert dec.feed(_pkt(0), 0) is None
    assert dec.n_no_descriptor == 1 and "descriptor" in dec.last_error
    dec.feed(encode_descriptor(DESC), 1)
    assert dec.feed(_pkt(40), 2) is not None
    assert dec.feed(encode_data(5, 0, np.zeros((2, 2), dtype=np.int64)), 3) is None
    assert dec.n_no_descriptor == 2 and dec.n_dropped == 2


def test_fuzzed_bytes_never_raise() -> None:
    rng = np.random.default_rng(0)
    dec = _decoder()
    good = _pkt(0)
    for i in range(3000):
        if i % 2:
            p = bytearray(good)
            for j in rng.integers(0, len(p), 3):
                p[j] = int(rng.integers(0, 256))
            payload = bytes(p[: int(rng.integers(0, len(p) + 1))])
        else:
            payload = rng.integers(0, 256, int(rng.integers(0, 60)), dtype=np.uint8).tobytes()
        dec.feed(payload, i)
    assert dec.n_packets == 3001
    assert dec.n_batches + dec.n_dropped + dec.n_descriptors == dec.n_packets


def test_encoder_refuses_what_cannot_travel() -> None:
    with pytest.raises(ProtocolError):
        encode_data(0, 0, np.zeros((59, 2), dtype=np.int64))  # 246 bytes
    with pytest.raises(ProtocolError):
        encode_data(0, 0, np.array([[40_000, 0]]))
    with pytest.raises(ProtocolError):
        encode_data(0, 0, np.array([[0.5, 0.0]]), SampleFormat.INT16)
    with pytest.raises(ProtocolError):
        encode_data(0, 0, np.zeros((0, 2), dtype=np.int64))
    with pytest.raises(ProtocolError):
        descriptor_for(INFO, (1.0,), (0.0, 0.0))
    big = StreamInfo(0, "x" * 230, ("a", "b"), ("u", "v"), 1.0)
    with pytest.raises(ProtocolError):
        encode_descriptor(descriptor_for(big, (1.0, 1.0)))
    assert len(encode_data(0, 0, np.zeros((117, 1), dtype=np.int64))) == MAX_PAYLOAD
