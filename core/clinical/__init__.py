"""Clinical measures: GAD-7 and PHQ-9 item by item, and SUDS ratings during a session (no Qt).

The scales (:mod:`core.clinical.instruments`)
    ``GAD7``, ``PHQ9`` (:class:`Instrument`: short item labels, the reference — Spitzer et al.
    2006 for GAD-7, Kroenke et al. 2001 for PHQ-9 — and the published cut-offs: GAD-7 5/10/15
    mild/moderate/severe, PHQ-9 5/10/15/20 mild/moderate/moderately severe/severe; below 5
    "minimal"). :func:`check_item` (0–3) and :func:`check_suds` (0–100) refuse a value out of
    range with a message naming it, never clamp. :func:`score` sums complete answers and bands
    the total; :func:`severity_band` bands a total. PHQ-9 item 9 above 0 sets
    ``QuestionnaireResult.flagged`` (text: ``PHQ9.flag_text``).

Storage (the catalog, schema v8; :class:`core.catalog.Catalog`)
    ``set_questionnaire(session_id, phase, "gad7"|"phq9", {item: score or None})`` — phase
    ``pre``/``post``; all scores checked before any is stored. ``questionnaire_items(session_id)``
    → ``{phase: {instrument: {item: score}}}``. ``add_suds(session_id, t_s, rating)``,
    ``list_suds(session_id)``, ``delete_suds(id)``. A GAD-7 total entered alone stays in
    ``self_reports.gad7``; once GAD-7 items exist for a phase that total follows them. Both are
    mirrored into the session folder's ``catalog.json`` (sealed when the folder is encrypted) and
    come back with ``therascope rebuild-catalog``. During a recording,
    ``RecordingSession.add_suds(rating, t_s)`` also writes a ``suds`` event into the journal.

Reading (:mod:`core.clinical.measures`) — for trends, reports and screens
    ``session_measures(catalog, session_id)`` → :class:`SessionMeasures` with
    ``questionnaires[phase][instrument]`` (:class:`QuestionnaireResult`: ``answers``, ``total``,
    ``band``, ``source`` = ``items`` | ``incomplete`` | ``total only``, ``flagged``) and ``suds``
    (list of :class:`SudsRating`: ``t_s``, ``rating``). ``session_questionnaires`` and
    ``session_suds`` return either part alone. A GAD-7 total from before v8 reads
    ``source == "total only"`` with its band; an incomplete questionnaire has ``total is None``.
"""

from core.clinical.instruments import (
    GAD7,
    INSTRUMENTS,
    ITEM_MAX,
    ITEM_MIN,
    PHASES,
    PHQ9,
    RESPONSES,
    SUDS_MAX,
    SUDS_MIN,
    Instrument,
    QuestionnaireResult,
    SudsRating,
    band_range,
    check_item,
    check_suds,
    instrument,
    score,
    severity_band,
    total_only,
)
from core.clinical.measures import (
    MeasureSource,
    SessionMeasures,
    session_measures,
    session_questionnaires,
    session_suds,
)

__all__ = [
    "GAD7",
    "INSTRUMENTS",
    "ITEM_MAX",
    "ITEM_MIN",
    "PHASES",
    "PHQ9",
    "RESPONSES",
    "SUDS_MAX",
    "SUDS_MIN",
    "Instrument",
    "MeasureSource",
    "QuestionnaireResult",
    "SessionMeasures",
    "SudsRating",
    "band_range",
    "check_item",
    "check_suds",
    "instrument",
    "score",
    "session_measures",
    "session_questionnaires",
    "session_suds",
    "severity_band",
    "total_only",
]
