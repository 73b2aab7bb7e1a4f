"""What several subcommands share: the catalog of the data folder and patients by code."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def open_catalog(args: argparse.Namespace) -> tuple[Any, Path]:
    """The catalog of ``--data-dir`` (or the default data folder) and that folder."""
    from core.catalog import Catalog
    from core.config import data_dir

    root = data_dir(args.data_dir)
    return Catalog.open(root / "catalog.sqlite"), root


def patient_or_exit(cat: Any, code: str) -> Any:
    """The patient with ``code``; exits with a hint when there is none."""
    p = cat.patient_by_code(code)
    if p is None:
        raise SystemExit(
            f"No patient with code {code!r} (create one: therascope patients add {code})"
        )
    return p
