"""Logging to a rotating file in the data folder.

Log lines carry session uids and patient *codes* at most — never names, notes or signals — so the
log can be attached to a bug report without exposing health data.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (a redirected console, a test's
    capture), not to the stream that was there when logging was set up."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def setup_logging(data_dir_override: str | os.PathLike[str] | None = None) -> str | None:
    """Send INFO and above to ``<data>/logs/therascope.log`` (1 MB × 3) and warnings to stderr.

    Returns
    -------
    str or None — why there is no log file (the data folder cannot be created or written: a
        read-only or full disk…), in words; logging then goes to stderr only, so the program
        still starts and can say what is wrong. None when the log file is set up.
    """
    from core.config import data_dir
    from core.storage import explain

    root = logging.getLogger()
    if any(getattr(h, "_therascope", False) for h in root.handlers):
        return None
    sh = _CurrentStderr()
    sh.setLevel(logging.WARNING)
    sh.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    sh._therascope = True  # type: ignore[attr-defined]
    root.addHandler(sh)
    root.setLevel(logging.INFO)
    logdir: Path | str = "the data folder's logs"
    try:
        logdir = data_dir(data_dir_override) / "logs"
        logdir.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(
            logdir / "therascope.log", maxBytes=1_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError as exc:
        problem = str(explain(exc, "write the log file", logdir))
        logging.getLogger(__name__).warning("%s", problem)
        return problem
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    fh._therascope = True  # type: ignore[attr-defined]
    root.addHandler(fh)
    return None
