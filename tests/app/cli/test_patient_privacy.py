"""``therascope patients export CODE --out FILE.zip`` and the erasures of ``patients delete`` and
``sessions delete``: keys destroyed and in the ledger, no byte of the patient left."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from app.cli.main import main
from core.catalog import Catalog
from core.security.keystore import KeyStore
from tests.accounts import TEST_PASSWORD, TEST_USER

CODE = "ERASE-ME-4711"
NAME = "Wilhelmina Zapfenstreich"


@pytest.fixture
def env(app_env):
    return app_env


def _record(code: str, capsys) -> str:
    args = ["record", "--patient", code, "--simulate", "--virtual", "--consent", "--quiet"]
    assert main([*args, "--duration", "2", "--markers"]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def _files_naming(root: Path, *needles: str) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            if any(n.lower().encode() in data for n in needles):
                found.append(str(path.relative_to(root)))
    return found


def test_export_then_erase_a_patient(env, capsys):
    data = env / "data"
    assert main(["patients", "add", CODE, "--name", NAME]) == 0
    assert main(["patients", "add", "KEEP-2"]) == 0
    uids = [_record(CODE, capsys), _record(CODE, capsys)]
    keep = _record("KEEP-2", capsys)
    store = KeyStore.open(data / "keys.json")
    with Catalog.open(data / "catalog.sqlite") as cat:
        p = cat.patient_by_code(CODE)
    with store.unlock(TEST_USER, TEST_PASSWORD) as u:
        u.session_key(uids[0], p.uuid)

    out = env / "exports" / "patient.zip"
    with pytest.raises(SystemExit, match="--out FILE.zip"):
        main(["patients", "export", CODE])
    assert main(["patients", "export", CODE, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"exported patient {CODE}: 2 session(s)" in said and str(out) in said
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert {s["uid"] for s in manifest["sessions"]} == set(uids)
        assert "name" not in manifest["patient"]
        assert all(b"Zapfenstreich" not in zf.read(n) for n in zf.namelist())
    assert main(["patients", "export", CODE, "--out", str(out), "--include-name"]) == 0
    with zipfile.ZipFile(out) as zf:
        assert json.loads(zf.read("manifest.json"))["patient"]["name"] == NAME

    # the code lives in the catalog only, and the catalog is encrypted at rest: no file shows it
    assert _files_naming(data, CODE) == []
    with Catalog.open(data / "catalog.sqlite") as cat:
        assert cat.is_encrypted and cat.patient_by_code(CODE) is not None
    assert main(["patients", "delete", CODE, "--confirm", CODE.lower()]) == 2
    assert "Nothing was deleted" in capsys.readouterr().err
    assert main(["patients", "delete", CODE, "--confirm", CODE]) == 0
    said = capsys.readouterr().out
    assert f"deleted patient {CODE} and 2 session(s)" in said and "keys are destroyed" in said
    # every file of the data folder: the catalog with -wal and -shm, keys.json, the logs…
    assert _files_naming(data, CODE, NAME, "Zapfenstreich", "Wilhelmina") == []
    doc = json.loads((data / "keys.json").read_text())
    assert p.uuid not in doc["patients"] and not set(uids) & set(doc["sessions"])
    ledger = {(e["kind"], e["id"]) for e in doc["ledger"]}
    assert {("patient", p.uuid)} | {("session", u) for u in uids} <= ledger
    with Catalog.open(data / "catalog.sqlite") as cat:
        assert cat.patient_by_code(CODE) is None and cat.session_by_uid(keep) is not None
        assert cat.audit_log(entity="patient", entity_id=p.id)[0].detail.startswith(
            f"uuid={p.uuid}"
        )
        assert any("[erased]" in e.detail for e in cat.audit_log(limit=1000))


def test_sessions_delete_destroys_that_sessions_key(env, capsys):
    data = env / "data"
    assert main(["patients", "add", "S-9"]) == 0
    gone, kept = _record("S-9", capsys), _record("S-9", capsys)
    with Catalog.open(data / "catalog.sqlite") as cat:
        uuid = cat.patient_by_code("S-9").uuid
    store = KeyStore.open(data / "keys.json")
    with store.unlock(TEST_USER, TEST_PASSWORD) as u:
        u.session_key(gone, uuid)
        kept_key = u.session_key(kept, uuid)
    assert main(["sessions", "delete", gone, "--confirm", gone]) == 0
    assert f"deleted session {gone}" in capsys.readouterr().out
    with store.unlock(TEST_USER, TEST_PASSWORD) as u:
        assert [(e.kind, e.id) for e in u.ledger()] == [("session", gone)]
        assert u.session_key(kept, uuid, create=False) == kept_key
