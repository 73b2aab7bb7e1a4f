"""An analysis is one generation: estimates and details published together, never half of one.

Issue 13: a kill between the older layout's two renames paired new estimates with the old
analysis.json, so the next report printed the wrong frame counts, rate and model (possibly without
the demo-model warning). Here the storing is killed (SIGKILL in a forked child) or fails at every
one of its file-system steps, and the reader must see the whole old analysis or the whole new one,
in the folder and in the catalog alike.
"""

from __future__ import annotations

import errno
import json
import shutil
from itertools import count
from pathlib import Path

import numpy as np
import pytest

from core.analysis.results import SessionEstimates, load_estimates, save_estimates
from core.catalog import Catalog
from core.config import Settings
from tests.core.analysis.cohort_data import add_session
from tests.core.recording.killing import failing_at, killed_at, needs_fork


def estimates(n: int, demo: bool) -> SessionEstimates:
    """``n`` frames over a 60-s session, from the demo model or from a clinic's."""
    t = np.linspace(0.0, 59.5, n)
    out = np.full((n, 10), 5.0, np.float32)
    out[:, 0] = 3.0 if demo else 7.0
    out[:, 1] = np.linspace(2.0, 8.0, n)
    label = "Demo model" if demo else "Clinic model v2"
    info = {
        "checkpoint": {"label": label, "demo": demo, "sha256": ("a" if demo else "b") * 64},
        "device": "cpu: test",
        "frames_per_s": n / 60.0,
        "counts": {"frames_stored": 600, "frames_analysed": n, "estimated": n},
    }
    return SessionEstimates(t, np.arange(n), out, np.ones(n, bool), np.ones(n, bool), info)


OLD = estimates(120, demo=True)
NEW = estimates(240, demo=False)


def which(est: SessionEstimates | None) -> SessionEstimates:
    """The analysis ``est`` is, OLD or NEW, checked whole: estimates and details of one run."""
    assert est is not None
    ref = OLD if len(est) == len(OLD) else NEW
    assert len(est) == len(ref) == est.info["counts"]["frames_analysed"]
    assert est.info["frames_per_s"] == ref.info["frames_per_s"]
    assert est.info["checkpoint"]["label"] == ref.info["checkpoint"]["label"]
    assert est.demo_model == ref.demo_model
    np.testing.assert_array_equal(est.outputs, ref.outputs)
    np.testing.assert_array_equal(est.t_s, ref.t_s)
    return ref


def analysis_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in (folder / "analysis").rglob("*"))


def tidy(folder: Path) -> str:
    """The analysis folder holds one published generation and nothing else; its name."""
    current = json.loads((folder / "analysis" / "current.json").read_text())["generation"]
    assert analysis_files(folder) == [
        "analysis/current.json",
        f"analysis/{current}",
        f"analysis/{current}/analysis.json",
        f"analysis/{current}/estimates.npz",
    ]
    return str(current)


# --- the folder alone (save_estimates / load_estimates) -----------------------------------------


def test_an_analysis_is_stored_as_one_published_generation(tmp_path: Path) -> None:
    save_estimates(tmp_path, OLD)
    first = tidy(tmp_path)
    back = load_estimates(tmp_path)
    assert which(back) is OLD and back is not None and back.info["generation"] == first
    save_estimates(tmp_path, NEW)
    second = tidy(tmp_path)  # the older generation went
    assert second != first and which(load_estimates(tmp_path)) is NEW


@needs_fork
def test_a_kill_at_any_step_of_storing_leaves_the_old_analysis_or_the_new_one(
    tmp_path: Path,
) -> None:
    left = []
    for k in count(1):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        save_estimates(folder, OLD)
        killed = killed_at(k, lambda folder=folder: save_estimates(folder, NEW))
        left.append((folder, which(load_estimates(folder))))
        if not killed:
            assert left[-1][1] is NEW
            break
    assert len(left) > 4  # every write, rename and removal was a place to die
    from core.analysis.results import clean_analysis_folder

    for folder, seen in left:  # the next start
        clean_analysis_folder(folder)
        tidy(folder)
        assert which(load_estimates(folder)) is seen


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left"), KeyboardInterrupt()])
def test_a_failure_at_any_step_of_storing_leaves_the_old_analysis_or_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    left = []
    for k in count(1):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        save_estimates(folder, OLD)
        failing = failing_at(monkeypatch, k, exc)
        try:
            save_estimates(folder, NEW)
        except type(exc):
            pass
        monkeypatch.undo()
        left.append((folder, which(load_estimates(folder))))
        if not failing.reached:
            assert left[-1][1] is NEW
            break
    from core.analysis.results import clean_analysis_folder
    from core.recording.cleanup import write_in_progress

    for folder, seen in left:
        assert not any(map(write_in_progress, (folder / "analysis").glob("*.lock")))
        clean_analysis_folder(folder)
        tidy(folder)
        assert which(load_estimates(folder)) is seen


def test_the_cleanup_removes_what_kills_left_and_keeps_the_published_analysis(
    tmp_path: Path,
) -> None:
    from core.analysis.results import clean_analysis_folder, stage_estimates

    save_estimates(tmp_path, OLD)
    published = tidy(tmp_path)
    adir = tmp_path / "analysis"
    # what kills leave: a half-written generation, a complete unpublished one, a pointer's
    # temporary file, a dead writer's lock, the older layout's temporaries
    (adir / "gen-20260101T000000000000Z-00000001.partial").mkdir()
    (adir / "gen-20260101T000000000000Z-00000001.partial" / "estimates.npz").write_bytes(b"ha")
    staged = stage_estimates(tmp_path, NEW)
    staged.release()  # its writer died before publishing (and no catalog recorded it)
    (adir / f"current.json.{staged.generation}.partial").write_text("{")
    (adir / "gen-20260101T000000000000Z-00000002.lock").write_bytes(b"")
    (adir / "estimates.npz.partial").write_bytes(b"x")
    (adir / "analysis.json.partial").write_bytes(b"")
    (adir / "notes.txt").write_text("not ours")  # not an analysis file: stays
    removed = clean_analysis_folder(tmp_path)
    assert len(removed) == 6 and all(r.startswith("analysis/") for r in removed)
    (adir / "notes.txt").unlink()
    assert tidy(tmp_path) == published and which(load_estimates(tmp_path)) is OLD
    assert clean_analysis_folder(tmp_path) == []


def test_the_cleanup_leaves_a_generation_being_written(tmp_path: Path) -> None:
    from core.analysis.results import clean_analysis_folder, stage_estimates

    save_estimates(tmp_path, OLD)
    staged = stage_estimates(tmp_path, NEW)  # a live writer (this process) holds its lock
    assert clean_analysis_folder(tmp_path) == []
    assert staged.path.is_dir() and which(load_estimates(tmp_path)) is OLD
    staged.publish()
    tidy(tmp_path)
    assert which(load_estimates(tmp_path)) is NEW


# --- the older layout ----------------------------------------------------------------------------


def write_older_layout(folder: Path, arrays: SessionEstimates, info: SessionEstimates) -> None:
    """What TheraScope before generations left: the two files directly in analysis/ (from two
    runs when a kill came between their renames)."""
    adir = folder / "analysis"
    adir.mkdir(parents=True, exist_ok=True)
    np.savez(
        adir / "estimates.npz",
        t_s=arrays.t_s,
        frame=arrays.frame,
        outputs=arrays.outputs,
        has_face=arrays.has_face,
        bio_complete=arrays.bio_complete,
    )
    (adir / "analysis.json").write_text(json.dumps({"format_version": 1, **info.info}))


def test_an_older_analysis_is_still_read_and_replaced_by_the_next(tmp_path: Path) -> None:
    write_older_layout(tmp_path, OLD, OLD)
    back = load_estimates(tmp_path)
    assert which(back) is OLD and back is not None and "generation" not in back.info
    save_estimates(tmp_path, NEW)
    tidy(tmp_path)  # the older files went once the new generation was published
    assert which(load_estimates(tmp_path)) is NEW


def test_the_details_alone_come_from_the_analysis_the_estimates_come_from(tmp_path: Path) -> None:
    """What the review screen's speed estimate reads (core.analysis.planning)."""
    from core.analysis.results import load_analysis_info

    assert load_analysis_info(tmp_path) is None
    write_older_layout(tmp_path, OLD, OLD)
    info = load_analysis_info(tmp_path)
    assert info is not None and info["counts"]["frames_analysed"] == len(OLD)
    save_estimates(tmp_path, NEW)
    info = load_analysis_info(tmp_path)
    assert info is not None and info["counts"]["frames_analysed"] == len(NEW)


def test_an_older_analysis_split_by_a_kill_is_refused_not_misreported(tmp_path: Path) -> None:
    write_older_layout(tmp_path, NEW, OLD)  # new estimates, old details
    with pytest.raises(ValueError, match="two different analyses"):
        load_estimates(tmp_path)


# --- with the catalog (store_analysis, review_of, the start-up cleanup) --------------------------


@pytest.fixture
def analysed(tmp_path: Path) -> tuple[Path, int]:
    """A data folder with one session analysed (OLD) through the catalog; (root, session id)."""
    from core.analysis.review import store_analysis

    root = tmp_path / "base"
    cat = Catalog.open(root / "catalog.sqlite")
    p = cat.add_patient("P1")
    rec = add_session(cat, root, p.id, (-0.5, 0.5), (0.3, -0.2), analysed=False)
    store_analysis(cat, root, rec.id, OLD)
    cat.close()
    return root, rec.id


def agreeing(cat: Catalog, root: Path, session_id: int) -> SessionEstimates:
    """The review and the catalog's row describe one analysis, whole; which one."""
    from core.analysis.results import result_dir_of
    from core.analysis.review import review_of

    review = review_of(cat, root, session_id)
    assert review is not None
    ref = which(review.estimates)
    row = cat.latest_analysis(session_id)
    assert row is not None
    assert row.result_dir == result_dir_of(review.estimates)
    assert row.checkpoint_label == ref.info["checkpoint"]["label"] == review.checkpoint["label"]
    assert row.demo_model == ref.demo_model == review.demo_model
    assert row.summary["demo_model"] == ref.demo_model
    return ref


def tidy_after_start(cat: Catalog, root: Path, session_id: int) -> SessionEstimates:
    """After the start-up cleanup: still one whole analysis, the one the catalog names, alone."""
    from core.report.cleanup import clean_interrupted_writes

    before = agreeing(cat, root, session_id)
    clean_interrupted_writes(cat, root)
    assert agreeing(cat, root, session_id) is before
    rec = cat.get_session(session_id)
    row = cat.latest_analysis(session_id)
    assert rec is not None and row is not None
    assert f"analysis/{tidy(root / rec.folder)}" == row.result_dir
    return before


@needs_fork
def test_a_kill_at_any_step_of_storing_and_registering_never_splits_folder_and_catalog(
    analysed: tuple[Path, int], tmp_path: Path
) -> None:
    from core.analysis.review import store_analysis

    base, sid = analysed
    after_kills = []
    for k in count(1):
        root = tmp_path / f"k{k}"
        shutil.copytree(base, root)

        def work(root: Path = root) -> None:
            store_analysis(Catalog.open(root / "catalog.sqlite"), root, sid, NEW)

        killed = killed_at(k, work, also=[(Catalog, "record_analysis")])
        cat = Catalog.open(root / "catalog.sqlite")
        seen = tidy_after_start(cat, root, sid)
        cat.close()
        if not killed:
            assert seen is NEW
            break
        after_kills.append(seen)
    # killed before the catalog write (OLD stays) and after it, before publishing ended (NEW)
    olds = sum(seen is OLD for seen in after_kills)
    assert olds >= 5 and len(after_kills) - olds >= 3, (olds, len(after_kills))


@pytest.mark.parametrize("exc", [OSError(errno.EIO, "I/O error"), KeyboardInterrupt()])
def test_a_failure_at_any_step_of_storing_and_registering_never_splits_them(
    analysed: tuple[Path, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    exc: BaseException,
) -> None:
    from core.analysis.review import store_analysis

    base, sid = analysed
    for k in count(1):
        root = tmp_path / f"k{k}"
        shutil.copytree(base, root)
        cat = Catalog.open(root / "catalog.sqlite")
        failing = failing_at(monkeypatch, k, exc, also=[(Catalog, "record_analysis")])
        try:
            store_analysis(cat, root, sid, NEW)
        except type(exc):
            pass
        monkeypatch.undo()
        seen = tidy_after_start(cat, root, sid)
        cat.close()
        if not failing.reached:
            assert seen is NEW
            break


def test_a_registered_generation_not_yet_published_is_read_and_then_published(
    analysed: tuple[Path, int],
) -> None:
    """A kill between the catalog write and publishing: the catalog's analysis is read (lists,
    review and report agree), and the next start publishes it in the folder."""
    from core.analysis.results import published_generation, stage_estimates
    from core.analysis.review import _review, record_review

    root, sid = analysed
    cat = Catalog.open(root / "catalog.sqlite")
    rec = cat.get_session(sid)
    assert rec is not None
    folder = root / rec.folder
    old_gen = published_generation(folder)
    staged = stage_estimates(folder, NEW)
    est = load_estimates(folder, staged.result_dir)
    assert est is not None
    record_review(cat, _review(cat, rec, est, Settings()))
    staged.release()  # killed here
    assert published_generation(folder) == old_gen
    assert which(load_estimates(folder)) is OLD  # the folder alone still says OLD…
    assert agreeing(cat, root, sid) is NEW  # …but whoever has the catalog reads NEW
    assert tidy_after_start(cat, root, sid) is NEW
    assert published_generation(folder) == staged.generation
    cat.close()


@pytest.mark.slow
def test_analysing_a_session_registers_the_generation_it_publishes(tmp_path: Path) -> None:
    from app.demo.simulation import record_simulated
    from core.analysis.review import analyse_and_review
    from tests.core.analysis.test_engine import SMALL_VIDEO, checkpoint

    cat = Catalog.open(tmp_path / "catalog.sqlite")
    rec = record_simulated(cat, tmp_path, cat.add_patient("P1").id, 10.0, settings=SMALL_VIDEO)
    ck = checkpoint(tmp_path / "m.pt")
    settings = Settings(analysis_device="cpu", analysis_frames_per_s=2.0)
    gens = []
    for _ in range(2):
        review = analyse_and_review(cat, tmp_path, rec.id, ck, settings)
        row = cat.latest_analysis(rec.id)
        assert row is not None and row.result_dir == f"analysis/{tidy(tmp_path / rec.folder)}"
        assert review.estimates.info["generation"] == row.result_dir.split("/")[1]
        gens.append(row.result_dir)
    assert gens[0] != gens[1] and len(cat.list_analyses(rec.id)) == 2
    cat.close()
