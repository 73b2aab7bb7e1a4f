"""Recovery of sessions whose recording process died (crash, power cut, SIGKILL).

On the next start the app (or ``therascope recover``) looks for catalog rows still marked
``recording`` whose folder is not locked by a live process, cuts each store back to its last
consistent record, computes the quality figures from what survived, and marks them ``recovered``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.catalog import Catalog, SessionRecord
from core.recording.bio_store import truncate_bio_stream
from core.recording.lock import is_recording_live
from core.recording.manifest import read_manifest, stream_infos
from core.recording.session import finalise_folder

log = logging.getLogger(__name__)


def recover_session(catalog: Catalog, data_root: Path, record: SessionRecord) -> dict[str, Any]:
    """Recover one unfinished session; return what was kept per store."""
    folder = data_root / record.folder
    if not (folder / "session.json").exists():
        catalog.set_session_status(record.id, "failed")
        catalog.audit("recover", "session", record.id, f"uid={record.uid}; no session folder")
        return {"uid": record.uid, "status": "failed", "reason": "session folder missing"}
    manifest = read_manifest(folder)
    kept: dict[str, Any] = {"uid": record.uid, "streams": {}}
    for info in stream_infos(manifest):
        kept["streams"][info.name] = truncate_bio_stream(folder / "bio", info)
    if (folder / "video").exists():
        from core.recording.video_store import recover_video_store

        kept["video"] = recover_video_store(folder / "video")
    (folder / "recording.lock").unlink(missing_ok=True)
    finalise_folder(catalog, data_root, record, folder, "recovered")
    kept["status"] = "recovered"
    log.info("recovered session %s", record.uid)
    return kept


def recover_unfinished(catalog: Catalog, data_root: Path) -> list[dict[str, Any]]:
    """Recover every session left in ``recording`` state by a process that is gone."""
    out = []
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
