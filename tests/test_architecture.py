"""The layer rules: core/ and devices/ never load Qt, `import core, devices` stays light, and the
import contracts (import-linter, tools/check_private_imports.py) catch imports inside functions."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "qtpy")
HEAVY = ("cv2", "torch", "reportlab", "neurokit2", "pandas")


def _modules(pkg: str) -> list[str]:
    return [pkg] + [m.name for m in pkgutil.walk_packages([str(ROOT / pkg)], prefix=f"{pkg}.")]


def _loaded_after(imports: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {imports!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_every_core_and_devices_module_loads_no_qt() -> None:
    mods = _modules("core") + _modules("devices")
    assert len(mods) > 20
    loaded = _loaded_after(mods)
    qt = sorted(m for m in loaded if m.split(".")[0] in QT)
    assert qt == [], f"Qt loaded by core/devices: {qt}"


def test_import_core_and_devices_is_light() -> None:
    loaded = _loaded_after(["core", "devices", "core.recording", "core.catalog"])
    heavy = sorted({m.split(".")[0] for m in loaded} & set(HEAVY))
    assert heavy == [], f"heavy libraries imported at module level: {heavy}"


def test_cli_module_loads_no_qt() -> None:
    loaded = _loaded_after(["app.cli.main"])
    assert not any(m.split(".")[0] in QT for m in loaded)


# ---- the import contracts (pyproject.toml, run by tools/test.sh) see imports inside functions ----

_SCRATCH_CASES = {
    # scratch module path → (source, the contract or check that must catch it)
    "core/quality/scratch_probe.py": (
        "def probe() -> None:\n    from devices.camera import OpenCVCamera  # noqa: F401\n",
        "Layers: app above devices above core",
    ),
    "devices/scratch_probe.py": (
        "def probe() -> None:\n    import PySide6.QtCore  # noqa: F401\n",
        "core and devices never import Qt",
    ),
    "app/cli/scratch_probe.py": (
        "def probe() -> None:\n    from app.gui.widgets import heading  # noqa: F401\n",
        "The command line and the demo workflows run without Qt",
    ),
    "core/report/scratch_probe.py": (
        "def probe() -> None:\n    from core.report.document import build_session_report  # noqa: F401\n",
        "No import cycles between sibling modules or packages",
    ),
}


def _tree_copy(tmp: Path) -> Path:
    """The project's packages and contract configuration, copied to ``tmp`` to add scratch code."""
    import shutil

    for pkg in ("app", "core", "devices"):
        shutil.copytree(ROOT / pkg, tmp / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    return tmp


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    env = {"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [str(exe), "--no-cache"], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def test_contracts_hold_on_the_project() -> None:
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize("path", sorted(_SCRATCH_CASES))
def test_a_forbidden_import_inside_a_function_breaks_a_contract(tmp_path: Path, path: str) -> None:
    source, contract = _SCRATCH_CASES[path]
    tree = _tree_copy(tmp_path)
    assert _lint_imports(tree).returncode == 0  # the copy itself is clean
    (tree / path).write_text(source)
    if path == "core/report/scratch_probe.py":  # and document imports the probe back: a cycle
        doc = tree / "core/report/document.py"
        doc.write_text(
            doc.read_text()
            + "\n\ndef _probe() -> None:\n    from core.report import scratch_probe  # noqa: F401\n"
        )
    out = _lint_imports(tree)
    assert out.returncode == 1, out.stdout
    broken = out.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, out.stdout


def test_no_private_name_crosses_a_module_boundary(tmp_path: Path) -> None:
    check = ROOT / "tools" / "check_private_imports.py"
    ok = subprocess.run([sys.executable, str(check)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    tree = _tree_copy(tmp_path)
    (tree / "core/report/scratch_probe.py").write_text(
        "def probe() -> None:\n    from core.report.blocks import table as _t, styles  # noqa: F401\n"
        "    from core.catalog.db import _private_helper  # noqa: F401\n"
    )
    (tree / "core/catalog/_shared.py").write_text("_x = 1\n")
    (tree / "core/catalog/scratch_ok.py").write_text(
        "from core.catalog._shared import _x  # noqa: F401\n"
    )
    (tree / "app/gui/scratch_bad.py").write_text(
        "from core.catalog._shared import _x  # noqa: F401\n"
    )
    bad = subprocess.run([sys.executable, str(check), str(tree)], capture_output=True, text=True)
    assert bad.returncode == 1
    lines = sorted(bad.stdout.splitlines())
    assert lines == [
        "app/gui/scratch_bad.py:1: private module core.catalog._shared imported from outside core.catalog",
        "app/gui/scratch_bad.py:1: private name _x imported from core.catalog._shared",
        "core/report/scratch_probe.py:3: private name _private_helper imported from core.catalog.db",
    ], bad.stdout
