"""``therascope verify``: every file of one or all sessions against its checksums; the PDF's
data-quality page names a damaged file in red."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from app.cli.main import main
from core.catalog import Catalog
from core.security import vault
from tests.accounts import unlock_here


@pytest.fixture
def env(app_env: Path) -> Path:
    return app_env


def record(capsys: pytest.CaptureFixture[str], code: str) -> str:
    assert main(["patients", "add", code]) == 0
    args = ["record", "--patient", code, "--simulate", "--virtual", "--consent", "--quiet"]
    assert main([*args, "--duration", "8"]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def folder_of(env: Path, uid: str) -> Path:
    cat = Catalog.open(env / "data" / "catalog.sqlite")
    rec = cat.session_by_uid(uid)
    cat.close()
    assert rec is not None
    return env / "data" / rec.folder


def test_verify_reports_a_damaged_session_and_fails(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uid = record(capsys, "V-1")
    assert main(["verify", uid]) == 0
    out = capsys.readouterr().out
    assert f"{uid}  intact: every file matches its checksums" in out
    assert "still good: ECG + EDA: 6 360 of 6 360 samples (100.0 %)" in out

    folder = folder_of(env, uid)
    f32 = folder / "bio" / "bio.f32"
    # two checksum chunks of 12 800 bytes (1 600 samples, 2 s) are left; the file is sealed
    # (the account's folder is encrypted), so it is cut through the storage layer
    assert vault.is_sealed(f32)
    unlock_here(env / "data")
    vault.truncate(f32, 25_600)
    assert main(["verify", uid]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"{uid}  DAMAGED"
    assert lines[1] == (
        "  bio/bio.f32         DAMAGED: truncated: 25 600 of 50 880 bytes left; "
        "3 160 samples lost (0:04.0–0:08.0)"
    )
    assert "bio/bio.idx" in out and "intact" in out
    assert (
        lines[-2]
        == "  still good: ECG + EDA: 3 200 of 6 360 samples (50.3 %); video: 481 of 481 frames"
    )
    assert lines[-1] == "  the catalog's quality figures now count the damaged files"
    assert main(["sessions"]) == 0  # the list no longer says "lost 0"
    assert "lost_samples=3160" in capsys.readouterr().out

    # the PDF's data-quality page names it, in red; never "Good"
    pdf = env / "r.pdf"
    assert main(["report", uid, "--out", str(pdf)]) == 0
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(pdf).pages)
    assert "Damaged file bio/bio.f32 DAMAGED: truncated: 25 600 of 50 880 bytes left" in text
    assert "Data quality Poor" in text


def test_verify_all_counts_and_unknown_session(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = record(capsys, "V-2")
    b = record(capsys, "V-3")
    folder = folder_of(env, b)
    data = bytearray((folder / "video" / "frames.mjpeg").read_bytes())
    data[5000:5016] = bytes(x ^ 0xFF for x in data[5000:5016])  # one sealed chunk: one frame
    (folder / "video" / "frames.mjpeg").write_bytes(bytes(data))
    assert main(["verify", "--all"]) == 1
    out = capsys.readouterr().out
    assert f"{a}  intact" in out and f"{b}  DAMAGED" in out
    assert "1 video frame lost" not in out  # the file line says "1 frame lost"
    assert "frames.mjpeg  DAMAGED: bytes " in out and "; 1 frame lost (0:00." in out
    assert out.rstrip().endswith("2 session(s) checked, 1 damaged")
    assert main(["verify", "nope"]) == 2
    with pytest.raises(SystemExit):
        main(["verify"])


def test_verify_a_damaged_manifest_still_checks_the_other_files(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uid = record(capsys, "V-4")
    folder = folder_of(env, uid)
    manifest = folder / "session.json"
    manifest.write_bytes(manifest.read_bytes()[:-40])
    assert main(["verify", uid]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{uid}  DAMAGED\n") and "session.json is damaged" in out
    assert "bio/bio.f32  intact" in out and "session.json  truncated: " in out


def test_the_report_counts_damage_found_since_the_stop_without_verify(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uid = record(capsys, "V-4")
    vault.truncate(folder_of(env, uid) / "bio" / "bio.f32", 25_600)  # after the stop; no verify
    pdf = env / "r4.pdf"
    assert main(["report", uid, "--out", str(pdf)]) == 0
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(pdf).pages)
    assert "Damaged file bio/bio.f32" in text
    # the recording-quality table counts it too, not the catalog's "lost 0" from the stop
    assert "Stream Expected (samples) Received Lost Lost (%) bio 6 360 3 200 3 160 49.69" in text
