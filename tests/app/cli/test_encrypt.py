"""``therascope encrypt``: a data folder written in the clear is encrypted in place after a full
backup; ``--check`` says whether anything is left in the clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli.main import main
from app.demo.simulation import record_simulated
from core.catalog import Catalog
from core.config import Settings
from core.security import vault


def test_encrypt_a_folder_written_in_the_clear(
    app_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = app_env / "data"
    cat = Catalog.open(data / "catalog.sqlite")  # as an older TheraScope wrote it: no keys used
    p = cat.add_patient("CLR-1")
    small = Settings(camera_width=96, camera_height=72, camera_fps=5)
    rec = record_simulated(cat, data, p.id, 1.0, settings=small)
    cat.close()
    folder = data / rec.folder
    assert not vault.is_sealed_session(folder)

    assert main(["encrypt", "--check"]) == 1
    assert "in the clear" in capsys.readouterr().out
    assert main(["encrypt"]) == 2
    assert "backup" in capsys.readouterr().err
    assert main(["encrypt", "--backup", str(app_env / "before"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Encrypted 1 session(s)" in out and "1 patient record(s)" in out
    assert vault.is_sealed_session(folder) and vault.is_sealed(folder / "session.json")
    assert (app_env / "before" / "sessions").is_dir()  # the full backup came first
    assert main(["encrypt", "--check"]) == 0
    assert main(["verify", rec.uid]) == 0  # the sealed session still matches its checksums
