"""Schema migration steps, registered in :data:`core.catalog.db.MIGRATIONS`.

Each step upgrades a catalog by exactly one version, starting from exactly the previous schema. A
new catalog is created as ``schema_v1.sql`` and then brought up by these same steps, so every
version is defined once: v1 by the frozen SQL file, each later version by its step here.

Released steps are frozen like ``schema_v1.sql``: a change is a new step (a new version), never an
edit. ``tests/core/fixtures/catalog_v<n>.sql`` hold dumps of each version to catch drift.

A step runs inside a transaction with foreign keys off and must use ``conn.execute`` only.
"""

from __future__ import annotations

import sqlite3
import uuid

# --- v2: self-reports, analyses, reports ----------------------------------------------------

SCHEMA_V2_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE self_reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- 'pre': before the treatment phase; 'post': after it. One row per phase.
    phase        TEXT    NOT NULL CHECK (phase IN ('pre', 'post')),
    -- Self-Assessment Manikin 1-9 and GAD-7 total 0-21; NULL: not (yet) answered.
    sam_valence  INTEGER NULL
                 CHECK (sam_valence IS NULL
                        OR (typeof(sam_valence) = 'integer' AND sam_valence BETWEEN 1 AND 9)),
    sam_arousal  INTEGER NULL
                 CHECK (sam_arousal IS NULL
                        OR (typeof(sam_arousal) = 'integer' AND sam_arousal BETWEEN 1 AND 9)),
    gad7         INTEGER NULL
                 CHECK (gad7 IS NULL OR (typeof(gad7) = 'integer' AND gad7 BETWEEN 0 AND 21)),
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    -- Its index (session_id first) also serves look-ups by session.
    UNIQUE (session_id, phase)
)""",
    """CREATE TABLE analyses (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id         INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at         TEXT    NOT NULL,
    -- When the summary was last recomputed (e.g. after the phase markers were edited).
    updated_at         TEXT    NOT NULL,
    checkpoint_sha256  TEXT    NOT NULL CHECK (length(checkpoint_sha256) = 64),
    checkpoint_label   TEXT    NOT NULL CHECK (length(trim(checkpoint_label)) > 0),
    demo_model         INTEGER NOT NULL CHECK (demo_model IN (0, 1)),
    device             TEXT    NOT NULL CHECK (length(trim(device)) > 0),
    -- Relative to the session folder, forward slashes.
    result_dir         TEXT    NOT NULL CHECK (length(result_dir) > 0),
    -- A JSON object: the circumplex summary.
    summary_json       TEXT    NOT NULL
)""",
    "CREATE INDEX analyses_session ON analyses (session_id, id)",
    """CREATE TABLE reports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id    INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at    TEXT    NOT NULL,
    pages         INTEGER NOT NULL CHECK (pages >= 1),
    include_name  INTEGER NOT NULL CHECK (include_name IN (0, 1))
)""",
    "CREATE INDEX reports_session ON reports (session_id, id)",
)


def migrate_v1_to_v2(conn: sqlite3.Connection) -> None:
    """v1 → v2: add ``self_reports``, ``analyses`` and ``reports`` (existing rows untouched)."""
    for statement in SCHEMA_V2_STATEMENTS:
        conn.execute(statement)


# --- v3: archived patients -------------------------------------------------------------------

SCHEMA_V3_STATEMENTS: tuple[str, ...] = (
    # When the patient was archived (ISO-8601 UTC); NULL: active. Archived patients are kept
    # with all their data, only hidden from the patients list by default.
    "ALTER TABLE patients ADD COLUMN archived_at TEXT NULL",
)


def migrate_v2_to_v3(conn: sqlite3.Connection) -> None:
    """v2 → v3: add ``patients.archived_at`` (every existing patient stays active)."""
    for statement in SCHEMA_V3_STATEMENTS:
        conn.execute(statement)


# --- v4: a lasting identity for each patient ---------------------------------------------------

SCHEMA_V4_STATEMENTS: tuple[str, ...] = (
    # The patient's UUID (36 characters, lower case): names the patient's record file and is
    # written into each session folder, so the catalog can be rebuilt from the files. Filled
    # for every existing patient by the step; set by add_patient for new ones.
    "ALTER TABLE patients ADD COLUMN uuid TEXT NULL CHECK (uuid IS NULL OR length(uuid) = 36)",
    "CREATE UNIQUE INDEX patients_uuid ON patients (uuid)",
)


def migrate_v3_to_v4(conn: sqlite3.Connection) -> None:
    """v3 → v4: add ``patients.uuid`` and give every existing patient a new random UUID."""
    for statement in SCHEMA_V4_STATEMENTS:
        conn.execute(statement)
    for (pid,) in conn.execute("SELECT id FROM patients ORDER BY id").fetchall():
        conn.execute("UPDATE patients SET uuid = ? WHERE id = ?", (str(uuid.uuid4()), pid))


# --- v5: imported sessions are audited as imports ----------------------------------------------

SCHEMA_V5_STATEMENTS: tuple[str, ...] = (
    # SQLite cannot change a CHECK constraint in place: the audit table is rebuilt with the
    # action 'import' allowed (``therascope import``), keeping every row and its id.
    """CREATE TABLE audit_v5 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,
    action      TEXT    NOT NULL
                CHECK (action IN ('create', 'update', 'record', 'import', 'finalise', 'recover',
                                  'export', 'delete')),
    entity      TEXT    NOT NULL,
    entity_id   INTEGER NULL,
    detail      TEXT    NOT NULL DEFAULT ''
)""",
    "INSERT INTO audit_v5 (id, at, action, entity, entity_id, detail)"
    " SELECT id, at, action, entity, entity_id, detail FROM audit ORDER BY id",
    "DROP TABLE audit",
    "ALTER TABLE audit_v5 RENAME TO audit",
    "CREATE INDEX audit_at ON audit (at)",
    "CREATE INDEX audit_entity ON audit (entity, entity_id)",
)


def migrate_v4_to_v5(conn: sqlite3.Connection) -> None:
    """v4 → v5: the audit trail accepts ``import`` (rows, ids and the id sequence kept)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
    for statement in SCHEMA_V5_STATEMENTS:
        conn.execute(statement)
    if row is not None:  # an id once given is never given again, even if its row were gone
        conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'audit'", (int(row[0]),)
        )


# --- v6: every audit row names the account that acted -----------------------------------------

SCHEMA_V6_STATEMENTS: tuple[str, ...] = (
    # The account (its name in the data folder's key store) that did what the row says; NULL for
    # rows written before accounts existed and for what the program does by itself (recovery of a
    # crashed session at start, a schema migration).
    "ALTER TABLE audit ADD COLUMN account TEXT NULL",
)


def migrate_v5_to_v6(conn: sqlite3.Connection) -> None:
    """v5 → v6: add ``audit.account`` (older rows keep NULL: no account is known for them)."""
    for statement in SCHEMA_V6_STATEMENTS:
        conn.execute(statement)


# --- v7: reads are audited too -----------------------------------------------------------------

SCHEMA_V7_STATEMENTS: tuple[str, ...] = (
    # The audit table rebuilt once more (a CHECK constraint cannot change in place) with the
    # action 'open': who opened a patient's page, a session's review or playback.
    """CREATE TABLE audit_v7 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,
    action      TEXT    NOT NULL
                CHECK (action IN ('create', 'update', 'record', 'import', 'finalise', 'recover',
                                  'export', 'delete', 'open')),
    entity      TEXT    NOT NULL,
    entity_id   INTEGER NULL,
    detail      TEXT    NOT NULL DEFAULT '',
    account     TEXT    NULL
)""",
    "INSERT INTO audit_v7 (id, at, action, entity, entity_id, detail, account)"
    " SELECT id, at, action, entity, entity_id, detail, account FROM audit ORDER BY id",
    "DROP TABLE audit",
    "ALTER TABLE audit_v7 RENAME TO audit",
    "CREATE INDEX audit_at ON audit (at)",
    "CREATE INDEX audit_entity ON audit (entity, entity_id)",
)


def migrate_v6_to_v7(conn: sqlite3.Connection) -> None:
    """v6 → v7: the audit trail accepts ``open`` (rows, ids, accounts and the id sequence
    kept)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
    for statement in SCHEMA_V7_STATEMENTS:
        conn.execute(statement)
    if row is not None:
        conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'audit'", (int(row[0]),)
        )


# --- v8: questionnaires item by item, SUDS ratings ---------------------------------------------

SCHEMA_V8_STATEMENTS: tuple[str, ...] = (
    # One row per answered item of a questionnaire (GAD-7: items 1-7, PHQ-9: items 1-9, each
    # 0-3) per phase of a session. The total is never stored here: it is the sum once every item
    # is answered (core.clinical). A GAD-7 total entered alone stays in self_reports.gad7 ("total
    # only"); once GAD-7 items exist for a phase, self_reports.gad7 follows them.
    """CREATE TABLE questionnaire_items (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    phase        TEXT    NOT NULL CHECK (phase IN ('pre', 'post')),
    instrument   TEXT    NOT NULL CHECK (instrument IN ('gad7', 'phq9')),
    item         INTEGER NOT NULL
                 CHECK (typeof(item) = 'integer' AND item >= 1
                        AND item <= CASE instrument WHEN 'gad7' THEN 7 ELSE 9 END),
    score        INTEGER NOT NULL
                 CHECK (typeof(score) = 'integer' AND score BETWEEN 0 AND 3),
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    UNIQUE (session_id, phase, instrument, item)
)""",
    # Subjective Units of Distress, 0-100, each at its moment (s since the session's start).
    """CREATE TABLE suds_ratings (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    t_s          REAL    NOT NULL CHECK (t_s >= 0),
    rating       INTEGER NOT NULL
                 CHECK (typeof(rating) = 'integer' AND rating BETWEEN 0 AND 100),
    created_at   TEXT    NOT NULL
)""",
    "CREATE INDEX suds_ratings_session ON suds_ratings (session_id, t_s)",
)


def migrate_v7_to_v8(conn: sqlite3.Connection) -> None:
    """v7 → v8: add ``questionnaire_items`` and ``suds_ratings`` (every GAD-7 total stays in
    ``self_reports`` and reads as "total only")."""
    for statement in SCHEMA_V8_STATEMENTS:
        conn.execute(statement)
