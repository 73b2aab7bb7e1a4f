"""app/build_info.py: the flavour line of --version and Settings (issue 20)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from app.build_info import BUILD_FILE, build_info, flavour_from_torch_version
from core import __version__


@pytest.mark.parametrize(
    ("version", "flavour"),
    [
        ("2.13.0+cpu", "CPU-only"),
        ("2.14.1+cu130", "CUDA 13.0"),
        ("2.5.1+cu121", "CUDA 12.1"),
        ("2.5.1+rocm6.2", "unknown"),
        (None, "unknown"),
    ],
)
def test_flavour_from_the_torch_version_string(version: str | None, flavour: str) -> None:
    assert flavour_from_torch_version(version) == flavour


def test_a_bundle_reads_its_build_file(tmp_path: Path) -> None:
    """What build.sh writes after importing the bundled torch decides the flavour."""
    (tmp_path / BUILD_FILE).write_text(
        json.dumps(
            {
                "version": "0.1.0",
                "torch_version": "2.13.0+cpu",
                "torch_cuda": None,
                "commit": "abc1234",
                "built_at": "2026-12-05T21:00:00Z",
            }
        ),
        encoding="utf-8",
    )
    info = build_info(tmp_path)
    assert info.bundled and info.flavour == "CPU-only" and info.commit == "abc1234"
    assert info.line() == "TheraScope 0.1.0 (CPU-only bundle; torch 2.13.0+cpu)"
    (tmp_path / BUILD_FILE).write_text(
        json.dumps({"version": "0.1.0", "torch_version": "2.14.1+cu130", "torch_cuda": "13.0"}),
        encoding="utf-8",
    )
    assert build_info(tmp_path).line() == "TheraScope 0.1.0 (CUDA 13.0 bundle; torch 2.14.1+cu130)"


def test_version_prints_the_installed_torch_and_its_flavour() -> None:
    """From the source tree: no build file, the installed torch's version string."""
    out = subprocess.run(
        [sys.executable, "-m", "app", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.strip()
    torch_version = metadata.version("torch")
    expected = flavour_from_torch_version(torch_version)
    assert out == f"TheraScope {__version__} ({expected} from source; torch {torch_version})"
