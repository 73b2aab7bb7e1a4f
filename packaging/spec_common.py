"""What every TheraScope bundle collects (Linux, Windows, macOS specs import it).

``collect(src)`` returns the hidden imports, data files and excluded modules for PyInstaller's
Analysis: every module and package-data file of our packages as they are in the source tree
(app, core, devices, resources), the metadata read at run time, and the modules the app does not
need (test suites, tkinter, unused Qt modules) — nothing a feature needs is excluded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
from pathlib import Path

from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs, copy_metadata

#: packages whose Python sources must ship beside their bytecode: onnxscript reads its functions'
#: source (inspect) when the optimised CPU path exports the model to ONNX (issue 21); without
#: it: "Decorator script does not work on dynamically compiled function Rank". (PyInstaller's
#: torch hook does the same for torch.)
MODULE_COLLECTION_MODE = {"onnxscript": "pyz+py"}


def collect(
    src: Path,
) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]], list[str]]:
    """(hiddenimports, datas, binaries, excludes) for the source tree ``src``."""
    not_shipped = {"tests", "tools", "benchmarks", "packaging", "build", "dist"}
    top_level = sorted(
        d.name
        for d in src.iterdir()
        if d.is_dir() and (d / "__init__.py").is_file() and d.name not in not_shipped
    )

    hiddenimports: list[str] = []
    datas: list[tuple[str, str]] = []
    for pkg in top_level:
        for f in sorted((src / pkg).rglob("*")):
            rel = f.relative_to(src)
            if "__pycache__" in rel.parts or "tests" in rel.parts or not f.is_file():
                continue
            if f.suffix == ".py":
                # many imports sit inside functions and some are chosen at run time (model
                # families, devices): every module of ours goes in
                mod = ".".join(rel.with_suffix("").parts)
                hiddenimports.append(mod.removesuffix(".__init__"))
            elif f.suffix not in (".pyc", ".pyo"):
                # package data (schema SQL, model cards, fonts, demo model, MTCNN weights, protocol
                # documents) beside the packages, where importlib.resources finds it when frozen
                datas.append((str(f), str(rel.parent)))

    # a resources/ folder that is not (yet) a package: its files still go beside the packages, where
    # `Path(__file__).parents[2] / "resources"` points from _internal/core/...
    if (src / "resources").is_dir() and "resources" not in top_level:
        for f in sorted((src / "resources").rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                datas.append((str(f), str(f.relative_to(src).parent)))

    # metadata read at run time: our version, the torch version shown by --version and Settings, and
    # packages that look themselves up (importlib.metadata) when imported
    for name in (
        "therascope",
        "torch",
        "numpy",
        "scipy",
        "pandas",
        "neurokit2",
        "bleak",
        "reportlab",
    ):
        datas += copy_metadata(name)
    for optional in ("torchvision",):
        with contextlib.suppress(Exception):  # not installed in this flavour
            datas += copy_metadata(optional)
    # neurokit2 ships data files (its templates) next to its code
    datas += collect_data_files("neurokit2")

    excludes = [
        # GUI toolkits and backends the app never uses (matplotlib comes in with neurokit2)
        "tkinter",
        "_tkinter",
        "turtle",
        "matplotlib.backends.backend_tkagg",
        "matplotlib.backends.backend_tkcairo",
        "matplotlib.backends._backend_tk",
        "matplotlib.backends.backend_gtk3agg",
        "matplotlib.backends.backend_gtk4agg",
        "matplotlib.backends.backend_wxagg",
        "IPython",
        "jupyter_client",
        "notebook",
        # test suites and developer tools that happen to be installed
        "pytest",
        "_pytest",
        "pytestqt",
        "hypothesis",
        "mypy",
        "ruff",
        "importlinter",
        "pip",
        "setuptools._distutils.tests",
        "numpy.tests",
        "numpy._core.tests",
        "scipy.tests",
        "pandas.tests",
        "sklearn.tests",
        "torch.testing._internal.opinfo",
        "torch.testing._internal.distributed",
        "torch.utils.benchmark",
        "torch.utils.tensorboard",
        # the GPU kernel compiler behind torch.compile (~0.9 GB); TheraScope never compiles
        # (torch falls back without it, as in CPU-only torch builds, which have no triton)
        "triton",
        "tensorboard",
        # Qt modules the app does not load (PySide6-Essentials; the hooks only follow imports, but
        # pyqtgraph probes some optionally)
        "PySide6.QtQml",
        "PySide6.QtQuick",
        "PySide6.QtQuickWidgets",
        "PySide6.Qt3DCore",
        "PySide6.QtWebEngineCore",
        "PySide6.QtWebEngineWidgets",
        "PySide6.QtDesigner",
        "PySide6.QtUiTools",
        "PySide6.QtHelp",
        "PySide6.QtSql",
        "PySide6.QtTest",
        "PySide6.QtNetwork",
        "PyQt5",
        "PyQt6",
    ]
    # pyqtgraph imports these by name (importlib), which the analysis cannot see; without
    # QtOpenGL `import pyqtgraph` fails in the bundle
    hiddenimports += ["PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtSvg"]
    # torchvision >= 0.29 loads its operators from _C_stable.so / image_stable.so, which the
    # torchvision hook (looking for _C) misses: without them `import torchvision` fails
    # (collect_dynamic_libs matches only lib*.so names; torch.ops.load_library finds them beside
    # torchvision/extension.py)
    binaries: list[tuple[str, str]] = []
    # (only when our code still imports torchvision: since the ResNets and MTCNN's ops are plain
    # torch, the bundle needs none of it)
    uses_tv = any(
        re.search(
            r"^\s*(from|import)\s+torchvision\b",
            f.read_text(encoding="utf-8", errors="replace"),
            re.MULTILINE,
        )
        for pkg in top_level
        for f in (src / pkg).rglob("*.py")
        if "tests" not in f.parts
    )
    tv = importlib.util.find_spec("torchvision") if uses_tv else None
    if tv is not None and tv.origin:
        tv_dir = Path(tv.origin).parent
        binaries += [(str(so), "torchvision") for so in sorted(tv_dir.glob("*.so"))]
        with contextlib.suppress(Exception):
            binaries += collect_dynamic_libs("torchvision")
    # OpenCV's Haar cascades (cv2/data/*.xml; the Haar face detector and the optimised path's
    # calibration read them), which the cv2 hook leaves out
    datas += collect_data_files("cv2", includes=["data/*.xml"])
    # OpenVINO (issue 21's CPU runtime) loads its device plugins and model-format frontends by
    # name at run time (libopenvino_intel_cpu_plugin.so, libopenvino_onnx_frontend.so, ...; the
    # analysis' dependency scan sees only a few): the whole libs/ folder goes in
    ov = importlib.util.find_spec("openvino")
    if ov is not None and ov.origin:
        for f in sorted((Path(ov.origin).parent / "libs").glob("*")):
            if f.is_file():
                kind = binaries if ".so" in f.name else datas
                kind.append((str(f), "openvino/libs"))
    return hiddenimports, datas, binaries, excludes
