"""normalize_dossier over a whole staged table in DuckDB SQL: ordinary rows at once, every unusual row left to the per-row rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import duckdb
import pandas as pd

from ioc.canonical import DUE_HOUR_LOCAL, MAX_ID_LENGTH, MAX_SMALL_INT, Reference
from ioc.config import LOCAL_TIMEZONE
from ioc.db import run
from ioc.model import DOSSIER_CHANNELS, DOSSIER_COLUMNS, STATUS_BY_CODE, STATUS_BY_NAME
from ioc.timeutil import local_datetime

POSITION = "_position"  # the row's place in its batch or file (0-based): orders rejects and breaks updated_at ties
PROBLEM = "_problem"  # connectors.mapping.ROW_PROBLEM: a row the reader flagged goes to the per-row guard
# Characters str.strip() removes that are not control characters (those are refused anywhere in a cell);
# tests/test_normalize_sql.py checks this against str.isspace.
STRIP_SPACES = "\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# A cell the fast path can take as it is: no control character, nothing strip() would remove.
NOT_PLAIN_PATTERN = "[\\x00-\\x1f]|^[" + STRIP_SPACES + "]|[" + STRIP_SPACES + "]$"
# Only this plain ISO shape is parsed here; dates alone, 7+ fraction digits, odd offsets and hour 24 go to
# the per-row parser, which stays the definition of what is valid and of the reason.
_ISO = "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?"
_TIME_COLUMNS = ("received_at", "finished_at", "returned_at", "due_at", "updated_at")
_TEXT_COLUMNS = ("dossier_id", "source", "unit_code", "procedure_code", "sector")
_BOOL_COLUMNS = ("extended", "paid_online", "digitized", "e_result", "is_proactive")
# Digits int(float(text)) reads exactly and the column holds (supplement_count is an INTEGER).
_INT_DIGITS = {"supplement_count": len(str(MAX_SMALL_INT)) - 1, "paused_seconds": 15}
_ENDED = tuple(name for name, status in STATUS_BY_NAME.items() if status.ended)

# (conn, staged table, reference, source, ingested_at, output table) -> positions for the per-row path
StagedNormalizer = Callable[[duckdb.DuckDBPyConnection, str, Reference, str, datetime, str], list[int]]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(_literal(value) for value in values)


def _ascii(column: str) -> str:
    return f"strlen({column}) = length({column})"


def _blank(column: str) -> str:
    return f"({column} IS NULL OR {column} = '')"


def _timestamp(column: str) -> str:
    """The cell as an aware instant (naive text is local time, as parse_timestamp says); NULL when blank or not plain ISO."""
    zoned = f"regexp_matches(substr({column}, 20), '[Z+-]')"
    return f"""CASE WHEN regexp_full_match({column}, {_literal(_ISO)})
        AND try_cast(substr({column}, 1, 4) AS INTEGER) BETWEEN 1990 AND 2100
        THEN CASE WHEN {zoned} THEN try_cast({column} AS TIMESTAMPTZ)
             ELSE timezone({_literal(LOCAL_TIMEZONE)}, try_cast({column} AS TIMESTAMP)) END END"""


def _choice(column: str, choices: tuple[str, ...], default: str) -> str:
    return f"""CASE WHEN {_blank(column)} THEN {default}
        WHEN {_ascii(column)} AND lower({column}) IN ({_in(choices)}) THEN lower({column}) END"""


def _status(column: str) -> str:
    codes = " ".join(f"WHEN {_literal(str(code))} THEN {_literal(status.name)}" for code, status in STATUS_BY_CODE.items())
    return f"""CASE WHEN {_ascii(column)} AND lower({column}) IN ({_in(tuple(STATUS_BY_NAME))}) THEN lower({column})
        ELSE CASE {column} {codes} END END"""


def _bool(column: str) -> str:
    return f"""CASE WHEN {_blank(column)} THEN FALSE
        WHEN {_ascii(column)} AND lower({column}) IN ('true', '1', 'yes', 't', 'y') THEN TRUE
        WHEN {_ascii(column)} AND lower({column}) IN ('false', '0', 'no', 'f', 'n') THEN FALSE END"""


def _int(column: str, digits: int) -> str:
    return f"""CASE WHEN {_blank(column)} THEN 0
        WHEN regexp_full_match({column}, '[0-9]{{1,{digits}}}') THEN try_cast({column} AS BIGINT) END"""


def _local_day(column: str) -> str:
    return f"CAST(timezone({_literal(LOCAL_TIMEZONE)}, {column}) AS DATE)"


def _register_reference(conn: duckdb.DuckDBPyConnection, reference: Reference) -> None:
    units = pd.DataFrame({"unit_code": pd.Series(sorted(reference.unit_codes), dtype=object)})
    procedures = pd.DataFrame(
        [(code, sector, int(days)) for code, (sector, days) in reference.procedures.items()],
        columns=["procedure_code", "sector", "legal_days"],
    ).astype({"procedure_code": object, "sector": object, "legal_days": "int64"})
    for name, frame in (("units", units), ("procedures", procedures)):
        conn.register(f"ref_{name}_frame", frame)
        try:
            run(conn, f"CREATE OR REPLACE TEMP TABLE ref_{name} AS SELECT * FROM ref_{name}_frame")
        finally:
            conn.unregister(f"ref_{name}_frame")


def _checked_sql(columns: set[str]) -> str:
    """Every cell parsed or NULL, and ``ok`` when every check before the due date plainly passes."""

    def raw(column: str) -> str:
        return column if column in columns else "CAST(NULL AS VARCHAR)"

    texts = ", ".join(f"nfc_normalize({raw(c)}) AS {c}" for c in _TEXT_COLUMNS)
    plain = " OR ".join(f"coalesce(regexp_matches({raw(c)}, {_literal(NOT_PLAIN_PATTERN)}), FALSE)" for c in _TEXT_COLUMNS)
    problem = f"coalesce({PROBLEM}, '') <> ''" if PROBLEM in columns else "FALSE"
    parsed = ",\n".join(
        [f"{_timestamp(raw(c))} AS {c}, {_blank(raw(c))} AS {c}_blank" for c in _TIME_COLUMNS]
        + [f"({_choice(raw('channel'), DOSSIER_CHANNELS, _literal('in_person'))}) AS channel"]
        + [f"({_status(raw('status'))}) AS status"]
        + [f"({_int(raw(c), digits)}) AS {c}" for c, digits in _INT_DIGITS.items()]
        + [f"({_bool(raw(c))}) AS {c}" for c in _BOOL_COLUMNS]
    )
    return f"""
    WITH cells AS (
        SELECT {POSITION}, {texts}, NOT ({plain}) AND NOT ({problem}) AS plain,
        {parsed}
        FROM staged_input
    )
    SELECT c.*, p.sector AS procedure_sector, p.legal_days, coalesce(
        c.plain
        AND coalesce(c.dossier_id, '') <> '' AND length(c.dossier_id) <= {MAX_ID_LENGTH}
        AND u.unit_code IS NOT NULL AND length(c.unit_code) <= {MAX_ID_LENGTH}
        AND coalesce(length(c.procedure_code), 0) <= {MAX_ID_LENGTH}
        AND coalesce(length(c.sector), 0) <= 200 AND coalesce(length(c.source), 0) <= 100
        AND c.channel IS NOT NULL AND c.status IS NOT NULL
        AND c.received_at IS NOT NULL
        AND (c.finished_at IS NOT NULL OR c.finished_at_blank) AND (c.returned_at IS NOT NULL OR c.returned_at_blank)
        AND (c.due_at IS NOT NULL OR c.due_at_blank) AND (c.updated_at IS NOT NULL OR c.updated_at_blank)
        AND (c.status IN ({_in(_ENDED)})) = (c.finished_at IS NOT NULL)
        AND coalesce(c.finished_at >= c.received_at, TRUE)
        AND coalesce(c.returned_at >= c.received_at, TRUE)
        AND coalesce(c.returned_at >= c.finished_at, TRUE)
        AND c.supplement_count IS NOT NULL AND c.paused_seconds IS NOT NULL
        AND {" AND ".join(f"c.{b} IS NOT NULL" for b in _BOOL_COLUMNS)}, FALSE) AS ok
    FROM cells c
    LEFT JOIN ref_units u ON u.unit_code = c.unit_code
    LEFT JOIN ref_procedures p ON p.procedure_code = c.procedure_code
    """


def _due_days(conn: duckdb.DuckDBPyConnection, reference: Reference) -> None:
    """Due instants for the distinct (received local day, legal days) pairs that need one, by the calendar's own rule."""
    pairs = run(
        conn,
        f"""SELECT DISTINCT {_local_day("received_at")} AS day, legal_days FROM dossier_checked
            WHERE ok AND due_at IS NULL AND legal_days IS NOT NULL""",
    )
    rows = []
    for day, count in pairs:
        try:
            due_day = reference.calendar.add_working_days(day, int(count))
        except ValueError:
            continue  # past the calendar: the per-row rules give the reason
        rows.append((day, int(count), local_datetime(due_day, DUE_HOUR_LOCAL)))
    frame = pd.DataFrame(rows, columns=["day", "legal_days", "due_at"])
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame["due_at"] = pd.to_datetime(frame["due_at"], utc=True)
    conn.register("computed_due_frame", frame)
    try:
        run(
            conn,
            """CREATE OR REPLACE TEMP TABLE computed_due AS
               SELECT CAST(day AS DATE) AS day, CAST(legal_days AS BIGINT) AS legal_days, CAST(due_at AS TIMESTAMPTZ) AS due_at
               FROM computed_due_frame""",
        )
    finally:
        conn.unregister("computed_due_frame")


def normalize_dossier_staged(
    conn: duckdb.DuckDBPyConnection, staged: str, reference: Reference, source: str, ingested_at: datetime, output: str
) -> list[int]:
    """Fill TEMP TABLE ``output`` with canonical rows (and _position) for the ordinary rows of ``staged``; return the others' positions.

    ``staged`` holds ``_position`` and VARCHAR cells named by the canonical columns (absent ones count as
    blank). A row is only taken here when every check of normalize_dossier plainly passes and its result is
    the same; a row that fails or is unusual in any way is left for the per-row normaliser, so each reject
    keeps its own reason (equality: tests/test_normalize_sql.py).
    """
    columns = {name for (name,) in run(conn, f"SELECT column_name FROM (DESCRIBE {staged})")}
    _register_reference(conn, reference)
    run(conn, f"CREATE OR REPLACE TEMP VIEW staged_input AS SELECT * FROM {staged}")
    run(conn, "CREATE OR REPLACE TEMP TABLE dossier_checked AS " + _checked_sql(columns))
    _due_days(conn, reference)
    due = "coalesce(c.due_at, d.due_at)"
    early = f"coalesce({due} < c.received_at AND {_local_day(due)} < {_local_day('c.received_at')}, FALSE)"
    computed_missing = "(c.due_at IS NULL AND c.legal_days IS NOT NULL AND d.due_at IS NULL)"
    run(
        conn,
        f"""CREATE OR REPLACE TEMP TABLE dossier_final AS
            SELECT c.*, {due} AS final_due, c.ok AND NOT {early} AND NOT {computed_missing} AS fast
            FROM dossier_checked c
            LEFT JOIN computed_due d ON c.due_at IS NULL AND d.day = {_local_day("c.received_at")} AND d.legal_days = c.legal_days""",
    )
    values = {
        "source": "coalesce(nullif(source, ''), $source)",
        "procedure_code": "nullif(procedure_code, '')",
        "sector": "coalesce(nullif(sector, ''), procedure_sector)",
        "due_at": "final_due",
        "supplement_count": "CAST(supplement_count AS INTEGER)",
        "updated_at": "coalesce(updated_at, CAST($ingested_at AS TIMESTAMPTZ))",
        "ingested_at": "CAST($ingested_at AS TIMESTAMPTZ)",
    }
    select = ", ".join(f"{values.get(column, column)} AS {column}" for column in DOSSIER_COLUMNS)
    run(
        conn,
        f"CREATE OR REPLACE TEMP TABLE {output} AS SELECT {select}, {POSITION} FROM dossier_final WHERE fast",
        {"source": source, "ingested_at": ingested_at},
    )
    slow = [int(position) for (position,) in run(conn, f"SELECT {POSITION} FROM dossier_final WHERE NOT fast ORDER BY 1")]
    for table in ("dossier_final", "dossier_checked", "computed_due", "ref_units", "ref_procedures"):
        run(conn, f"DROP TABLE IF EXISTS {table}")
    run(conn, "DROP VIEW IF EXISTS staged_input")
    return slow
