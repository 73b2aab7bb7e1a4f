"""What a damaged file cost, in the words of the review screen and the PDF (one wording), and the
stored figures of a sealed session."""

from __future__ import annotations

import json

from core.quality.session import assess_quality, quality_summary
from core.quality.text import files_rows, stream_rows, video_rows
from core.report.quality import DAMAGE_ROW, data_quality_rows
from tests.core.quality.quality_data import (  # noqa: F401 (fixtures)
    recorded_fixture,
    store_fixture,
)


def test_stored_figures_say_sealed(store) -> None:  # type: ignore[no-untyped-def]
    cat, root, (rec, _) = store
    q = cat.get_session(rec.id).quality
    assert q["integrity"]["state"] == "sealed" and q["integrity"]["sealed_at"]
    assert {f["file"] for f in q["integrity"]["files"]} >= {"bio/bio.f32", "video/frames.mjpeg"}
    manifest = json.loads((root / rec.folder / "session.json").read_text())
    stored = assess_quality(q, manifest["devices"], rec.simulated)
    assert stored["files"]["verdict"] == "good"
    assert stored["files"]["findings"][0]["text"].startswith("files sealed with checksums")
    fresh = quality_summary(root / rec.folder)
    assert fresh["files"]["state"] == "verified" and fresh["files"]["checked"] == "full"
    assert stored["reasons"] == fresh["reasons"]  # intact: the same reasons as before seals
    rows = dict(files_rows(fresh["files"]))
    assert rows["Checksums"].startswith("all files match (every byte checked")
    assert rows["bio/bio.f32"].startswith("intact (")
    assert dict(stream_rows(fresh["signals"]["streams"][0]))["Samples lost: damaged file"] == "0"


def test_a_damaged_file_in_every_wording(store) -> None:  # type: ignore[no-untyped-def]
    _, root, (rec, _) = store
    folder = root / rec.folder
    f32 = folder / "bio" / "bio.f32"
    with open(f32, "r+b") as fh:
        fh.truncate(f32.stat().st_size // 2)
    s = quality_summary(folder)
    (st,) = s["signals"]["streams"]
    assert st["damaged"] and st["lost"] == 1600 + st["damaged"]  # the radio's gap and the file's
    assert st["gaps"] == 1  # the radio's gap alone
    assert s["signals"]["verdict"] == s["files"]["verdict"] == s["verdict"] == "poor"
    texts = [f["text"] for f in s["signals"]["findings"]]
    assert any(t.startswith("10.0 % of ECG + EDA samples lost in 1 gap") for t in texts)
    assert any(
        t.startswith(f"{st['damaged']} ECG + EDA samples lost: damaged file bio/bio.f32 (0:")
        for t in texts
    )
    rows = dict(stream_rows(st))
    assert rows["Samples lost: damaged file"].startswith(f"{st['damaged']:,}".replace(",", " "))
    files = dict(files_rows(s["files"]))
    assert files["Checksums"] == "DAMAGED: bio/bio.f32"
    assert files["bio/bio.f32"].startswith("DAMAGED: truncated: ")
    assert dict(video_rows(s["video"]))["Frames lost: damaged file"] == "0"
    # the PDF: red lines (DAMAGE_ROW) naming the file and the samples
    pdf = {k: v for k, v in data_quality_rows(s)}
    assert pdf["Files: verdict (checksums)"] == "Poor: DAMAGED: bio/bio.f32"
    assert pdf[f"{DAMAGE_ROW} bio/bio.f32"] == files["bio/bio.f32"]
    assert pdf[f"{DAMAGE_ROW}: ECG + EDA samples lost"] == rows["Samples lost: damaged file"]
    assert pdf["Overall"].startswith("Poor: ")


def test_an_unsealed_session_prints_not_verified(store) -> None:  # type: ignore[no-untyped-def]
    _, root, (rec, _) = store
    folder = root / rec.folder
    (folder / "integrity.json").unlink()
    manifest = json.loads((folder / "session.json").read_text())
    del manifest["integrity"]
    (folder / "session.json").write_text(json.dumps(manifest))
    s = quality_summary(folder)
    assert dict(stream_rows(s["signals"]["streams"][0]))["Samples lost: damaged file"] == (
        "not verified"
    )
    pdf = dict((k, v) for k, v in data_quality_rows(s))
    assert pdf["Files: verdict (checksums)"].startswith("Files not verified: this session has no")
    assert not any(k.startswith(DAMAGE_ROW) for k in pdf)
