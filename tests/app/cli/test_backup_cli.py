"""``therascope backup`` and ``therascope restore`` through the real command line: a backup of a
recorded data folder, checked, restored into a new folder that opens with the same patients and
sessions; a damaged backup is refused."""

from __future__ import annotations

from pathlib import Path

from app.cli.main import main
from core.catalog import Catalog
from core.config import data_dir
from tests.app.review_data import record_short


def test_backup_verify_restore(app_env, capsys) -> None:  # type: ignore[no-untyped-def]
    root = data_dir()
    with Catalog.open(root / "catalog.sqlite") as cat:
        p = cat.add_patient("BK-1", name="Berta Kopie")
        rec = record_short(cat, root, p.id, 2.0)
    dest = app_env / "backups" / "b1"
    assert main(["backup", str(dest)]) == 0, capsys.readouterr().err
    assert main(["backup", "--verify", str(dest)]) == 0
    into = app_env / "restored"
    assert main(["restore", str(dest), "--into", str(into)]) == 0, capsys.readouterr().err
    with Catalog.open(into / "catalog.sqlite") as back:
        assert [x.code for x in back.list_patients()] == ["BK-1"]
        assert [s.uid for s in back.list_sessions()] == [rec.uid]
    session_json = Path(rec.folder) / "session.json"
    assert (into / session_json).read_bytes() == (root / session_json).read_bytes()
    # the settings and the audit say when and by whom
    with Catalog.open(root / "catalog.sqlite") as cat:
        assert any(e.entity == "backup" and e.account == "tester" for e in cat.audit_log())

    # one byte of a session file changed: the check says which, a restore writes nothing
    victim = next((dest / "sessions").rglob("*.f32"))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["backup", "--verify", str(dest)]) == 1
    assert victim.name in capsys.readouterr().err
    assert main(["restore", str(dest), "--into", str(app_env / "again")]) == 2
    assert not (app_env / "again").exists() or not any((app_env / "again").iterdir())
