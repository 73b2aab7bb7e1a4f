"""core/ and devices/ never load Qt, and `import core, devices` stays light."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

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
