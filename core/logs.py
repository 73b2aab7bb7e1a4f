"""Logging to a rotating file in the data folder.

Log lines carry session uids and patient *codes* at most — never names, notes or signals — so the
log can be attached to a bug report without exposing health data.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (a redirected console, a test's
    capture), not to the stream that was there when logging was set up."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


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
    sh = _CurrentStderr()
    sh.setLevel(logging.WARNING)
    sh.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    sh._therascope = True  # type: ignore[attr-defined]
    root.addHandler(fh)
    root.addHandler(sh)
    root.setLevel(logging.INFO)
