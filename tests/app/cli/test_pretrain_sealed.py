"""``train --model transformer --pretrain-sessions``: sessions of a clinic's (encrypted) data
folder are read once the folder is unlocked as every command unlocks it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from app.cli.families import unlock_session_folders
from app.demo.simulation import record_simulated
from core.catalog import Catalog
from core.config import Settings
from core.learning.unlabelled import session_segments
from core.security import vault
from tests.accounts import unlock_here

SCALING = {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}}


def test_sealed_sessions_are_read_after_the_folder_is_unlocked(app_env: Path) -> None:
    data = app_env / "data"
    unlock_here(data)  # recorded as the clinic records: sealed
    cat = Catalog.open(data / "catalog.sqlite")
    p = cat.add_patient("PRE-1")
    small = Settings(camera_width=96, camera_height=72, camera_fps=5)
    rec = record_simulated(cat, data, p.id, 12.0, settings=small)
    cat.close()
    folder = data / rec.folder
    assert vault.is_sealed_session(folder)
    vault.unregister(data)  # a fresh `therascope train` process: nothing unlocked yet
    with pytest.raises(vault.FolderLockedError):
        session_segments([folder], SCALING, samples=1280, hop_s=5.0)
    unlock_session_folders(argparse.Namespace(user=None), [folder])  # THERASCOPE_USER + file
    segs, sources = session_segments([folder], SCALING, samples=1280, hop_s=5.0)
    assert segs.shape[1:] == (2, 1280) and sources[0]["segments"] == len(segs) > 0
