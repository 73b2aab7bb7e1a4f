"""``therascope report``: the session notes only with --include-notes; the therapist's name from
the settings file; page 1 of N."""

from __future__ import annotations

import json

from pypdf import PdfReader

from app.cli.main import main
from core.catalog import Catalog
from core.config import data_dir

NOTES = "Exposure to lifts went well."


def pdf_pages(path) -> list[str]:  # type: ignore[no-untyped-def]
    return [" ".join((p.extract_text() or "").split()) for p in PdfReader(path).pages]


def test_report_prints_the_notes_only_when_asked(app_env, capsys) -> None:  # type: ignore[no-untyped-def]
    settings = app_env / "cfg" / "settings.json"
    saved = json.loads(settings.read_text())
    settings.write_text(json.dumps({**saved, "therapist_name": "Dr. Anna Beispiel"}))
    assert main(["patients", "add", "N-7"]) == 0
    args = ["record", "--patient", "N-7", "--simulate", "--virtual", "--consent"]
    assert main([*args, "--duration", "6", "--quiet"]) == 0
    uid = capsys.readouterr().out.strip().splitlines()[-1]
    cat = Catalog.open(data_dir() / "catalog.sqlite")
    rec = cat.session_by_uid(uid)
    assert rec is not None
    cat.update_session_notes(rec.id, NOTES)
    cat.close()

    plain = app_env / "plain.pdf"
    assert main(["report", uid, "--out", str(plain)]) == 0
    pages = pdf_pages(plain)
    assert NOTES not in " ".join(pages) and "Therapist Dr. Anna Beispiel" in pages[0]
    assert f"Page 1 of {len(pages)}" in pages[0]

    with_notes = app_env / "notes.pdf"
    assert main(["report", uid, "--out", str(with_notes), "--include-notes"]) == 0
    first = pdf_pages(with_notes)[0]
    assert f"Session notes {NOTES}" in first
