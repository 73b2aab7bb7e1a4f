"""Plain records read from and written to the catalog.

Times are ISO-8601 UTC strings with an explicit offset (``2025-03-01T09:30:00.000+00:00``), as
stored; JSON columns are decoded to dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

SessionStatus = Literal["recording", "finalised", "recovered", "failed"]
MarkerKind = Literal["treatment_start", "treatment_end", "note"]
AuditAction = Literal[
    "create", "update", "record", "import", "finalise", "recover", "export", "delete", "open"
]
SelfReportPhase = Literal["pre", "post"]
SessionState = Literal["recording", "failed", "recorded", "analysed", "reported"]

SESSION_STATUSES: tuple[str, ...] = ("recording", "finalised", "recovered", "failed")
SELF_REPORT_PHASES: tuple[str, ...] = ("pre", "post")
SESSION_STATES: tuple[str, ...] = ("recording", "failed", "recorded", "analysed", "reported")
"""What :meth:`Catalog.session_state` answers (the sessions table's status column)."""
MARKER_KINDS: tuple[str, ...] = ("treatment_start", "treatment_end", "note")
AUDIT_ACTIONS: tuple[str, ...] = (
    "create",
    "update",
    "record",
    "import",
    "finalise",
    "recover",
    "export",
    "delete",
    "open",
)

#: the longest texts the catalog keeps (characters); the GUI's fields enforce the same
MAX_CODE_LEN = 32
MAX_NAME_LEN = 200
MAX_LABEL_LEN = 1000  # a marker's text
MAX_NOTES_LEN = 50_000  # a patient's or a session's notes


@dataclass
class Patient:
    """A patient, known by a pseudonymous code.

    Parameters
    ----------
    id : int — catalog id (never reused)
    code : str — pseudonymous code, unique (case-insensitive), at most 32 characters
    name : str or None — optional clear name; never written to the audit trail
    birth_year : int or None — year of birth
    notes : str — free notes by the therapist
    is_demo : bool — a demo patient with simulated sessions
    created_at, updated_at : str — ISO-8601 UTC
    archived_at : str or None — ISO-8601 UTC, when the patient was archived; ``None``: active
    uuid : str or None — the patient's lasting identity (a UUID): it names the patient's own
        record file and is written into each of the patient's session folders, so a catalog can
        be rebuilt from the folders (``None`` only in a catalog opened below schema v4)
    """

    id: int
    code: str
    name: str | None
    birth_year: int | None
    notes: str
    is_demo: bool
    created_at: str
    updated_at: str
    archived_at: str | None = None
    uuid: str | None = None

    @property
    def archived(self) -> bool:
        """The patient is archived: kept with all data, hidden from the list by default."""
        return self.archived_at is not None


@dataclass
class SessionRecord:
    """One recorded session as indexed in the catalog (the data lives in ``folder``).

    Parameters
    ----------
    id : int — catalog id (never reused)
    uid : str — folder-safe unique id
    patient_id : int — the patient's catalog id
    started_at : str — ISO-8601 UTC wall clock at the start of recording
    ended_at : str or None — ISO-8601 UTC, set at finalisation
    duration_s : float or None — recorded length (s), set at finalisation
    status : str — ``recording``, ``finalised``, ``recovered`` or ``failed``
    devices : dict — the devices used (names, addresses, firmware …)
    settings : dict — the recording settings (rates, frame size …)
    consent_at : str — ISO-8601 UTC time the patient's consent was recorded
    consent_note : str — how consent was given
    simulated : bool — recorded from simulated devices
    folder : str — the session folder, relative to the data directory
    quality : dict — lost samples, dropped frames … (filled at finalisation)
    notes : str — free notes by the therapist
    """

    id: int
    uid: str
    patient_id: int
    started_at: str
    ended_at: str | None
    duration_s: float | None
    status: str
    devices: dict[str, Any]
    settings: dict[str, Any]
    consent_at: str
    consent_note: str
    simulated: bool
    folder: str
    quality: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    @property
    def imported(self) -> bool:
        """Imported from another tool's files (``therascope import``), not recorded here."""
        return isinstance(self.devices.get("import"), dict)

    @property
    def origin(self) -> str:
        """``"simulated"``, ``"imported"`` or ``"recorded"``, as the sessions list says it."""
        return "simulated" if self.simulated else "imported" if self.imported else "recorded"


@dataclass
class Marker:
    """A time marker within a session.

    Parameters
    ----------
    id : int — catalog id
    session_id : int — the session's catalog id
    t_s : float — time since the session's start (s)
    kind : str — ``treatment_start``, ``treatment_end`` or ``note``
    label : str — free text
    created_at : str — ISO-8601 UTC
    """

    id: int
    session_id: int
    t_s: float
    kind: str
    label: str
    created_at: str


@dataclass
class AuditEntry:
    """One line of the audit trail.

    Parameters
    ----------
    id : int — catalog id
    at : str — ISO-8601 UTC
    action : str — one of :data:`AUDIT_ACTIONS`
    entity : str — ``patient``, ``session``, ``marker``, ``catalog`` …
    entity_id : int or None — the entity's catalog id
    detail : str — codes and ids only, never names or notes
    account : str or None — the account that acted (None: before accounts, or the program)
    """

    id: int
    at: str
    action: str
    entity: str
    entity_id: int | None
    detail: str
    account: str | None = None


@dataclass
class SelfReport:
    """The patient's own ratings for one phase of a session.

    Parameters
    ----------
    id : int — catalog id
    session_id : int — the session's catalog id
    phase : str — ``pre`` (before the treatment phase) or ``post`` (after it)
    sam_valence : int or None — Self-Assessment Manikin valence, 1 (unpleasant) – 9 (pleasant)
    sam_arousal : int or None — Self-Assessment Manikin arousal, 1 (calm) – 9 (activated)
    gad7 : int or None — GAD-7 total score, 0 – 21
    created_at, updated_at : str — ISO-8601 UTC
    """

    id: int
    session_id: int
    phase: str
    sam_valence: int | None
    sam_arousal: int | None
    gad7: int | None
    created_at: str
    updated_at: str


@dataclass
class QuestionnaireEntry:
    """The answered items of one questionnaire for one phase of a session.

    Parameters
    ----------
    session_id : int — the session's catalog id
    phase : str — ``pre`` or ``post``
    instrument : str — ``gad7`` or ``phq9`` (:mod:`core.clinical.instruments`)
    answers : dict — item number (1-based) → score 0–3, the items answered so far
    """

    session_id: int
    phase: str
    instrument: str
    answers: dict[int, int] = field(default_factory=dict)


@dataclass
class AnalysisRecord:
    """One analysis run of a session (the model's valence/arousal estimates).

    Parameters
    ----------
    id : int — catalog id (never reused)
    session_id : int — the session's catalog id
    created_at : str — ISO-8601 UTC, when the analysis ran
    updated_at : str — ISO-8601 UTC, when the summary was last recomputed
    checkpoint_sha256 : str — SHA-256 of the model checkpoint (64 lowercase hex digits)
    checkpoint_label : str — the checkpoint's name as shown to the therapist
    demo_model : bool — run with the demo model (its numbers are labelled as such)
    device : str — what it ran on, e.g. ``cpu`` or ``cuda: NVIDIA H100``
    result_dir : str — the results' folder, relative to the session folder (e.g. ``analysis``)
    summary : dict — the circumplex summary (decoded JSON object)
    """

    id: int
    session_id: int
    created_at: str
    updated_at: str
    checkpoint_sha256: str
    checkpoint_label: str
    demo_model: bool
    device: str
    result_dir: str
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReportRecord:
    """One exported session report.

    Parameters
    ----------
    id : int — catalog id
    session_id : int — the session's catalog id
    created_at : str — ISO-8601 UTC
    pages : int — number of pages
    include_name : bool — the patient's name was printed in it
    """

    id: int
    session_id: int
    created_at: str
    pages: int
    include_name: bool


class PatientOverview(TypedDict):
    """One row of :meth:`Catalog.patient_overview`: a patient with session counts."""

    id: int
    code: str
    name: str | None
    is_demo: bool
    archived: bool
    n_sessions: int
    last_session_at: str | None
