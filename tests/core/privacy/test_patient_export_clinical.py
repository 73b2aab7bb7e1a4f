"""A patient's zip (GDPR access) holds the questionnaires item by item and the SUDS ratings
(issue 19): scored as on screen, the GAD-7 total entered alone marked "total only"."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from core.catalog import Catalog
from core.config import Settings
from core.privacy.patient_export import export_patient
from tests.app.review_data import record_short


def test_questionnaires_and_suds_in_the_patient_zip(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with Catalog.open(root / "catalog.sqlite") as cat:
        p = cat.add_patient("ZIP-19")
        rec = record_short(cat, root, p.id, 3.0)
        cat.set_self_report(rec.id, "pre", gad7=11)
        cat.set_questionnaire(rec.id, "post", "phq9", dict.fromkeys(range(1, 10), 1))
        cat.add_suds(rec.id, 1.25, 55)
        out = tmp_path / "p.zip"
        export_patient(cat, root, p.id, out, settings=Settings())
    base = f"sessions/{rec.uid}"
    with zipfile.ZipFile(out) as zf:
        q = {
            (x["phase"], x["instrument"]): x
            for x in json.loads(zf.read(f"{base}/questionnaires.json"))
        }
        suds = json.loads(zf.read(f"{base}/suds.json"))
        markers = list(csv.DictReader(io.StringIO(zf.read(f"{base}/data/markers.csv").decode())))
    assert q[("pre", "gad7")]["source"] == "total only" and q[("pre", "gad7")]["total"] == 11
    phq = q[("post", "phq9")]
    assert (phq["total"], phq["band"], phq["flagged"], phq["answers"]["9"]) == (9, "mild", True, 1)
    assert [(s["t_s"], s["rating"]) for s in suds] == [(1.25, 55)]
    assert [(m["kind"], m["label"]) for m in markers] == [("suds", "55")]
