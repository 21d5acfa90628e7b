"""The store's tables (DESIGN.md §3), created and upgraded in place by numbered migrations."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


# The counts kept per unit and local day (kpi_daily) and per month (kpi_monthly) of migration 3;
# frozen with it: a later change of the aggregates is a new migration, not an edit here.
_AGGREGATE_COUNT_COLUMNS: tuple[str, ...] = (
    "received",
    "received_online",
    "received_in_person",
    "received_postal",
    "received_with_fee",
    "received_paid_online",
    "received_few_supplements",
    "finished",
    "finished_few_supplements",
    "resolved",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "resolved_digitized",
    "withdrawn",
    "stopped",
    "finished_766_on_time",
    "overdue_start",
    "overdue_end",
    "overdue_start_few_supplements",
    "overdue_end_few_supplements",
    "at_risk_start",
    "at_risk_end",
    "hotline_received",
    "hotline_answered",
    "hotline_answered_on_time",
    "hotline_answered_late",
    "hotline_rated",
    "hotline_satisfied",
    "hotline_unsatisfied_on_time",
    "hotline_overdue_start",
    "hotline_overdue_end",
)
_AGGREGATE_SQL = """
        -- One row per accepted dossier: the local days its KPI contributions land on (kpis.aggregates).
        CREATE TABLE kpi_dossier_facts (
            dossier_id VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            channel VARCHAR NOT NULL,
            received_day DATE NOT NULL,
            finished_day DATE,
            due_day DATE,
            overdue_start_day DATE,
            overdue_end_day DATE,
            at_risk_start_day DATE,
            at_risk_end_day DATE,
            processing_days INTEGER,
            has_fee BOOLEAN NOT NULL,
            paid_online BOOLEAN NOT NULL,
            few_supplements BOOLEAN NOT NULL,
            digitized_result BOOLEAN NOT NULL,
            on_time_766_if_ended BOOLEAN NOT NULL
        );

        -- One row per hotline ticket that is not rejected.
        CREATE TABLE kpi_hotline_facts (
            ticket_id VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            received_day DATE NOT NULL,
            answered_day DATE,
            overdue_start_day DATE,
            overdue_end_day DATE,
            answered_on_time BOOLEAN,
            rating VARCHAR,
            response_seconds DOUBLE
        );

        -- Per unit and local day: how many items start or end each counted state on that day.
        CREATE TABLE kpi_daily (
            unit_code VARCHAR NOT NULL,
            day DATE NOT NULL,
{count_columns}            PRIMARY KEY (unit_code, day)
        );

        -- Resolved dossiers per unit, finished day and processing working days: exact medians and p90.
        CREATE TABLE kpi_processing_days (
            unit_code VARCHAR NOT NULL,
            day DATE NOT NULL,
            processing_days INTEGER NOT NULL,
            dossiers BIGINT NOT NULL,
            PRIMARY KEY (unit_code, day, processing_days)
        );

        -- The same counts per calendar month (month = its first day), so long periods read few rows.
        CREATE TABLE kpi_monthly (
            unit_code VARCHAR NOT NULL,
            month DATE NOT NULL,
{count_columns}            PRIMARY KEY (unit_code, month)
        );
        CREATE TABLE kpi_processing_days_monthly (
            unit_code VARCHAR NOT NULL,
            month DATE NOT NULL,
            processing_days INTEGER NOT NULL,
            dossiers BIGINT NOT NULL,
            PRIMARY KEY (unit_code, month, processing_days)
        );

        -- 'ready' while the aggregates match the items; a store with items from before this migration
        -- starts 'stale' until kpis.aggregates.rebuild_aggregates runs.
        INSERT INTO meta
        SELECT 'kpi_aggregates',
               CASE WHEN (SELECT count(*) FROM dossiers) + (SELECT count(*) FROM hotline_tickets) = 0
                    THEN 'ready' ELSE 'stale' END;
""".format(count_columns="".join(f"            {column} BIGINT NOT NULL DEFAULT 0,\n" for column in _AGGREGATE_COUNT_COLUMNS))


# Migration 5: the same count tables without primary keys. An ingest appends its delta rows (readers sum per
# key anyway) instead of updating rows in place, which DuckDB made cost 0.2-0.4 s per commit; kpis.aggregates
# compacts them now and then. Frozen with migration 5.
_UNKEYED_DAILY_COUNTS = "".join(f", {column} BIGINT NOT NULL DEFAULT 0" for column in _AGGREGATE_COUNT_COLUMNS)
_UNKEYED_COUNT_TABLES: tuple[tuple[str, str, str], ...] = (
    ("kpi_daily", "day DATE NOT NULL", _UNKEYED_DAILY_COUNTS),
    ("kpi_monthly", "month DATE NOT NULL", _UNKEYED_DAILY_COUNTS),
    ("kpi_processing_days", "day DATE NOT NULL", ", processing_days INTEGER NOT NULL, dossiers BIGINT NOT NULL"),
    ("kpi_processing_days_monthly", "month DATE NOT NULL", ", processing_days INTEGER NOT NULL, dossiers BIGINT NOT NULL"),
)
_UNKEYED_SQL = "\n".join(
    f"""
        CREATE TABLE {table}_unkeyed (unit_code VARCHAR NOT NULL, {period}{counts});
        INSERT INTO {table}_unkeyed SELECT * FROM {table};
        DROP TABLE {table};
        ALTER TABLE {table}_unkeyed RENAME TO {table};"""
    for table, period, counts in _UNKEYED_COUNT_TABLES
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "canonical model: units, procedures, dossiers, hotline, ingest bookkeeping, calendar",
        """
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        INSERT INTO meta VALUES ('data_version', '0');

        CREATE TABLE units (
            unit_code VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            full_name VARCHAR NOT NULL,
            name_en VARCHAR,
            kind VARCHAR NOT NULL CHECK (kind IN ('phuong', 'xa', 'dac_khu', 'province', 'other')),
            province_code VARCHAR,
            merged_from VARCHAR,
            area_km2 DOUBLE
        );

        CREATE TABLE procedures (
            procedure_code VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            name_en VARCHAR,
            sector VARCHAR NOT NULL,
            level VARCHAR NOT NULL CHECK (level IN ('commune', 'province')),
            legal_days INTEGER NOT NULL CHECK (legal_days >= 0),
            online VARCHAR NOT NULL CHECK (online IN ('full', 'partial', 'none')),
            has_fee BOOLEAN NOT NULL,
            code_source VARCHAR
        );

        CREATE TABLE dossiers (
            dossier_id VARCHAR PRIMARY KEY,
            source VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            procedure_code VARCHAR,
            sector VARCHAR,
            channel VARCHAR NOT NULL CHECK (channel IN ('online', 'in_person', 'postal')),
            received_at TIMESTAMPTZ NOT NULL,
            due_at TIMESTAMPTZ,
            finished_at TIMESTAMPTZ,
            returned_at TIMESTAMPTZ,
            status VARCHAR NOT NULL,
            supplement_count INTEGER NOT NULL DEFAULT 0,
            paused_seconds BIGINT NOT NULL DEFAULT 0,
            extended BOOLEAN NOT NULL DEFAULT FALSE,
            paid_online BOOLEAN NOT NULL DEFAULT FALSE,
            digitized BOOLEAN NOT NULL DEFAULT FALSE,
            e_result BOOLEAN NOT NULL DEFAULT FALSE,
            is_proactive BOOLEAN NOT NULL DEFAULT FALSE,
            updated_at TIMESTAMPTZ NOT NULL,
            ingested_at TIMESTAMPTZ NOT NULL
        );

        CREATE TABLE dossier_events (
            dossier_id VARCHAR NOT NULL,
            event_at TIMESTAMPTZ NOT NULL,  -- "at" in DESIGN.md; AT is a keyword in DuckDB
            status VARCHAR NOT NULL,
            note VARCHAR
        );

        CREATE TABLE hotline_tickets (
            ticket_id VARCHAR PRIMARY KEY,
            source VARCHAR NOT NULL,
            channel VARCHAR NOT NULL,
            field VARCHAR NOT NULL,
            urgency VARCHAR NOT NULL CHECK (urgency IN ('urgent', 'quick', 'normal')),
            unit_code VARCHAR NOT NULL,
            received_at TIMESTAMPTZ NOT NULL,
            forwarded_at TIMESTAMPTZ,
            due_at TIMESTAMPTZ,
            answered_at TIMESTAMPTZ,
            status VARCHAR NOT NULL CHECK (status IN ('new', 'processing', 'forwarded', 'answered', 'rejected')),
            published BOOLEAN NOT NULL DEFAULT FALSE,
            rating VARCHAR CHECK (rating IN ('satisfied', 'acceptable', 'unsatisfied')),
            title VARCHAR,
            lat DOUBLE,
            lon DOUBLE,
            updated_at TIMESTAMPTZ NOT NULL,
            ingested_at TIMESTAMPTZ NOT NULL
        );

        CREATE SEQUENCE ingest_run_ids;
        CREATE TABLE ingest_runs (
            run_id BIGINT PRIMARY KEY,
            connector VARCHAR NOT NULL,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            rows_read BIGINT NOT NULL DEFAULT 0,
            rows_upserted BIGINT NOT NULL DEFAULT 0,
            rows_rejected BIGINT NOT NULL DEFAULT 0,
            status VARCHAR NOT NULL,
            error VARCHAR
        );

        CREATE TABLE connector_state (
            connector VARCHAR PRIMARY KEY,
            cursor_value VARCHAR,
            last_success_at TIMESTAMPTZ,
            last_error_at TIMESTAMPTZ,
            last_error VARCHAR,
            updated_at TIMESTAMPTZ NOT NULL
        );

        CREATE SEQUENCE reject_ids;
        CREATE TABLE rejects (
            reject_id BIGINT PRIMARY KEY,
            connector VARCHAR NOT NULL,
            run_id BIGINT,
            raw_row VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            rejected_at TIMESTAMPTZ NOT NULL
        );

        CREATE TABLE calendar_overrides (
            day DATE PRIMARY KEY,
            kind VARCHAR NOT NULL CHECK (kind IN ('day_off', 'working_day')),
            note VARCHAR
        );

        -- Derived from the holidays package plus calendar_overrides; rebuilt by ioc.calendar.
        CREATE TABLE calendar_days (
            day DATE PRIMARY KEY,
            is_working BOOLEAN NOT NULL,
            working_days_through INTEGER NOT NULL
        );
        """,
    ),
    Migration(
        2,
        "indexes for per-unit and per-period reads",
        """
        CREATE INDEX dossiers_unit ON dossiers (unit_code);
        CREATE INDEX dossier_events_id ON dossier_events (dossier_id);
        CREATE INDEX hotline_unit ON hotline_tickets (unit_code);
        """,
    ),
    Migration(
        3,
        "KPI aggregates: per-item facts and per-unit, per-local-day counts maintained after each ingest (kpis.aggregates)",
        _AGGREGATE_SQL,
    ),
    Migration(
        4,
        "drop the index on dossier_events (dossier_id): nothing reads by it, and every ingest paid for it",
        # An ART index costs on every insert and at every commit (about 0.7 s of a 1 M-row import); a dossier's
        # history is a filter scan of one narrow table, and DuckDB's indexes only pay for point lookups.
        "DROP INDEX IF EXISTS dossier_events_id;",
    ),
    Migration(
        5,
        "KPI count tables without primary keys: each ingest appends its delta, compacted now and then (kpis.aggregates)",
        _UNKEYED_SQL,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def current_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The highest migration applied to this store (0 for a new file)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMPTZ DEFAULT now())"
    )
    rows = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()
    return int(rows[0][0]) if rows else 0


def migrate(conn: duckdb.DuckDBPyConnection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply every pending migration, each in its own transaction; return the versions applied."""
    applied: list[int] = []
    version = current_version(conn)
    if version > LATEST_VERSION:
        raise RuntimeError(
            f"The store was written by a newer version of the IOC (schema {version}, this code knows {LATEST_VERSION})."
        )
    for migration in migrations:
        if migration.version <= version:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (?, ?)",
                [migration.version, migration.description],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
