"""A recording start that fails or is killed leaves nothing behind once the next start cleaned up;
a live recording's files are never touched.

Issue 13: a failed start left a stray session folder and a 0-byte ``session.json.tmp``. An error
is undone by the start itself; a kill (no ``except`` runs) is undone at the next start by
:func:`core.report.cleanup.clean_interrupted_writes`, after
:func:`core.recording.recovery.recover_unfinished`.
"""

from __future__ import annotations

import shutil
from itertools import count
from pathlib import Path

import pytest

from core.catalog import Catalog
from core.clock import VirtualClock
from core.recording.recovery import recover_unfinished
from core.recording.session import RecordingSession
from core.simulation.scenario import preset
from devices.simulated.sensor import SimulatedSensor
from tests.core.recording.killing import killed_at, needs_fork


def start(cat: Catalog, root: Path, patient_id: int) -> RecordingSession:
    clock = VirtualClock()
    sensor = SimulatedSensor(preset(duration_s=10), seed=4, clock=clock)
    return RecordingSession.start(
        cat, root, patient_id, sensor, None, consent=True, clock=clock, virtual=True
    )


def next_start(cat: Catalog, root: Path) -> list[str]:
    """What the app does at start-up: recover, then clean up."""
    from core.report.cleanup import clean_interrupted_writes

    recover_unfinished(cat, root)
    return clean_interrupted_writes(cat, root)


def nothing_stray(cat: Catalog, root: Path) -> None:
    """Every session folder belongs to a catalog row, and no temporary file is left."""
    folders = {r.folder for r in cat.list_sessions()}
    sessions = root / "sessions"
    on_disk = {f"sessions/{p.name}" for p in sessions.iterdir()} if sessions.is_dir() else set()
    assert on_disk <= folders
    assert not [p for p in root.rglob("*") if p.name.endswith((".tmp", ".partial"))]


@needs_fork
def test_a_start_killed_at_any_step_leaves_nothing_stray_after_the_next_start(
    tmp_path: Path,
) -> None:
    base = tmp_path / "base"
    cat = Catalog.open(base / "catalog.sqlite")
    pid = cat.add_patient("P1").id
    start(cat, tmp_path / "warm", pid).stop()  # the simulator's imports, once, not in each child
    cat.close()
    stray_seen = 0
    for k in count(1):
        root = tmp_path / f"k{k}"
        shutil.copytree(base, root)

        def work(root: Path = root) -> None:
            start(Catalog.open(root / "catalog.sqlite"), root, pid)

        killed = killed_at(k, work, also=[(Catalog, "create_session")])
        cat = Catalog.open(root / "catalog.sqlite")
        sessions = root / "sessions"
        rows = {r.folder for r in cat.list_sessions()}
        if sessions.is_dir():
            stray_seen += any(f"sessions/{p.name}" not in rows for p in sessions.iterdir())
        next_start(cat, root)
        nothing_stray(cat, root)
        cat.close()
        if not killed:
            break
    assert stray_seen >= 3  # the kills did leave stray folders; the next start removed them


def test_a_start_that_fails_on_a_full_disk_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    def full(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    cat = Catalog.open(tmp_path / "catalog.sqlite")
    pid = cat.add_patient("P1").id
    monkeypatch.setattr(os, "fsync", full)  # the first file written (the manifest) fails
    with pytest.raises(Exception, match="full"):
        start(cat, tmp_path, pid)
    monkeypatch.undo()
    next_start(cat, tmp_path)
    nothing_stray(cat, tmp_path)
    assert cat.list_sessions() == []


def test_a_live_recording_is_never_touched(tmp_path: Path) -> None:
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    pid = cat.add_patient("P1").id
    s = start(cat, tmp_path, pid)
    s.advance(s.t0_ns + 1_000_000_000)
    tmp = s.folder / "session.json.tmp"
    tmp.write_bytes(b"")  # as if a manifest write were under way
    before = sorted(p.relative_to(tmp_path) for p in s.folder.rglob("*"))
    assert next_start(cat, tmp_path) == []
    assert sorted(p.relative_to(tmp_path) for p in s.folder.rglob("*")) == before
    s.stop()
    # finished (and recovered, after a kill in stop): a manifest's temporary file is a leftover
    (s.folder / "simulation.json.tmp").write_bytes(b"")
    assert next_start(cat, tmp_path) == [f"{s.record.folder}/simulation.json.tmp"]
    assert (s.folder / "session.json").is_file() and not tmp.exists()


def test_folders_that_may_hold_data_and_anything_outside_are_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "data"
    cat = Catalog.open(root / "catalog.sqlite")
    sessions = root / "sessions"
    # no catalog row, but recorded data (a catalog restored from an older backup?): kept
    kept = sessions / "20260101T000000Z-aaaaaa"
    (kept / "bio").mkdir(parents=True)
    (kept / "session.json").write_text("{}")
    # a folder being deleted (erasure finishes it): kept
    (sessions / ".deleting-20260101T000000Z-bbbbbb").mkdir()
    # a link to a folder outside the data folder that looks like a failed start: kept
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "session.json.tmp").write_bytes(b"")
    (sessions / "20260101T000000Z-cccccc").symlink_to(outside, target_is_directory=True)
    # a failed start: removed
    (sessions / "20260101T000000Z-dddddd").mkdir()
    (sessions / "20260101T000000Z-dddddd" / "recording.lock").write_bytes(b"123")
    (sessions / "20260101T000000Z-dddddd" / "session.json.tmp").write_bytes(b"")
    assert next_start(cat, root) == ["sessions/20260101T000000Z-dddddd"]
    assert (kept / "session.json").exists() and (outside / "session.json.tmp").exists()
    assert (sessions / ".deleting-20260101T000000Z-bbbbbb").is_dir()


def test_on_a_read_only_data_folder_the_cleanup_removes_nothing_and_lets_the_start_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.analysis.results import save_estimates, stage_estimates
    from core.report.cleanup import clean_interrupted_writes
    from tests.core.analysis.test_generations import NEW, OLD
    from tests.faults import read_only

    cat = Catalog.open(tmp_path / "catalog.sqlite")
    s = start(cat, tmp_path, cat.add_patient("P1").id)
    s.stop()
    save_estimates(s.folder, OLD)
    stage_estimates(s.folder, NEW).release()  # a leftover to remove, if only it could be
    (s.folder / "session.json.tmp").write_bytes(b"")
    before = sorted(tmp_path.rglob("*"))
    read_only(monkeypatch, tmp_path)
    assert clean_interrupted_writes(cat, tmp_path) == []
    monkeypatch.undo()
    assert sorted(tmp_path.rglob("*")) == before
    assert len(clean_interrupted_writes(cat, tmp_path)) == 2  # once it can write again
