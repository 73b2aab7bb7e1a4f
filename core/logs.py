"""Logging to a rotating file in the data folder.

Log lines carry session uids and patient *codes* at most — never names, notes or signals — so the
log can be attached to a bug report without exposing health data.
"""

from __future__ import annotations

import logging
import logging.handlers
import os


def setup_logging(data_dir_override: str | os.PathLike[str] | None = None) -> None:
    """Send INFO and above to ``<data>/logs/therascope.log`` (1 MB × 3) and warnings to stderr."""
    from core.config import data_dir

    root = logging.getLogger()
    if any(getattr(h, "_therascope", False) for h in root.handlers):
        return
    logdir = data_dir(data_dir_override) / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    fh = logging.handlers.RotatingFileHandler(
        logdir / "therascope.log", maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    fh._therascope = True  # type: ignore[attr-defined]
    sh = logging.StreamHandler()
    sh.setLevel(logging.WARNING)
    sh.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    sh._therascope = True  # type: ignore[attr-defined]
    root.addHandler(fh)
    root.addHandler(sh)
    root.setLevel(logging.INFO)
