"""Fuzzing the stream decoders: whatever bytes a sensor (or interference) sends, a decoder returns
samples or counts a malformed packet, and never raises anything but its own format error.

Property-based (hypothesis), derandomised so CI runs the same cases every time, and short: the
whole file takes a few seconds.
"""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.ble.bitalino import BITALINO_FRAMES, BitalinoDriver, decode_frame, encode_frame
from devices.ble.open_profile import OPEN_STATUS, OPEN_STREAM, OpenProfileDriver
from devices.ble.polar import (
    HR_MEASUREMENT,
    PMD_CONTROL,
    PMD_DATA,
    PolarFormatError,
    PolarH10Driver,
    parse_ecg_frame,
    parse_heart_rate,
    parse_pmd_response,
)
from devices.protocol import ProtocolError, parse_packet

FUZZ = settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
packets = st.binary(min_size=0, max_size=260)


@FUZZ
@given(packets)
def test_open_protocol_parser_raises_only_its_own_error(data):
    with contextlib.suppress(ProtocolError):
        parse_packet(data)


@FUZZ
@given(packets)
def test_polar_parsers_raise_only_their_own_error(data):
    for parse in (parse_pmd_response, parse_ecg_frame, parse_heart_rate):
        with contextlib.suppress(PolarFormatError):
            parse(data)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([PMD_DATA, PMD_CONTROL, HR_MEASUREMENT]), packets)))
def test_polar_driver_never_raises_on_any_notification(notifications):
    driver = PolarH10Driver()
    t = 1_000_000_000
    for uuid, data in notifications:
        t += 7_500_000
        driver.feed(uuid, data, t)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([OPEN_STATUS, OPEN_STREAM]), packets)))
def test_open_profile_driver_never_raises_on_any_notification(notifications):
    driver = OpenProfileDriver()
    t = 1_000_000_000
    for uuid, data in notifications:
        t += 7_500_000
        driver.feed(uuid, data, t)


@FUZZ
@given(st.lists(packets))
def test_bitalino_driver_never_raises_on_any_notification(notifications):
    driver = BitalinoDriver()
    t = 1_000_000_000
    for data in notifications:
        t += 7_500_000
        driver.feed(BITALINO_FRAMES, data, t)


@FUZZ
@given(
    st.integers(0, 15), st.lists(st.integers(0, 1023), min_size=2, max_size=2), st.integers(0, 7)
)
def test_bitalino_frames_survive_one_flipped_bit_as_a_crc_failure_or_the_same_values(
    seq, values, bit
):
    frame = bytearray(encode_frame(seq, values))
    assert decode_frame(bytes(frame), 2)[1:] == (True, values)
    frame[len(frame) // 2] ^= 1 << bit
    s, ok, got = decode_frame(bytes(frame), 2)
    assert not ok or got == values  # a flipped bit is caught by the CRC, never silently kept
