"""Saving figures: PNG or SVG by the file's suffix, and the "Export figure…" dialog."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.filenames import safe_file_name


@contextmanager
def _svg_paths_with_close() -> Iterator[None]:
    """pyqtgraph 0.14's SVG exporter cannot read the "Z" (close path) that Qt 6.11 writes into
    path data; take it out while the exporter rewrites the coordinates, then put it back."""
    import sys

    import pyqtgraph.exporters.SVGExporter  # noqa: F401 — the module, not the class

    mod = sys.modules["pyqtgraph.exporters.SVGExporter"]
    original = getattr(mod, "correctCoordinates")  # noqa: B009 — set back below

    def correct(node, defs, item, options):  # type: ignore[no-untyped-def]
        closed = []
        for path in node.getElementsByTagName("path"):
            d = path.getAttribute("d")
            if "Z" in d or "z" in d:
                path.setAttribute("d", " ".join(t for t in d.split() if t not in ("Z", "z")))
                closed.append(path)
        result = original(node, defs, item, options)
        for path in closed:
            path.setAttribute("d", path.getAttribute("d").rstrip() + " Z")
        return result

    setattr(mod, "correctCoordinates", correct)  # noqa: B010
    try:
        yield
    finally:
        setattr(mod, "correctCoordinates", original)  # noqa: B010


def export_layout(item: Any, path: str | Path, width: int = 1200) -> Path:
    """Write a pyqtgraph layout item (with everything in it) as PNG or SVG, by suffix."""
    import pyqtgraph.exporters as exporters

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        with _svg_paths_with_close():
            exporters.SVGExporter(item).export(str(path))
    elif suffix in (".png", ".jpg", ".jpeg"):
        ex = exporters.ImageExporter(item)
        ex.parameters()["width"] = width
        ex.parameters()["background"] = pg.mkColor("w")
        ex.export(str(path))
    else:
        raise ValueError(f"Export as .png or .svg, not {path.suffix or 'no suffix'}")
    return path


def save_figure(
    parent: QWidget, view: Any, default_name: str, path: str | None = None
) -> Path | None:
    """Ask where to save ``view``'s figure (unless ``path`` is given) and save it; problems
    are shown in a message box. Returns the file, or None.

    ``default_name`` is offered in the home folder made one safe file name
    (:func:`core.filenames.safe_file_name`): callers put patient codes in it as typed."""
    if path is None:
        default = str(Path.home() / safe_file_name(default_name))
        path, chosen = QFileDialog.getSaveFileName(
            parent, "Export figure", default, "PNG image (*.png);;SVG drawing (*.svg)"
        )
        if not path:
            return None
        if Path(path).suffix.lower() not in (".png", ".svg"):
            path += ".svg" if "svg" in chosen.lower() else ".png"
    try:
        return view.export(path)
    except (OSError, ValueError) as e:
        QMessageBox.warning(parent, "Figure not saved", str(e))
        return None
