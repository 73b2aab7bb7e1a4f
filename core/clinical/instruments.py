"""GAD-7 and PHQ-9 (items, response scale, scoring, severity bands) and the SUDS scale.

Both questionnaires are free to use (no permission is needed to reproduce, translate or display
them). Each item asks how often, over the last two weeks, the patient has been bothered by the
problem, answered 0 "not at all", 1 "several days", 2 "more than half the days", 3 "nearly every
day"; the total is the sum of the items.

- GAD-7: Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for assessing generalized
  anxiety disorder: the GAD-7. Arch Intern Med. 2006;166(10):1092–1097.
  doi:10.1001/archinte.166.10.1092. Cut-offs 5, 10, 15: mild, moderate, severe anxiety.
- PHQ-9: Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression severity
  measure. J Gen Intern Med. 2001;16(9):606–613. doi:10.1046/j.1525-1497.2001.016009606.x.
  Cut-offs 5, 10, 15, 20: mild, moderate, moderately severe, severe depression. Item 9 (thoughts
  of being better off dead or of self-harm) answered above 0 needs the clinician's attention
  whatever the total.

The item labels here are short forms of the published wording, for screens and reports; the
patient answers the published form.

SUDS (Subjective Units of Distress Scale; Wolpe J. The Practice of Behavior Therapy. Pergamon,
1969): the patient's own distress, 0 (none, fully calm) to 100 (the worst imaginable), asked
repeatedly during exposure; here a whole number tied to its moment in the session.

Nothing here changes a value: out of range is refused with a message (:func:`check_item`,
:func:`check_suds`), never clamped.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field

ITEM_MIN = 0
ITEM_MAX = 3
RESPONSES: tuple[str, ...] = (
    "Not at all",
    "Several days",
    "More than half the days",
    "Nearly every day",
)
"""The answer to each item, by its score 0–3."""

SUDS_MIN = 0
SUDS_MAX = 100

#: the phases a questionnaire is entered for (as the catalog's self-reports)
PHASES: tuple[str, ...] = ("pre", "post")


@dataclass(frozen=True)
class Instrument:
    """A questionnaire scored by summing items 0–3.

    Parameters
    ----------
    key : str — ``gad7`` or ``phq9`` (as stored in the catalog)
    name : str — ``GAD-7``, ``PHQ-9``
    title : str — what it measures
    items : tuple of str — short item labels, item 1 first
    reference : str — the publication (wording, scoring and cut-offs)
    bands : tuple of (int, str) — each band's lowest total and its name, lowest band first
    flagged_item : int or None — the item (1-based) whose answer above 0 is flagged
    """

    key: str
    name: str
    title: str
    items: tuple[str, ...]
    reference: str
    bands: tuple[tuple[int, str], ...]
    flagged_item: int | None = None
    flag_text: str = ""

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def max_total(self) -> int:
        return ITEM_MAX * len(self.items)

    def item_name(self, item: int) -> str:
        """``"PHQ-9 item 9 (Thoughts that you would be better off dead …)"``"""
        return f"{self.name} item {item} ({self.items[item - 1]})"


GAD7 = Instrument(
    key="gad7",
    name="GAD-7",
    title="Generalized Anxiety Disorder 7-item scale",
    items=(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    reference=(
        "Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for assessing generalized "
        "anxiety disorder: the GAD-7. Arch Intern Med. 2006;166(10):1092–1097. "
        "doi:10.1001/archinte.166.10.1092"
    ),
    bands=((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe")),
)

PHQ9 = Instrument(
    key="phq9",
    name="PHQ-9",
    title="Patient Health Questionnaire, 9-item depression scale",
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself, or that you are a failure or have let yourself or your "
        "family down",
        "Trouble concentrating on things, such as reading or watching television",
        "Moving or speaking so slowly that others could have noticed, or being so fidgety or "
        "restless that you have been moving around more than usual",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
    ),
    reference=(
        "Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression "
        "severity measure. J Gen Intern Med. 2001;16(9):606–613. "
        "doi:10.1046/j.1525-1497.2001.016009606.x"
    ),
    bands=(
        (0, "minimal"),
        (5, "mild"),
        (10, "moderate"),
        (15, "moderately severe"),
        (20, "severe"),
    ),
    flagged_item=9,
    flag_text=(
        "PHQ-9 item 9 answered above 0: thoughts of being better off dead or of self-harm — "
        "assess suicide risk"
    ),
)

INSTRUMENTS: dict[str, Instrument] = {GAD7.key: GAD7, PHQ9.key: PHQ9}


def instrument(key: str) -> Instrument:
    """The instrument stored as ``key`` (``gad7``, ``phq9``); ValueError for any other."""
    try:
        return INSTRUMENTS[key]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown questionnaire {key!r}; known: {', '.join(INSTRUMENTS)}"
        ) from None


def _whole(value: object, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a whole number from {lo} to {hi}, got {value!r}")
    try:
        number = operator.index(value)  # type: ignore[arg-type]  # int, numpy ints
    except TypeError:
        raise ValueError(
            f"{what} must be a whole number from {lo} to {hi}, got {value!r}"
        ) from None
    if not lo <= number <= hi:
        raise ValueError(f"{what} must be from {lo} to {hi}; {number} is outside that range")
    return int(number)


def check_item(inst: Instrument | str, item: int, score: object) -> int:
    """``score`` for item ``item`` (1-based) of ``inst`` as an int 0–3; ValueError with a
    message naming the item when the item does not exist or the score is not 0–3."""
    ins = instrument(inst) if isinstance(inst, str) else inst
    n = _whole(item, f"{ins.name} item number", 1, ins.n_items)
    return _whole(score, ins.item_name(n), ITEM_MIN, ITEM_MAX)


def check_suds(rating: object) -> int:
    """A SUDS rating as an int 0–100; ValueError (never clamped) otherwise."""
    return _whole(rating, "SUDS", SUDS_MIN, SUDS_MAX)


def severity_band(inst: Instrument | str, total: int) -> str:
    """The severity band of a total (GAD-7 0–21, PHQ-9 0–27) by the published cut-offs."""
    ins = instrument(inst) if isinstance(inst, str) else inst
    t = _whole(total, f"{ins.name} total", 0, ins.max_total)
    return [name for lo, name in ins.bands if t >= lo][-1]


def band_range(inst: Instrument | str, band: str) -> tuple[int, int]:
    """The totals (lowest, highest) of a band, e.g. ``("phq9", "moderately severe")`` → (15, 19)."""
    ins = instrument(inst) if isinstance(inst, str) else inst
    for i, (lo, name) in enumerate(ins.bands):
        if name == band:
            hi = ins.bands[i + 1][0] - 1 if i + 1 < len(ins.bands) else ins.max_total
            return lo, hi
    raise ValueError(f"{ins.name} has no band {band!r}")


@dataclass(frozen=True)
class QuestionnaireResult:
    """One questionnaire of one phase of a session, as entered.

    Parameters
    ----------
    instrument : str — ``gad7`` or ``phq9``
    phase : str — ``pre`` or ``post``
    answers : dict — item number (1-based) → score 0–3, for the items answered (empty for a
        total entered alone)
    total : int or None — the sum of all items when every item is answered, or the total entered
        alone (``source == "total only"``); None while items are missing
    band : str or None — the severity band of ``total``
    source : str — ``items`` (every item answered), ``incomplete`` (some items answered) or
        ``total only`` (a total entered before item-by-item entry existed, or without items)
    flagged : bool — the instrument's flagged item (PHQ-9 item 9) was answered above 0
    """

    instrument: str
    phase: str
    answers: dict[int, int] = field(default_factory=dict)
    total: int | None = None
    band: str | None = None
    source: str = "items"
    flagged: bool = False

    @property
    def name(self) -> str:
        return INSTRUMENTS[self.instrument].name

    @property
    def complete(self) -> bool:
        return self.source == "items"

    @property
    def items_pending(self) -> bool:
        """A total entered alone that stays while its items are being entered (some answered,
        not all): the items' sum replaces it once every item is answered."""
        return self.source == "total only" and bool(self.answers)

    @property
    def n_answered(self) -> int:
        return len(self.answers)

    @property
    def missing(self) -> list[int]:
        """The items not answered (all of them for a total entered alone)."""
        return [
            i for i in range(1, INSTRUMENTS[self.instrument].n_items + 1) if i not in self.answers
        ]

    def summary(self) -> str:
        """One line: ``"GAD-7 12 (moderate)"``, ``"GAD-7 12 (moderate; total only)"``,
        ``"PHQ-9 incomplete: 6 of 9 items"``."""
        if self.total is None:
            n = INSTRUMENTS[self.instrument].n_items
            return f"{self.name} incomplete: {self.n_answered} of {n} items"
        only = "; total only" if self.source == "total only" else ""
        if self.items_pending:
            n = INSTRUMENTS[self.instrument].n_items
            only += f", items being entered: {self.n_answered} of {n}"
        return f"{self.name} {self.total} ({self.band}{only})"


def score(
    inst: Instrument | str, answers: Mapping[int, object], phase: str = "pre"
) -> QuestionnaireResult:
    """Score answered items: every item checked (:func:`check_item`), the total and its band
    once all are answered, the flagged item noted.

    Raises
    ------
    ValueError — an item that does not exist or a score outside 0–3 (the message names it)
    """
    ins = instrument(inst) if isinstance(inst, str) else inst
    checked = {int(i): check_item(ins, i, s) for i, s in sorted(answers.items())}
    complete = len(checked) == ins.n_items
    total = sum(checked.values()) if complete else None
    flagged = ins.flagged_item is not None and checked.get(ins.flagged_item, 0) > 0
    return QuestionnaireResult(
        instrument=ins.key,
        phase=phase,
        answers=checked,
        total=total,
        band=severity_band(ins, total) if total is not None else None,
        source="items" if complete else "incomplete",
        flagged=flagged,
    )


def total_only(
    inst: Instrument | str,
    total: int,
    phase: str = "pre",
    answers: Mapping[int, object] | None = None,
) -> QuestionnaireResult:
    """A total entered without its items (e.g. GAD-7 totals stored before item-by-item entry);
    ``answers``: the items answered so far while they are being entered (the total stays until
    all are answered, :attr:`QuestionnaireResult.items_pending`)."""
    ins = instrument(inst) if isinstance(inst, str) else inst
    t = _whole(total, f"{ins.name} total", 0, ins.max_total)
    partial = score(ins, answers or {}, phase)
    return QuestionnaireResult(
        instrument=ins.key,
        phase=phase,
        answers=partial.answers,
        total=t,
        band=severity_band(ins, t),
        source="total only",
        flagged=partial.flagged,
    )


@dataclass(frozen=True)
class SudsRating:
    """One SUDS rating during a session.

    Parameters
    ----------
    id : int — catalog id
    session_id : int — the session's catalog id
    t_s : float — when the rating was asked for (s since the session's start: the moment the
        therapist pressed S, not when the number was typed)
    rating : int — 0 (no distress) – 100 (the worst imaginable)
    created_at : str — ISO-8601 UTC, when it was stored
    """

    id: int
    session_id: int
    t_s: float
    rating: int
    created_at: str

    def text(self) -> str:
        """The rating as a marker's text: ``"SUDS 65"``."""
        return f"SUDS {self.rating}"
