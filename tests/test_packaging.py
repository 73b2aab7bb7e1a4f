"""The wheel (issue 20, item 4): complete, one top-level package, and its launcher.

The full check — a fresh virtual environment, the dependencies from the index, the self-test
from outside the source tree — is tools/wheel_check.sh, which CI runs after the suite.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import wheel_contents  # noqa: E402

sys.path.remove(str(ROOT / "tools"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(wheel, source copy, build output) built from a copy of the tree's packaging inputs."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    keep = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("app", "core", "devices", "resources", "packaging/launcher"):
        shutil.copytree(ROOT / name, src / name, ignore=keep)
    for name in ("pyproject.toml", "setup.py", "README.md", "packaging/LICENSE-GPL-3.0.txt"):
        shutil.copy(ROOT / name, src / name)
    # the project's own setuptools (>= 77, as [build-system] asks): no index needed
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
         "-w", str(tmp / "dist"), str(src)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (whl,) = (tmp / "dist").glob("therascope-*.whl")
    return whl, src, out.stdout + out.stderr


def test_the_wheel_is_complete_and_has_one_top_level_package(
    wheel: tuple[Path, Path, str],
) -> None:
    whl, src, _ = wheel
    bad, names = wheel_contents.problems(whl, src)
    assert bad == []
    assert {n.split("/", 1)[0] for n in names} == {"therascope", "therascope-0.1.0.dist-info"}
    assert "therascope/_app/resources/models/demo-bmmn-bae2.pt" in names


def test_the_build_gives_no_licence_deprecation_warning(wheel: tuple[Path, Path, str]) -> None:
    log = wheel[2]
    assert "License classifiers are deprecated" not in log
    assert "project.license` as a TOML table is deprecated" not in log
    assert "SetuptoolsDeprecationWarning" not in log


def test_the_installed_wheel_runs_from_elsewhere(
    wheel: tuple[Path, Path, str], tmp_path: Path
) -> None:
    """The wheel unpacked into its own folder: `import core` fails until the launcher runs."""
    whl = wheel[0]
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(whl)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    assert {p.name for p in site.iterdir()} - {"bin"} == {
        "therascope",
        "therascope-0.1.0.dist-info",
    }
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "try:\n    import core\nexcept ImportError:\n    print('no core before')\n"
        "from therascope.launcher import activate, main\n"
        "print('folder', activate())\n"
        "from core.resources import resource_path\n"
        "print('model', resource_path('models', 'demo-bmmn-bae2.pt').is_file())\n"
        "sys.exit(main(['--version']))\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "no core before" in out.stdout
    assert f"folder {site / 'therascope' / '_app'}" in out.stdout
    assert "model True" in out.stdout
    assert "TheraScope 0.1.0" in out.stdout


def test_the_launcher_finds_this_checkout() -> None:
    from therascope.launcher import app_folder

    assert app_folder() == ROOT


def test_the_launcher_refuses_another_package_of_the_same_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from therascope.launcher import LauncherError, activate, main

    other = types.ModuleType("devices")
    other.__file__ = "/elsewhere/devices/__init__.py"
    monkeypatch.setitem(sys.modules, "devices", other)
    with pytest.raises(LauncherError, match="another package named 'devices'"):
        activate()
    assert main(["--version"]) == 2
    assert "/elsewhere/devices" in capsys.readouterr().err
