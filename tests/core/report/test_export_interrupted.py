"""A report export that is interrupted leaves no half PDF and no hidden copy of patient data.

Issue 13: a killed export left a hidden, complete ``.<name>.partial`` with patient data beside
the target, which nothing ever removed. Now an error (KeyboardInterrupt included) deletes the
temporary file at once, and a kill is cleaned up at the next start from the journal in the data
folder, even when the report went to a folder outside it.
"""

from __future__ import annotations

import os
import signal
from itertools import count
from pathlib import Path

import pytest

from core.catalog import Catalog
from tests.core.recording.killing import killed_at, needs_fork

PDF = b"%PDF-1.4\n" + b"patient data " * 2000 + b"\n%%EOF\n"


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def journal(data_root: Path) -> list[str]:
    d = data_root / "pending-exports"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def write_in_two_halves(tmp: Path) -> None:
    """A renderer: half the PDF, synced (a step to be killed at), then the rest."""
    with open(tmp, "wb") as fh:
        fh.write(PDF[: len(PDF) // 2])
        fh.flush()
        os.fsync(fh.fileno())
        fh.write(PDF[len(PDF) // 2 :])


@pytest.fixture
def places(tmp_path: Path) -> tuple[Catalog, Path, Path]:
    """(catalog, data folder, a report folder outside the data folder)."""
    root, out = tmp_path / "data", tmp_path / "reports"
    out.mkdir()
    cat = Catalog.open(root / "catalog.sqlite")
    yield cat, root, out
    cat.close()


@needs_fork
def test_an_export_killed_at_any_step_leaves_no_partial_file_after_the_next_start(
    places: tuple[Catalog, Path, Path],
) -> None:
    from core.report.cleanup import clean_interrupted_writes, pending_export

    cat, root, out = places
    kills = 0
    for k in count(1):
        target = out / f"report {k}.pdf"

        def export(target: Path = target) -> None:
            with pending_export(root, target) as tmp:
                write_in_two_halves(tmp)

        killed = killed_at(k, export)
        removed = clean_interrupted_writes(cat, root)  # the next start
        assert hidden_files(out) == [] and journal(root) == []
        assert not target.exists() or target.read_bytes() == PDF  # never half a report
        assert not any("report" in r and ".pdf" in r for r in removed)  # no names in the log
        if not killed:
            assert target.read_bytes() == PDF
            break
        kills += 1
    assert kills >= 3


@needs_fork
def test_a_killed_export_leaves_its_temporary_file_until_the_next_start(
    places: tuple[Catalog, Path, Path],
) -> None:
    """What the kill leaves (the issue), and that the journal leads the cleanup to it."""
    from core.report.cleanup import clean_interrupted_writes, pending_export

    cat, root, out = places
    (out / "earlier.pdf").write_bytes(PDF)

    def killed_mid_write() -> None:
        with pending_export(root, out / "earlier.pdf") as tmp:
            tmp.write_bytes(PDF[:1000])
            os.kill(os.getpid(), signal.SIGKILL)

    assert killed_at(0, killed_mid_write)  # step 0: never; the work kills itself
    assert len(hidden_files(out)) == 1 and len(journal(root)) == 2  # entry and lock
    removed = clean_interrupted_writes(cat, root)
    assert len(removed) == 1 and "earlier" not in removed[0]
    assert hidden_files(out) == [] and journal(root) == []
    assert (out / "earlier.pdf").read_bytes() == PDF  # the earlier report is untouched


@pytest.mark.parametrize("exc", [KeyboardInterrupt, OSError, RuntimeError])
def test_an_export_that_fails_removes_its_temporary_file_at_once(
    places: tuple[Catalog, Path, Path], exc: type[BaseException]
) -> None:
    from core.report.cleanup import pending_export

    _, root, out = places
    (out / "r.pdf").write_bytes(b"the earlier report")
    with pytest.raises(exc), pending_export(root, out / "r.pdf") as tmp:
        tmp.write_bytes(PDF[:500])
        raise exc()
    assert hidden_files(out) == [] and journal(root) == []
    assert (out / "r.pdf").read_bytes() == b"the earlier report"


def test_the_session_report_interrupted_mid_write_leaves_nothing(
    places: tuple[Catalog, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.report.session as report_session
    from tests.app.review_data import record_short

    cat, root, out = places
    p = cat.add_patient("P-7", name="Erika Mustermann")
    rec = record_short(cat, root, p.id, 5.0)

    def half_then_ctrl_c(data: object, path: Path) -> int:
        Path(path).write_bytes(PDF[:1000])
        raise KeyboardInterrupt

    monkeypatch.setattr(report_session, "render_session_report", half_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        report_session.export_session_report(cat, root, rec.id, out / "Erika.pdf", True)
    assert list(out.iterdir()) == [] and journal(root) == []
    assert cat.list_reports(rec.id) == []  # no export recorded


def test_the_cleanup_removes_only_the_file_an_entry_names_and_only_if_it_is_ours(
    places: tuple[Catalog, Path, Path],
) -> None:
    import json

    from core.recording.cleanup import WriteLock
    from core.report.cleanup import clean_interrupted_writes, export_temp_path

    cat, root, out = places
    jdir = root / "pending-exports"
    jdir.mkdir(parents=True)
    target = out / "r.pdf"

    def entry(token: str, temp: Path, tgt: Path = target) -> None:
        (jdir / f"{token}.json").write_text(json.dumps({"temp": str(temp), "target": str(tgt)}))

    # not ours: another name, a token that is not the entry's, a link, a folder
    other = out / "holiday.jpg"
    other.write_bytes(b"x")
    entry("0" * 16, other)
    wrong_token = export_temp_path(target, "2" * 16)
    wrong_token.write_bytes(b"x")
    entry("1" * 16, wrong_token)
    link = export_temp_path(target, "3" * 16)
    link.symlink_to(other)
    entry("3" * 16, link)
    folder = export_temp_path(target, "4" * 16)
    folder.mkdir()
    entry("4" * 16, folder)
    (jdir / f"{'5' * 16}.json").write_text('{"temp": ')  # damaged: killed while written
    # a live export (its lock held here): left alone
    live = export_temp_path(target, "6" * 16)
    live.write_bytes(b"x")
    entry("6" * 16, live)
    lock = WriteLock(jdir / f"{'6' * 16}.lock")
    assert clean_interrupted_writes(cat, root) == []
    assert other.exists() and wrong_token.exists() and link.is_symlink() and folder.is_dir()
    assert live.exists() and sorted(p.name for p in jdir.iterdir()) == [
        f"{'6' * 16}.json",
        f"{'6' * 16}.lock",
    ]
    lock.release()  # the export died
    assert len(clean_interrupted_writes(cat, root)) == 1
    assert not live.exists() and journal(root) == []


def test_older_hidden_report_temporaries_in_the_data_folder_are_removed(
    places: tuple[Catalog, Path, Path],
) -> None:
    from core.report.cleanup import clean_interrupted_writes

    cat, root, _ = places
    (root / ".report.pdf.partial").write_bytes(PDF)  # what the export before the journal left
    (root / "model.pt.partial").write_bytes(b"x")  # not a report's: someone else's write
    removed = clean_interrupted_writes(cat, root)
    assert len(removed) == 1 and "report.pdf" not in removed[0]
    assert not (root / ".report.pdf.partial").exists() and (root / "model.pt.partial").exists()
