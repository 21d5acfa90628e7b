"""Reference data shipped in data/sample/ (units, procedures), loaded into a store that lacks it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from ioc.config import PROJECT_ROOT
from ioc.db import Database

SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
UNITS_CSV = SAMPLE_DIR / "units.csv"
PROCEDURES_CSV = SAMPLE_DIR / "procedures.csv"

UNIT_COLUMNS = ("unit_code", "name", "full_name", "name_en", "kind", "province_code", "merged_from", "area_km2")
PROCEDURE_COLUMNS = ("procedure_code", "name", "name_en", "sector", "level", "legal_days", "online", "has_fee", "code_source")


def read_units(path: Path = UNITS_CSV) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"unit_code": str, "province_code": str}, keep_default_na=False, na_values={"area_km2": [""]})


def read_procedures(path: Path = PROCEDURES_CSV) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"procedure_code": str}, keep_default_na=False)
    frame["has_fee"] = frame["has_fee"].astype(str).str.lower().isin(["true", "1", "yes"])
    return frame


def _insert_missing(conn: duckdb.DuckDBPyConnection, table: str, key: str, frame: pd.DataFrame, columns: tuple[str, ...]) -> int:
    conn.register("reference_frame", frame[list(columns)])
    try:
        before = conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
        conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM reference_frame "
            f"WHERE {key} NOT IN (SELECT {key} FROM {table})"
        )
        after = conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
    finally:
        conn.unregister("reference_frame")
    return int(after[0]) - int(before[0])


def ensure_reference(db: Database) -> tuple[int, int]:
    """Add the shipped units and procedures the store does not have yet; return how many were added."""
    units = read_units()
    procedures = read_procedures() if PROCEDURES_CSV.exists() else pd.DataFrame(columns=list(PROCEDURE_COLUMNS))

    def write(conn: duckdb.DuckDBPyConnection) -> tuple[int, int]:
        return (
            _insert_missing(conn, "units", "unit_code", units, UNIT_COLUMNS),
            _insert_missing(conn, "procedures", "procedure_code", procedures, PROCEDURE_COLUMNS),
        )

    return db.execute_write_fn(write)
