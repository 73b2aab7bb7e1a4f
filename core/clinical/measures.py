"""The read API: a session's questionnaires and SUDS ratings as results, from any catalog.

Works on any object with the catalog's three read methods (:class:`MeasureSource`; the
:class:`core.catalog.Catalog` is one), so this package needs no import of the catalog and the
catalog can use the scales (:mod:`core.clinical.instruments`) to check what it stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.clinical.instruments import (
    GAD7,
    INSTRUMENTS,
    PHASES,
    QuestionnaireResult,
    SudsRating,
    score,
    total_only,
)


class MeasureSource(Protocol):
    """What :func:`session_measures` reads (:class:`core.catalog.Catalog` has all three)."""

    def questionnaire_items(self, session_id: int) -> dict[str, dict[str, dict[int, int]]]: ...

    def self_reports(self, session_id: int) -> Mapping[str, Any]: ...

    def list_suds(self, session_id: int) -> list[SudsRating]: ...


@dataclass(frozen=True)
class SessionMeasures:
    """A session's clinical measures.

    Parameters
    ----------
    session_id : int — the session's catalog id
    questionnaires : dict — ``{phase: {instrument: QuestionnaireResult}}``, phases ``pre`` and
        ``post``, instruments ``gad7`` and ``phq9``; only what was entered (an empty dict for a
        phase with nothing)
    suds : list of SudsRating — in time order
    """

    session_id: int
    questionnaires: dict[str, dict[str, QuestionnaireResult]] = field(default_factory=dict)
    suds: list[SudsRating] = field(default_factory=list)

    def result(self, phase: str, instrument: str) -> QuestionnaireResult | None:
        """One questionnaire of one phase, or None when nothing of it was entered."""
        return self.questionnaires.get(phase, {}).get(instrument)

    @property
    def flagged(self) -> list[QuestionnaireResult]:
        """The results whose flagged item (PHQ-9 item 9) was answered above 0."""
        return [r for by in self.questionnaires.values() for r in by.values() if r.flagged]


def session_questionnaires(
    source: MeasureSource, session_id: int
) -> dict[str, dict[str, QuestionnaireResult]]:
    """``{phase: {instrument: QuestionnaireResult}}`` for one session.

    Items entered one by one are scored (:func:`core.clinical.instruments.score`): complete ones
    have their total and band, partly answered ones read ``incomplete`` without a total. A GAD-7
    total stored without items (entered before v8, or as a total alone) reads ``total only``,
    also while its items are being entered (``items_pending``; the items answered so far in
    ``answers``) until all seven are answered.
    """
    items = source.questionnaire_items(session_id)
    reports = source.self_reports(session_id)
    out: dict[str, dict[str, QuestionnaireResult]] = {}
    for phase in PHASES:
        by: dict[str, QuestionnaireResult] = {}
        for key in INSTRUMENTS:
            answers = items.get(phase, {}).get(key)
            if answers:
                by[key] = score(key, answers, phase)
        sr = reports.get(phase)
        gad_total = getattr(sr, "gad7", None) if sr is not None else None
        gad = by.get(GAD7.key)
        if gad_total is not None and (gad is None or not gad.complete):
            # a total entered alone stays (shown as such) while its items are being entered
            by[GAD7.key] = total_only(GAD7, gad_total, phase, gad.answers if gad else None)
        out[phase] = by
    return out


def session_suds(source: MeasureSource, session_id: int) -> list[SudsRating]:
    """A session's SUDS ratings in time order."""
    return sorted(source.list_suds(session_id), key=lambda r: (r.t_s, r.id))


def session_measures(source: MeasureSource, session_id: int) -> SessionMeasures:
    """The session's questionnaires and SUDS ratings together."""
    return SessionMeasures(
        session_id=session_id,
        questionnaires=session_questionnaires(source, session_id),
        suds=session_suds(source, session_id),
    )
