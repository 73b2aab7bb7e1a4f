"""Markers as one line of text, both ways: what an export writes as an EDF+ annotation (or an XDF
marker) and what an import turns back into a marker of the same kind."""

from __future__ import annotations

from core.catalog import Marker
from core.catalog.models import MARKER_KINDS, MAX_LABEL_LEN


def marker_text(marker: Marker) -> str:
    """A marker as one line of text: ``"<kind>: <label>"``, or the kind alone without a label
    (``"treatment_start"``, ``"note: patient coughed"``)."""
    label = " ".join(marker.label.split())
    return f"{marker.kind}: {label}" if label else marker.kind


def marker_from_text(text: str) -> tuple[str, str]:
    """(kind, label) for an annotation's text: :func:`marker_text`'s form gives its kind back;
    any other text is a note with that label (whitespace runs made single spaces, cut to the
    catalog's longest label)."""
    clean = " ".join(text.split())
    if clean in MARKER_KINDS:
        return clean, ""
    kind, sep, label = clean.partition(": ")
    if sep and kind in MARKER_KINDS:
        return kind, label[:MAX_LABEL_LEN]
    return "note", (clean or "annotation")[:MAX_LABEL_LEN]
