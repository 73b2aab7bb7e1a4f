"""A read-only data folder or catalog: the program starts, says what is wrong, leaves nothing
half-done, and never shows a traceback (faults injected: CI runs as root)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from app.cli.main import main
from core.catalog import Catalog
from core.clock import VirtualClock
from core.recording.session import RecordingSession
from core.simulation.scenario import preset
from core.storage import READ_ONLY, StorageError
from devices.simulated.sensor import SimulatedSensor
from tests.accounts import make_account
from tests.faults import read_only


@pytest.fixture(autouse=True)
def account(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The data folder's throwaway account: the command line and the GUI unlock with it."""
    for key, value in make_account(tmp_path / "data", tmp_path / "password.txt").items():
        monkeypatch.setenv(key, value)


def test_cli_with_a_read_only_data_folder_says_so(tmp_path, monkeypatch, capsys):
    root = tmp_path / "elsewhere"  # a data folder that cannot even be made
    read_only(monkeypatch, root)
    assert main(["--data-dir", str(root), "patients", "list"]) == 2
    err = capsys.readouterr().err
    assert "read-only" in err and "Traceback" not in err and "Errno" not in err
    assert "damaged" not in err and "backup" not in err


def test_cli_with_a_read_only_catalog_reads_but_does_not_write(tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    assert main(["--data-dir", str(root), "patients", "add", "RO-1"]) == 0
    read_only(monkeypatch, root)
    capsys.readouterr()
    assert main(["--data-dir", str(root), "patients", "list"]) == 0
    assert "RO-1" in capsys.readouterr().out
    assert main(["--data-dir", str(root), "patients", "add", "RO-2"]) == 2
    err = capsys.readouterr().err
    assert "Could not save the new patient" in err and "read-only" in err
    assert "Nothing was changed" in err and "Traceback" not in err
    monkeypatch.undo()
    with Catalog.open(root / "catalog.sqlite") as cat:
        assert cat.patient_by_code("RO-2") is None


def test_a_session_that_cannot_be_cataloged_leaves_no_folder(tmp_path):
    with Catalog.open(tmp_path / "catalog.sqlite") as cat:
        p = cat.add_patient("RO-3")
        cat._conn.execute("PRAGMA query_only = ON")  # SQLite refuses writes: SQLITE_READONLY
        clock = VirtualClock()
        sensor = SimulatedSensor(preset(duration_s=5), seed=3, clock=clock)
        with pytest.raises(StorageError) as e:
            RecordingSession.start(
                cat, tmp_path, p.id, sensor, None, consent=True, clock=clock, virtual=True
            )
        assert e.value.kind == READ_ONLY and "start the session" in str(e.value)
    assert list((tmp_path / "sessions").iterdir()) == []


def test_a_session_folder_that_cannot_be_made_says_read_only(tmp_path, monkeypatch):
    with Catalog.open(tmp_path / "catalog.sqlite") as cat:
        p = cat.add_patient("RO-4")
        read_only(monkeypatch, tmp_path / "sessions")
        clock = VirtualClock()
        sensor = SimulatedSensor(preset(duration_s=5), seed=4, clock=clock)
        with pytest.raises(StorageError) as e:
            RecordingSession.start(
                cat, tmp_path, p.id, sensor, None, consent=True, clock=clock, virtual=True
            )
        monkeypatch.undo()
        assert e.value.kind == READ_ONLY
        assert cat.list_sessions() == []


def test_gui_with_a_read_only_data_folder_starts_and_says_so(qapp, tmp_path, monkeypatch):
    from app.gui.main import run_gui

    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "critical", lambda parent, title, text, *a: shown.append(f"{title}: {text}")
    )
    root = tmp_path / "elsewhere"  # a data folder that cannot even be made
    read_only(monkeypatch, root)
    assert run_gui(str(root), demo=False) == 2
    assert len(shown) == 1 and "read-only" in shown[0] and "Errno" not in shown[0], shown


@pytest.mark.parametrize("command", ["report", "analyse"])
def test_cli_on_a_damaged_catalog_says_damaged_and_how_to_rebuild(tmp_path, capsys, command):
    root = tmp_path / "data"
    with Catalog.open(root / "catalog.sqlite") as cat:
        for i in range(40):
            cat.add_patient(f"D-{i:03d}", notes="n" * 3000)
    path = root / "catalog.sqlite"
    data = bytearray(path.read_bytes())
    data[3 * 4096 :] = b"\x5a" * (len(data) - 3 * 4096)  # the disk lost every page after the 3rd
    path.write_bytes(bytes(data))
    args = [command, "20261205T000000Z-000000"]
    if command == "report":
        args += ["--out", str(tmp_path / "r.pdf")]
    assert main(["--data-dir", str(root), *args]) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and "rebuild-catalog" in err, err
    assert "Traceback" not in err and "sqlite3" not in err
    assert not (tmp_path / "r.pdf").exists()


def test_a_report_the_catalog_cannot_record_is_not_left_behind(tmp_path):
    from core.report.session import export_session_report
    from tests.app.review_data import make_analysed

    with Catalog.open(tmp_path / "catalog.sqlite") as cat:
        p = cat.add_patient("RO-6")
        rec, _ = make_analysed(cat, tmp_path, p.id)
        cat._conn.execute("PRAGMA query_only = ON")  # the catalog refuses the export's record
        out = tmp_path / "out" / "report.pdf"
        with pytest.raises(StorageError) as e:
            export_session_report(cat, tmp_path, rec.id, out)
        assert e.value.kind == READ_ONLY and "record the report's export" in str(e.value)
        assert list(out.parent.iterdir()) == []  # no report, no temporary file
        cat._conn.execute("PRAGMA query_only = OFF")
        assert cat.list_reports(rec.id) == []


def test_a_report_on_a_full_disk_says_full_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    import errno

    import core.report.session as report_session
    from tests.app.review_data import make_analysed

    root = tmp_path / "data"
    with Catalog.open(root / "catalog.sqlite") as cat:
        rec, _ = make_analysed(cat, root, cat.add_patient("FULL-1").id)

    def full(data, path):  # type: ignore[no-untyped-def]
        Path(path).write_bytes(b"%PDF-1.4 half a report")  # the disk filled up mid-write
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(report_session, "render_session_report", full)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["--data-dir", str(root), "report", rec.uid, "--out", str(out / "r.pdf")]) == 2
    err = capsys.readouterr().err
    assert "is full" in err and "Traceback" not in err and "damaged" not in err
    assert list(out.iterdir()) == []
    with Catalog.open(root / "catalog.sqlite") as cat:
        assert cat.list_reports(rec.id) == []
