"""The catalog: an SQLite index of patients, sessions, markers and an audit trail."""

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
    SESSION_STATUSES,
    AuditEntry,
    Marker,
    Patient,
    PatientOverview,
    SessionRecord,
)

__all__ = [
    "AUDIT_ACTIONS",
    "CATALOG_FILENAME",
    "CURRENT_SCHEMA",
    "MARKER_KINDS",
    "MIGRATIONS",
    "SESSION_STATUSES",
    "AuditEntry",
    "Catalog",
    "CatalogError",
    "CatalogFormatError",
    "CatalogVersionError",
    "Marker",
    "Patient",
    "PatientOverview",
    "SessionRecord",
]
