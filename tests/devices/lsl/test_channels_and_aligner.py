"""The LSL source without a network: channel metadata to ECG mV / EDA µS, and sample counters from a
counter channel or from time stamps (lower envelope), with drops, late packets and a restart."""

from __future__ import annotations

import numpy as np
import pytest

from core.formats.opensignals import TRANSFER
from core.types import SampleBatch
from devices.lsl.aligner import LslAligner
from devices.lsl.channels import ChannelError, plan_channels


def test_opensignals_layout_converted_values() -> None:
    # OpenSignals: nSeq first and undescribed, then the sensors with their units
    plan = plan_channels(
        "OpenSignals",
        "00:07:80:4D:2E:76",
        3,
        [{"sensor": "ECG", "label": "ECG", "unit": "mV"}, {"sensor": "EDA", "unit": "uS"}],
    )
    assert plan.counter == 0 and plan.names == ("ECG", "EDA") and plan.units == ("mV", "uS")
    data = np.array([[7, 0.5, 3.25]], dtype=np.float32)
    assert plan.convert(data).tolist() == [[0.5, 3.25]]
    # volts and microvolts are brought to mV; a described counter column is found by its label
    plan = plan_channels("x", "ECG", 2, [{"label": "nSeq"}, {"label": "ECG", "unit": "V"}])
    assert plan.counter == 0 and plan.convert(np.array([[1, 0.002]]))[0, 0] == pytest.approx(2.0)
    with pytest.raises(ChannelError, match="raw ADC codes"):  # no metadata, so no unit
        plan_channels("Polar", "ECG", 1, [])


def test_an_undescribed_first_column_is_a_counter_only_for_opensignals() -> None:
    chans = [{"label": "ECG", "unit": "mV"}, {"label": "EDA", "unit": "uS"}]
    by_name = plan_channels("OpenSignals", "biosignalsplux", 3, chans)
    by_mac = plan_channels("My session", "00-07-80-4d-2e-76", 3, chans)
    assert by_name.counter == by_mac.counter == 0
    assert [c.index for c in by_name.columns] == [1, 2]
    # any other stream describing one channel fewer than it sends: its columns are unknown
    with pytest.raises(ChannelError, match="describes 2 channels but sends 3") as e:
        plan_channels("Shimmer ECG", "ECG", 3, chans)
    assert "only OpenSignals" in str(e.value)
    with pytest.raises(ChannelError, match="describes 2 channels but sends 3"):
        plan_channels("OpenSignals2", "EXG", 3, chans)


def test_raw_adc_codes_need_device_and_resolution() -> None:
    chans = [
        {"sensor": "ECG", "unit": "", "resolution": "16"},
        {"sensor": "EDA", "resolution": "16"},
    ]
    with pytest.raises(ChannelError, match="raw ADC codes"):
        plan_channels("OpenSignals", "00:07:80:4D:2E:76", 3, chans)
    plan = plan_channels("OpenSignals", "00:07:80:4D:2E:76", 3, chans, device="biosignalsplux")
    adc = np.array([[0, 40000, 30000]], dtype=np.float64)
    vcc, g = TRANSFER[("biosignalsplux", "ECG")]
    vcc_e, d_e = TRANSFER[("biosignalsplux", "EDA")]
    ecg, eda = plan.convert(adc)[0]
    assert ecg == pytest.approx((40000 / 2**16 - 0.5) * vcc / g * 1000, rel=1e-6)
    assert eda == pytest.approx(30000 / 2**16 * vcc_e / d_e, rel=1e-6)


def test_streams_that_cannot_be_ecg_or_eda_are_refused_in_words() -> None:
    with pytest.raises(ChannelError, match="no ECG or EDA"):
        plan_channels("EEG", "EEG", 2, [{"label": "Fz", "unit": "uV"}, {"label": "Cz"}])
    with pytest.raises(ChannelError, match="cannot bring to µS"):
        plan_channels("GSR", "GSR", 1, [{"label": "GSR", "unit": "kOhm"}])
    with pytest.raises(ChannelError, match="does not describe"):
        plan_channels("Device", "Physio", 3, [])


def _run(
    al: LslAligner,
    n: int,
    rng: np.random.Generator,
    counter: int | None,
    drop: float,
    late_ms: float,
    t0: float = 1e12,
) -> tuple[list[SampleBatch], int]:
    """Chunks of a 1000 Hz grid, some runs dropped, each chunk delivered late by up to
    ``late_ms`` with stamps on the grid (a device clock). Returns the batches and the drops."""
    out: list[SampleBatch] = []
    k, dropped = 0, 0
    while k < n:
        ks = np.arange(k, min(k + int(rng.integers(5, 25)), n))
        keep = np.ones(len(ks), dtype=bool)
        if rng.random() < drop:
            a = int(rng.integers(0, len(ks)))
            keep[a : a + int(rng.integers(1, 60))] = False
        dropped += int((~keep).sum())
        kept = ks[keep]
        now = int(t0 + ks[-1] * 1e6 + rng.uniform(0, late_ms) * 1e6)
        if len(kept):
            stamps = (t0 + kept * 1e6).astype(np.int64)
            seqs = None if counter is None else (kept % counter if counter else kept)
            out += al.push(kept.astype(np.float32)[:, None], stamps, seqs, now)
        k = int(ks[-1]) + 1
    return out + al.flush(), dropped


@pytest.mark.parametrize(
    "counter", [None, 0, 16, 1000], ids=["timestamps", "nseq", "nseq-mod16", "nseq-0-999"]
)
def test_stored_plus_lost_is_sent_and_every_sample_in_its_place(counter: int | None) -> None:
    rng = np.random.default_rng(7)
    al = LslAligner(0, 1000.0, counter=counter is not None)
    out, dropped = _run(al, 30_000, rng, counter, drop=0.05, late_ms=8.0)
    stored = sum(b.n for b in out)
    assert stored + al.lost_samples == 30_000 and al.lost_samples == dropped
    if counter:  # the period measured by time (not the next power of two), confirmed
        assert al.modulus == counter and al.wraps_confirmed >= 1 and al.resets == 0
    for b in out:  # the value is the grid number: each sample under its own counter
        assert np.array_equal(b.samples[:, 0], np.arange(b.first_counter, b.end_counter))


def test_late_push_stamps_hold_the_count_close() -> None:
    # stamps taken at the push (one-sided latency up to 3 ms, three samples): the envelope keeps
    # the count within a few per cent of the losses
    rng = np.random.default_rng(3)
    al = LslAligner(0, 1000.0, counter=False)
    k, dropped, t0, out = 0, 0, 1e12, []
    while k < 30_000:
        ks = np.arange(k, min(k + int(rng.integers(5, 25)), 30_000))
        keep = np.ones(len(ks), dtype=bool)
        if rng.random() < 0.05:
            keep[int(rng.integers(0, len(ks))) :][: int(rng.integers(1, 60))] = False
        dropped += int((~keep).sum())
        kept = ks[keep]
        if len(kept):
            push = int(t0 + kept[-1] * 1e6 + rng.uniform(0, 3e6))
            stamps = push - ((kept[-1] - kept) * 1e6).astype(np.int64)
            out += al.push(kept.astype(np.float32)[:, None], stamps, None, push)
        k = int(ks[-1]) + 1
    out += al.flush()
    assert sum(b.n for b in out) == 30_000 - dropped
    assert abs(al.lost_samples - dropped) <= max(3, dropped // 25)


def test_a_new_outlet_after_a_reconnect_is_placed_by_time() -> None:
    al = LslAligner(0, 1000.0, counter=True, restart_hold_s=0.3)
    t0 = 1e12
    out: list[SampleBatch] = []
    for k in range(0, 3000, 10):  # first outlet: nSeq 0…2999
        ks = np.arange(k, k + 10)
        out += al.push(ks.astype(np.float32)[:, None], (t0 + ks * 1e6).astype(np.int64), ks, 0)
    out += al.flush()
    al.restart()
    for k in range(4500, 6000, 10):  # the outlet restarted 1.5 s later: nSeq from 0 again
        ks = np.arange(k, k + 10)
        stamps = (t0 + ks * 1e6).astype(np.int64)
        out += al.push(ks.astype(np.float32)[:, None], stamps, ks - 4500, int(stamps[-1]))
    out += al.flush()
    assert al.resets == 1 and sum(b.n for b in out) == 4500
    after = [b for b in out if b.samples[0, 0] >= 4500]
    offsets = {int(b.first_counter - b.samples[0, 0]) for b in after}
    assert offsets and max(abs(o) for o in offsets) <= 1  # on the grid, to a sample
    assert 1499 <= al.lost_samples <= 1501


def _feed(al: LslAligner, ks: np.ndarray, seqs: np.ndarray, t0: float = 1e12) -> list[SampleBatch]:
    """Samples ``ks`` of a 1000 Hz grid (stamps on the grid) in chunks of 10, counter ``seqs``."""
    out: list[SampleBatch] = []
    for i in range(0, len(ks), 10):
        k, q = ks[i : i + 10], seqs[i : i + 10]
        stamps = (t0 + k * 1e6).astype(np.int64)
        out += al.push(k.astype(np.float32)[:, None], stamps, q, int(stamps[-1]))
    return out + al.flush()


def test_a_first_wrap_whose_top_values_were_lost_gives_the_right_period() -> None:
    # a 0…999 counter: 950…999 of the first period never arrive, so the largest value seen
    # before the first wrap is 949 (the power-of-two guess would be 1024 and count 24 wrong
    # per wrap)
    ks = np.arange(0, 5000)
    ks = ks[(ks < 950) | (ks >= 1000)]
    al = LslAligner(0, 1000.0, counter=True)
    out = _feed(al, ks, ks % 1000)
    assert al.modulus == 1000 and al.lost_samples == 50 and al.resets == 0
    assert sum(b.n for b in out) == len(ks)
    for b in out:
        assert np.array_equal(b.samples[:, 0], np.arange(b.first_counter, b.end_counter))


def test_the_period_from_the_metadata_is_used_from_the_start() -> None:
    chans = [{"label": "nSeq", "max": "999"}, {"label": "ECG", "unit": "mV"}]
    plan = plan_channels("x", "ECG", 2, chans)
    assert plan.counter == 0 and plan.counter_modulus == 1000
    assert (
        plan_channels("OpenSignals", "ECG", 2, chans[1:], device="BITalino").counter_modulus == 16
    )
    # 800…999 and 1000…1199 lost across the first wrap: the time stamps tell the whole span
    ks = np.arange(0, 4000)
    ks = ks[(ks < 800) | (ks >= 1200)]
    al = LslAligner(0, 1000.0, counter=True, modulus=plan.counter_modulus)
    out = _feed(al, ks, ks % 1000)
    assert al.lost_samples == 400 and sum(b.n for b in out) == len(ks)


def test_a_counter_that_restarts_after_a_pause_is_placed_by_time() -> None:
    # nSeq 0…2999, 1.5 s without samples, then nSeq from 0 again (the acquisition restarted
    # without the stream being lost): a restart, not a wrap of a 3000-period counter and not
    # a near-whole period counted lost
    al = LslAligner(0, 1000.0, counter=True, restart_hold_s=0.3)
    first, second = np.arange(0, 3000), np.arange(4500, 7000)
    out = _feed(al, first, first)
    out += _feed(al, second, second - 4500)
    assert al.resets == 1 and al.modulus is None
    assert sum(b.n for b in out) == 5500 and 1499 <= al.lost_samples <= 1501
    after = [b for b in out if b.samples[0, 0] >= 4500]
    assert max(abs(int(b.first_counter - b.samples[0, 0])) for b in after) <= 1
