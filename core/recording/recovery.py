"""Recovery of sessions whose recording process died (crash, power cut, SIGKILL).

On the next start the app (or ``therascope recover``) looks for catalog rows still marked
``recording`` whose folder is not locked by a live process, cuts each store back to its last
consistent record, computes the quality figures from what survived, and marks them ``recovered``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypedDict

from core.catalog import Catalog, SessionRecord
from core.recording.bio_store import truncate_bio_stream
from core.recording.lock import is_recording_live
from core.recording.manifest import read_manifest, stream_infos
from core.recording.session import finalise_folder

log = logging.getLogger(__name__)


class _RecoveryStatus(TypedDict):
    uid: str
    #: ``"recovered"``, ``"failed"`` (no session folder) or ``"not recovered"`` (try again later)
    status: str


class RecoveryResult(_RecoveryStatus, total=False):
    """One session's recovery (one line of ``therascope recover``): ``reason`` where it was not
    recovered; what was kept where it was: per bio stream
    (:func:`~core.recording.bio_store.truncate_bio_stream`) and of the video
    (:func:`~core.recording.video_store.recover_video_store`, where it had one)."""

    reason: str
    streams: dict[str, dict[str, int]]
    video: dict[str, int]


def recover_session(catalog: Catalog, data_root: Path, record: SessionRecord) -> RecoveryResult:
    """Recover one unfinished session; return what was kept per store."""
    folder = data_root / record.folder
    if not (folder / "session.json").exists():
        catalog.set_session_status(record.id, "failed")
        catalog.audit("recover", "session", record.id, f"uid={record.uid}; no session folder")
        return {"uid": record.uid, "status": "failed", "reason": "session folder missing"}
    manifest = read_manifest(folder)
    streams = {
        info.name: truncate_bio_stream(folder / "bio", info) for info in stream_infos(manifest)
    }
    video = None
    if (folder / "video").exists():
        from core.recording.video_store import recover_video_store

        video = recover_video_store(folder / "video")
    (folder / "recording.lock").unlink(missing_ok=True)
    finalise_folder(catalog, data_root, record, folder, "recovered")
    log.info("recovered session %s", record.uid)
    if video is None:
        return {"uid": record.uid, "streams": streams, "status": "recovered"}
    return {"uid": record.uid, "streams": streams, "video": video, "status": "recovered"}


def recover_unfinished(catalog: Catalog, data_root: Path) -> list[RecoveryResult]:
    """Recover every session left in ``recording`` state by a process that is gone."""
    out: list[RecoveryResult] = []
    for rec in catalog.unfinished_sessions():
        if is_recording_live(data_root / rec.folder):
            continue
        try:
            out.append(recover_session(catalog, data_root, rec))
        except (OSError, ValueError) as e:
            # e.g. a disk still full: leave the session as it is and try again next time
            log.error("session %s could not be recovered yet: %s", rec.uid, e)
            out.append({"uid": rec.uid, "status": "not recovered", "reason": str(e)})
    return out
