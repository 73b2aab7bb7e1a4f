"""One patient as one zip: every session's data, video, estimates and records, a manifest whose
SHA-256s match, the audit excerpt; the name only when asked; nothing left behind on failure."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.catalog import Catalog
from core.config import Settings
from core.privacy import patient_export
from core.privacy.patient_export import AUDIT_NAME, MANIFEST_NAME, export_patient
from tests.app.review_data import make_analysed, record_short

NAME = "Wilhelmina Zapfenstreich"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cat(root: Path) -> Iterator[Catalog]:
    c = Catalog.open(root / "catalog.sqlite")
    yield c
    c.close()


def _patient(cat: Catalog, root: Path):
    p = cat.add_patient("EXP-1", name=NAME, birth_year=1980)
    analysed, _ = make_analysed(cat, root, p.id)
    plain = record_short(cat, root, p.id, 3.0)
    cat.add_marker(analysed.id, 1.0, "note", "tension rises")
    cat.set_self_report(analysed.id, "pre", sam_valence=3, gad7=9)
    cat.record_report(analysed.id, pages=2, include_name=False)
    other = cat.add_patient("OTHER-1")
    record_short(cat, root, other.id, 3.0)
    return p, analysed, plain


def test_the_zip_holds_every_session_with_a_manifest_that_checks(cat, root, tmp_path) -> None:
    p, analysed, plain = _patient(cat, root)
    out = tmp_path / "out" / "EXP-1.zip"
    shares: list[float] = []

    res = export_patient(cat, root, p.id, out, settings=Settings(), progress=shares.append)

    assert (
        res.path == out
        and out.is_file()
        and sorted(res.sessions) == sorted([analysed.uid, plain.uid])
    )
    assert res.left_out == {} and not res.include_name and shares[-1] == 1.0
    assert sorted(x.name for x in out.parent.iterdir()) == ["EXP-1.zip"]  # nothing left over
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read(MANIFEST_NAME))
        assert manifest["patient"] == {"code": "EXP-1", "uuid": p.uuid}
        assert {s["uid"] for s in manifest["sessions"]} == {analysed.uid, plain.uid}
        assert all(s["exported"] for s in manifest["sessions"])
        listed = {f["path"]: f for f in manifest["files"]}
        assert set(listed) == names - {MANIFEST_NAME} and res.files == len(names)
        for path, f in listed.items():
            data = zf.read(path)
            assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
        for rec in (analysed, plain):
            base = f"sessions/{rec.uid}"
            for part in ("data/signals_800Hz.csv", "data/session.json", "video/frames.mjpeg",
                         "video/frames.idx", "markers.json", "self_reports.json", "reports.json"):  # fmt: skip
                assert f"{base}/{part}" in names, part
            # the video as stored, byte for byte
            video = (root / rec.folder / "video" / "frames.mjpeg").read_bytes()
            assert zf.read(f"{base}/video/frames.mjpeg") == video
        a = f"sessions/{analysed.uid}"
        assert {f"{a}/analysis/estimates.npz", f"{a}/analysis/analysis.json"} <= names
        assert f"{a}/data/estimates.csv" in names
        assert not any(n.startswith(f"sessions/{plain.uid}/analysis/") for n in names)
        assert json.loads(zf.read(f"{a}/self_reports.json"))[0]["gad7"] == 9
        assert json.loads(zf.read(f"{a}/markers.json"))[0]["label"] == "tension rises"
        assert json.loads(zf.read(f"{a}/reports.json"))[0]["pages"] == 2
        audit = json.loads(zf.read(AUDIT_NAME))
        seen = {(e["action"], e["entity"]) for e in audit}
        assert {("create", "patient"), ("create", "session"), ("create", "marker"),
                ("create", "self_report"), ("export", "report"), ("export", "patient")} <= seen  # fmt: skip
        assert all("OTHER-1" not in e["detail"] for e in audit)
        # no name anywhere in the zip unless asked
        for n in names:
            assert b"Zapfenstreich" not in zf.read(n), n
    entry = cat.audit_log(entity="patient", entity_id=p.id)[0]
    assert (entry.action, entry.detail) == ("export", "format=zip; sessions=2")


def test_the_name_only_when_asked(cat, root, tmp_path) -> None:
    p, _, _ = _patient(cat, root)
    out = tmp_path / "named.zip"
    export_patient(cat, root, p.id, out, include_name=True, settings=Settings())
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read(MANIFEST_NAME))
        assert manifest["patient"]["name"] == NAME and manifest["patient"]["birth_year"] == 1980
        sessions = [n for n in zf.namelist() if n.endswith("/data/session.json")]
        assert sessions and all(NAME.encode() in zf.read(n) for n in sessions)
    for e in cat.audit_log(limit=1000):
        assert "Zapfenstreich" not in e.detail


def test_a_failure_leaves_nothing_and_the_old_zip_stays(cat, root, tmp_path, monkeypatch) -> None:
    p, _, _ = _patient(cat, root)
    out = tmp_path / "out" / "p.zip"
    out.parent.mkdir()
    out.write_bytes(b"the zip of yesterday")

    def broken(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(patient_export, "export_session", broken)
    with pytest.raises(OSError, match="No space"):
        export_patient(cat, root, p.id, out, settings=Settings())
    assert sorted(x.name for x in out.parent.iterdir()) == ["p.zip"]
    assert out.read_bytes() == b"the zip of yesterday"
    assert cat.audit_log(entity="patient", entity_id=p.id)[0].action == "create"


def test_a_recording_session_is_left_out_and_said(cat, root, tmp_path) -> None:
    p = cat.add_patient("EXP-2")
    done = record_short(cat, root, p.id, 3.0)
    cat.create_session(
        p.id, "rec-0001", "2025-03-01T09:30:00+00:00", {}, {},
        "2025-03-01T09:29:00+00:00", "verbal", True, "sessions/rec-0001",
    )  # fmt: skip
    res = export_patient(cat, root, p.id, tmp_path / "p.zip", settings=Settings())
    assert res.sessions == [done.uid] and "recording" in res.left_out["rec-0001"]
    with zipfile.ZipFile(res.path) as zf:
        manifest = json.loads(zf.read(MANIFEST_NAME))
        left = next(s for s in manifest["sessions"] if s["uid"] == "rec-0001")
        assert not left["exported"] and "recording" in left["left_out"]
        assert not any(n.startswith("sessions/rec-0001/") for n in zf.namelist())
    entry = cat.audit_log(entity="patient", entity_id=p.id)[0]
    assert entry.detail == "format=zip; sessions=1"


def test_no_such_patient_or_a_folder_as_the_file(cat, root, tmp_path) -> None:
    with pytest.raises(KeyError):
        export_patient(cat, root, 999, tmp_path / "x.zip", settings=Settings())
    p = cat.add_patient("EXP-3")
    with pytest.raises(IsADirectoryError):
        export_patient(cat, root, p.id, tmp_path, settings=Settings())
