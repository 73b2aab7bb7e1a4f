"""Markers as one line of text, both ways: what an export writes as an EDF+ annotation (or an XDF
marker) and what an import turns back into a marker of the same kind.

SUDS ratings travel with the markers: kind ``suds``, the rating as the label (``"suds: 65"`` in
EDF+, ``time_s,suds,65`` in the CSV); an import turns them back into ratings
(:func:`suds_from_text`)."""

from __future__ import annotations

import re

from core.catalog import Marker
from core.catalog.models import MARKER_KINDS, MAX_LABEL_LEN
from core.clinical import SudsRating, check_suds

#: the kind SUDS ratings have among exported markers
SUDS_KIND = "suds"
_SUDS_RE = re.compile(r"^suds: ?([0-9]{1,3})$", re.IGNORECASE)


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


def suds_marker(rating: SudsRating) -> Marker:
    """A SUDS rating as an exported marker: kind ``suds``, the rating (0–100) as its label."""
    return Marker(
        id=rating.id,
        session_id=rating.session_id,
        t_s=rating.t_s,
        kind=SUDS_KIND,
        label=str(rating.rating),
        created_at=rating.created_at,
    )


def with_suds(markers: list[Marker], ratings: list[SudsRating]) -> list[Marker]:
    """The markers and the SUDS ratings (as :func:`suds_marker`) in time order."""
    return sorted([*markers, *(suds_marker(r) for r in ratings)], key=lambda m: m.t_s)


def suds_from_text(text: str) -> int | None:
    """The rating of an annotation written by :func:`marker_text` for a SUDS marker
    (``"suds: 65"``); None for any other text or a rating outside 0–100."""
    m = _SUDS_RE.match(" ".join(text.split()))
    if m is None:
        return None
    try:
        return check_suds(int(m.group(1)))
    except ValueError:
        return None
