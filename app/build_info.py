"""Which TheraScope this is: version, the torch flavour (CPU-only or CUDA) and the torch version.

A bundle built by ``packaging/build.sh`` carries ``therascope-build.json`` beside its packages
(written by the build after it imported the bundled torch and read ``torch.version.cuda``). From a
source tree or a wheel there is no such file and the flavour is read from the installed torch's
version string (a ``+cpu`` local version is the CPU-only build); neither way imports torch, so
``therascope --version`` stays instant. No Qt here: the command line and Settings both use it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from core import __version__

BUILD_FILE = "therascope-build.json"


@dataclass(frozen=True)
class BuildInfo:
    """What ``--version`` prints and Settings shows."""

    version: str
    flavour: str  # "CPU-only", "CUDA 13.0", or "unknown"
    torch_version: str | None
    bundled: bool  # a packaged build (the flavour comes from its build file)
    built_at: str | None = None
    commit: str | None = None

    def line(self) -> str:
        """One line: ``TheraScope 0.1.0 (CUDA 13.0 build; torch 2.14.1)``."""
        torch = f"torch {self.torch_version}" if self.torch_version else "torch not installed"
        how = "bundle" if self.bundled else "from source"
        return f"TheraScope {self.version} ({self.flavour} {how}; {torch})"


def _bundle_dir() -> Path | None:
    """The folder of a frozen (PyInstaller) build's packages, or None when run from Python."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if getattr(sys, "frozen", False) and base else None


def _torch_version() -> str | None:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def flavour_from_torch_version(torch_version: str | None) -> str:
    """The flavour read from a torch version string alone (no import of torch)."""
    if torch_version is None:
        return "unknown"
    local = torch_version.partition("+")[2]
    if local == "cpu" or local.startswith("cpu"):
        return "CPU-only"
    if local.startswith("cu"):
        digits = local[2:]
        return f"CUDA {digits[:-1]}.{digits[-1]}" if len(digits) >= 2 else "CUDA"
    if local:
        return "unknown"
    # PyPI's plain torch wheels: CUDA builds on Linux x86-64, CPU-only on Windows and macOS
    return "CUDA" if sys.platform.startswith("linux") else "CPU-only"


def build_info(bundle_dir: Path | None = None) -> BuildInfo:
    """This installation's build information; ``bundle_dir`` overrides the frozen folder (tests)."""
    folder = bundle_dir if bundle_dir is not None else _bundle_dir()
    if folder is not None and (folder / BUILD_FILE).is_file():
        data = json.loads((folder / BUILD_FILE).read_text(encoding="utf-8"))
        cuda = data.get("torch_cuda")
        flavour = f"CUDA {cuda}" if cuda else "CPU-only"
        return BuildInfo(
            version=str(data.get("version", __version__)),
            flavour=flavour,
            torch_version=data.get("torch_version"),
            bundled=True,
            built_at=data.get("built_at"),
            commit=data.get("commit"),
        )
    torch_version = _torch_version()
    return BuildInfo(
        version=__version__,
        flavour=flavour_from_torch_version(torch_version),
        torch_version=torch_version,
        bundled=False,
    )
