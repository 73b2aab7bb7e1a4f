"""``therascope report --patient CODE --course --out FILE.pdf``: the course report of a patient
with two recorded sessions (not analysed: no estimate printed), and the refusals in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from app.cli.main import main
from core.report.course import TITLE


def test_course_report_command(app_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patients", "add", "K-9"]) == 0
    for _ in range(2):
        args = ["record", "--patient", "K-9", "--simulate", "--virtual", "--consent"]
        assert main([*args, "--duration", "5", "--quiet"]) == 0
    capsys.readouterr()
    out = app_env / "course.pdf"
    assert main(["report", "--patient", "K-9", "--course", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    pages = [" ".join((p.extract_text() or "").split()) for p in PdfReader(out).pages]
    text = " ".join(pages)
    assert TITLE in pages[0] and "Patient code K-9" in pages[0]
    assert "Sessions 2 (0 analysed)" in pages[0]
    assert text.count("not analysed not analysed not analysed not analysed") == 2
    assert " ± 0." not in text  # no estimate anywhere

    # refusals: no --course, no --patient, an unknown patient, a patient without sessions
    assert main(["report", "--patient", "K-9", "--out", str(out)]) == 2
    assert main(["report", "--course", "--out", str(out)]) == 2
    assert "course report takes --patient" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="No patient with code 'NOPE'"):
        main(["report", "--patient", "NOPE", "--course", "--out", str(out)])
    assert main(["patients", "add", "E-0"]) == 0
    assert main(["report", "--patient", "E-0", "--course", "--out", str(app_env / "e.pdf")]) == 2
    assert "no session yet" in capsys.readouterr().err
    assert not (app_env / "e.pdf").exists()
