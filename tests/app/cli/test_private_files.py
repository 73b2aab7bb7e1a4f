"""Patient data stays the owner's on POSIX: the data folder 0700, every file 0600 — a new folder
from its first file, and a folder an older TheraScope left world-readable, once, at start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from app.cli.main import main

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _modes(root: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for p in root.rglob("*"):
        if not p.is_symlink():
            out[p.relative_to(root).as_posix()] = stat.S_IMODE(p.stat().st_mode)
    return out


def test_a_new_data_folder_and_everything_in_it_is_private(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(0o022)  # a usual desktop umask (restored below: main() sets 0o077)
    try:
        root = tmp_path / "data"
        (tmp_path / "pw").write_text("ten or more characters\n")
        monkeypatch.setenv("THERASCOPE_PASSWORD_FILE", str(tmp_path / "pw"))
        monkeypatch.delenv("THERASCOPE_USER", raising=False)
        assert main(["--data-dir", str(root), "users", "add", "owner", "--admin"]) == 0
        assert main(["--data-dir", str(root), "patients", "add", "M-1", "--name", "Mo"]) == 0
        args = ["--data-dir", str(root), "record", "--patient", "M-1", "--simulate"]
        assert main([*args, "--virtual", "--consent", "--duration", "2", "--quiet"]) == 0
        modes = _modes(root)
        assert any(k.startswith("sessions/") and k.endswith("session.json") for k in modes)
        assert "keys.json" in modes and "catalog.sqlite" in modes
        wrong = {k: oct(m) for k, m in modes.items() if m & 0o077}
        assert not wrong, wrong
    finally:
        os.umask(old)


def test_an_old_world_readable_folder_is_made_private_once(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        root = tmp_path / "data"
        (root / "sessions" / "s1").mkdir(parents=True)
        (root / "sessions" / "s1" / "session.json").write_text("{}")
        (root / "catalog.sqlite").write_bytes(b"")
        for p in (root, root / "sessions", root / "sessions" / "s1"):
            p.chmod(0o755)
        (root / "catalog.sqlite").chmod(0o644)
        (root / "elsewhere").symlink_to(tmp_path)  # a link is not followed
        tmp_path.chmod(0o755)
        from core.storage import make_private

        assert make_private(root) == 5
        modes = _modes(root)
        assert modes["."] == 0o700 and modes["sessions/s1"] == 0o700
        assert modes["catalog.sqlite"] == 0o600 and modes["sessions/s1/session.json"] == 0o600
        assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755
        assert make_private(root) == 0  # already private: nothing walked again
    finally:
        os.umask(old)
