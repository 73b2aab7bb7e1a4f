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


@pytest.mark.parametrize("counter", [None, 0, 16], ids=["timestamps", "nseq", "nseq-mod16"])
def test_stored_plus_lost_is_sent_and_every_sample_in_its_place(counter: int | None) -> None:
    rng = np.random.default_rng(7)
    al = LslAligner(0, 1000.0, counter=counter is not None)
    out, dropped = _run(al, 30_000, rng, counter, drop=0.05, late_ms=8.0)
    stored = sum(b.n for b in out)
    assert stored + al.lost_samples == 30_000 and al.lost_samples == dropped
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
