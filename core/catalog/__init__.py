"""The catalog: an SQLite index of patients, sessions, markers, self-reports, analyses, reports
and an audit trail."""

from core.catalog.db import (
    CATALOG_FILENAME,
    CURRENT_SCHEMA,
    MIGRATIONS,
    Catalog,
    CatalogError,
    CatalogFormatError,
    CatalogVersionError,
)
from core.catalog.models import (
    AUDIT_ACTIONS,
    MARKER_KINDS,
    SELF_REPORT_PHASES,
    SESSION_STATES,
    SESSION_STATUSES,
    AnalysisRecord,
    AuditEntry,
    Marker,
    Patient,
    PatientOverview,
    ReportRecord,
    SelfReport,
    SessionRecord,
)

__all__ = [
    "AUDIT_ACTIONS",
    "CATALOG_FILENAME",
    "CURRENT_SCHEMA",
    "MARKER_KINDS",
    "MIGRATIONS",
    "SELF_REPORT_PHASES",
    "SESSION_STATES",
    "SESSION_STATUSES",
    "AnalysisRecord",
    "AuditEntry",
    "Catalog",
    "CatalogError",
    "CatalogFormatError",
    "CatalogVersionError",
    "Marker",
    "Patient",
    "PatientOverview",
    "ReportRecord",
    "SelfReport",
    "SessionRecord",
]
