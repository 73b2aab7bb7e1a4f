-- TheraScope catalog, schema version 1.
--
-- Frozen: once released, this file never changes. Later versions add migration steps in
-- core/catalog/db.py (MIGRATIONS) that start from exactly this schema.
--
-- Times are ISO-8601 UTC wall-clock strings with an explicit offset
-- (e.g. 2025-03-01T09:30:00.000+00:00), so text order is time order.
-- AUTOINCREMENT everywhere: ids of deleted rows are never reused, so an audit entry's
-- entity_id always refers to one and the same record.

CREATE TABLE patients (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Pseudonymous code; NOCASE so that "P01" and "p01" cannot name two different people.
    code        TEXT    NOT NULL UNIQUE COLLATE NOCASE CHECK (length(trim(code)) > 0),
    name        TEXT    NULL,
    birth_year  INTEGER NULL,
    notes       TEXT    NOT NULL DEFAULT '',
    is_demo     INTEGER NOT NULL DEFAULT 0 CHECK (is_demo IN (0, 1)),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    uid           TEXT    NOT NULL UNIQUE,
    -- RESTRICT: a patient is only ever deleted together with its sessions, explicitly.
    patient_id    INTEGER NOT NULL REFERENCES patients (id) ON DELETE RESTRICT,
    started_at    TEXT    NOT NULL,
    ended_at      TEXT    NULL,
    duration_s    REAL    NULL,
    status        TEXT    NOT NULL
                  CHECK (status IN ('recording', 'finalised', 'recovered', 'failed')),
    devices_json  TEXT    NOT NULL,
    settings_json TEXT    NOT NULL,
    -- Consent is recorded before recording starts; a session without it cannot exist.
    consent_at    TEXT    NOT NULL CHECK (length(consent_at) > 0),
    consent_note  TEXT    NOT NULL DEFAULT '',
    simulated     INTEGER NOT NULL CHECK (simulated IN (0, 1)),
    folder        TEXT    NOT NULL,
    quality_json  TEXT    NOT NULL DEFAULT '{}',
    notes         TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX sessions_patient_started ON sessions (patient_id, started_at);
CREATE INDEX sessions_status ON sessions (status);

CREATE TABLE markers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    t_s         REAL    NOT NULL CHECK (t_s >= 0),
    kind        TEXT    NOT NULL CHECK (kind IN ('treatment_start', 'treatment_end', 'note')),
    label       TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL
);

CREATE INDEX markers_session_t ON markers (session_id, t_s);

-- No foreign keys: the trail must outlive the rows it speaks about.
-- detail holds codes and ids only, never names or notes.
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,
    action      TEXT    NOT NULL
                CHECK (action IN ('create', 'update', 'record', 'finalise', 'recover', 'export', 'delete')),
    entity      TEXT    NOT NULL,
    entity_id   INTEGER NULL,
    detail      TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_entity ON audit (entity, entity_id);
