"""The optimised runtime's thread count follows the cores this process may use (issue 21)."""

from __future__ import annotations

import os

import pytest

from core.inference import runner


def test_threads_follow_the_affinity_not_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # hyperthreads of a big host
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    assert runner.threads() == 3


def test_threads_without_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(runner, "_physical_cores", lambda: 4)  # macOS: hw.physicalcpu
    assert runner.threads() == 4
    monkeypatch.setattr(runner, "_physical_cores", lambda: None)  # not knowable: cpu_count
    assert runner.threads() == 8
