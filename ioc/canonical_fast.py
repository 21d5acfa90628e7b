"""A vectorised fast path for normalize_dossier: whole columns at once, every unusual row left to the per-row rules."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from ioc.canonical import DUE_HOUR_LOCAL, MAX_ID_LENGTH, Reference
from ioc.config import LOCAL_TIMEZONE
from ioc.model import DOSSIER_CHANNELS, DOSSIER_COLUMNS, STATUS_BY_CODE, STATUS_BY_NAME
from ioc.timeutil import local_datetime

# The fast path accepts only this plain ISO shape; anything else (dates alone, 7+ fraction digits, odd offsets,
# hour 24) goes to the per-row parser, which stays the definition of what is valid and of the reason.
_ISO = (
    r"(?a)^(?P<year>\d{4})-\d{2}-\d{2}[T ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
    r"(?P<zone>Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?$"
)
_ISO_PATTERN = re.compile(_ISO)
_TRUE = ("true", "1", "yes", "t", "y")
_FALSE = ("false", "0", "no", "f", "n")
_BOOL_COLUMNS = ("extended", "paid_online", "digitized", "e_result", "is_proactive")
_INT_COLUMNS = ("supplement_count", "paused_seconds")
_TIME_COLUMNS = ("received_at", "finished_at", "returned_at", "due_at", "updated_at")
_STATUS = {**{name: name for name in STATUS_BY_NAME}, **{str(code): s.name for code, s in STATUS_BY_CODE.items()}}
_ENDED = {name for name, status in STATUS_BY_NAME.items() if status.ended}
_CONTROL = re.compile(r"[\x00-\x1f]")
_ODD_JOINED = re.compile(r"[\x01-\x1f]|\s\x00|\x00\s|^\s|\s$")
_DIGITS = re.compile(r"\d{1,15}", re.ASCII)
ROW_PROBLEM_COLUMN = "_problem"  # connectors.mapping.ROW_PROBLEM: a row the reader flagged goes to the per-row guard

# (frame, reference, source, ingested_at) -> (canonical rows indexed by position, positions for the per-row path)
FrameNormalizer = Callable[[pd.DataFrame, Reference, str, datetime], tuple[pd.DataFrame, list[int]]]


def _map_unique(values: pd.Series, fn: Callable[[Any], Any]) -> np.ndarray:
    """``fn`` of every value, computed once per distinct value (a batch repeats units, statuses, days, …)."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=False)
    results = np.empty(len(uniques), dtype=object)
    for index, value in enumerate(uniques):
        results[index] = fn(value)  # cell by cell: a tuple result stays one cell, not a row of cells
    return results[codes]


def _plain(value: Any) -> str | None:
    """The text of a cell the fast path can take ('' when blank), None when the per-row rules must look at it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not isinstance(value, str) or _CONTROL.search(value) or value != value.strip():
        # A datetime or number from a workbook, control characters or surrounding whitespace:
        # what clean_text and the parsers change is left to them.
        return None
    return value


def _all_plain(values: pd.Series) -> bool:
    """True when every cell is a str without control characters or surrounding whitespace: one C-level scan."""
    if values.isna().any() or pd.api.types.infer_dtype(values, skipna=False) != "string":
        return False
    joined = "\x00".join(values.tolist())
    # A NUL inside a value would pass for a separator: count them. \s is str.isspace, what strip() removes.
    return joined.count("\x00") == len(values) - 1 and _ODD_JOINED.search(joined) is None


def _text(frame: pd.DataFrame, column: str, slow: np.ndarray) -> pd.Series:
    """The column as plain str ('' when blank); cells that are not plain text are marked slow."""
    if column not in frame.columns:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    if _all_plain(frame[column]):
        return frame[column].astype(object)
    plain = pd.Series(_map_unique(frame[column], _plain), index=frame.index, dtype=object)
    odd = plain.isna().to_numpy()
    slow |= odd
    return plain.where(~odd, "")


def _longer(text: pd.Series, limit: int) -> np.ndarray:
    lengths = np.fromiter(map(len, text.tolist()), dtype=np.int64, count=len(text))
    return lengths > limit


def _optional_text(text: pd.Series, limit: int, slow: np.ndarray) -> pd.Series:
    slow |= _longer(text, limit)
    return text.where(text != "", None).astype(object)


def _choice(text: pd.Series, mapping: Mapping[str, Any], slow: np.ndarray, default: Any) -> pd.Series:
    mapped = pd.Series(_map_unique(text, lambda value: mapping.get(value.lower()) if value.isascii() else None), index=text.index)
    blank = (text == "").to_numpy()
    slow |= mapped.isna().to_numpy() & ~blank
    return mapped.where(~blank, default).astype(object)


def _timestamps(text: pd.Series, slow: np.ndarray) -> pd.Series:
    """Aware UTC timestamps (NaT when blank); a naive text is local Vietnamese time, as parse_timestamp says."""
    codes, uniques = pd.factorize(text.to_numpy(dtype=object))
    distinct = pd.Series(uniques, dtype=object)
    matches = [_ISO_PATTERN.fullmatch(text) for text in uniques]
    usable = np.array([match is not None and 1990 <= int(match["year"]) <= 2100 for match in matches], dtype=bool)
    zoned = usable & np.array([match is not None and match["zone"] is not None for match in matches], dtype=bool)
    naive = usable & ~zoned
    parsed = pd.Series(pd.NaT, index=distinct.index, dtype="datetime64[us, UTC]")
    if naive.any():
        local = pd.to_datetime(distinct[naive], format="ISO8601", errors="coerce")
        parsed[naive] = local.dt.tz_localize(LOCAL_TIMEZONE).dt.tz_convert("UTC").astype(parsed.dtype)
    if zoned.any():
        parsed[zoned] = pd.to_datetime(distinct[zoned], format="ISO8601", errors="coerce", utc=True).astype(parsed.dtype)
    out = pd.Series(parsed.array.take(codes), index=text.index)
    blank = (text == "").to_numpy()
    slow |= ~blank & out.isna().to_numpy()
    return out


def _local_day(moments: pd.Series) -> pd.Series:
    return moments.dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None).dt.normalize()


def _due_from_legal_days(
    received: pd.Series, days: pd.Series, need: np.ndarray, reference: Reference, slow: np.ndarray
) -> pd.Series:
    """due_from_working_days over the unique (received local day, legal days) pairs; calendar errors go slow."""
    out = pd.Series(pd.NaT, index=received.index, dtype="datetime64[us, UTC]")
    if not need.any():
        return out
    pairs = pd.DataFrame({"day": _local_day(received[need]), "days": days[need].astype("int64")})
    due: dict[tuple[pd.Timestamp, int], Any] = {}
    for day, count in set(zip(pairs["day"], pairs["days"], strict=True)):
        try:
            due_day: date = reference.calendar.add_working_days(day.date(), int(count))
        except ValueError:
            due[(day, count)] = pd.NaT
            continue
        due[(day, count)] = pd.Timestamp(local_datetime(due_day, DUE_HOUR_LOCAL))
    values = [due[(day, count)] for day, count in zip(pairs["day"], pairs["days"], strict=True)]
    out[need] = pd.Series(pd.to_datetime(values, utc=True), index=pairs.index).astype(out.dtype)
    slow[need] |= out[need].isna().to_numpy()
    return out


def normalize_dossier_frame(
    frame: pd.DataFrame, reference: Reference, source: str, ingested_at: datetime
) -> tuple[pd.DataFrame, list[int]]:
    """Canonical rows for the ordinary rows of ``frame`` (index = row position), and the positions needing normalize_dossier.

    A row is only taken here when every check of normalize_dossier plainly passes; a row that fails or is
    unusual in any way is returned for the per-row normaliser, so each reject keeps its own reason.
    """
    frame = frame.reset_index(drop=True)
    slow = np.zeros(len(frame), dtype=bool)
    if ROW_PROBLEM_COLUMN in frame.columns:
        problem = frame[ROW_PROBLEM_COLUMN]
        slow |= (problem.notna() & (problem.astype(object) != "") & problem.astype(bool)).to_numpy(dtype=bool)
    text = {column: _text(frame, column, slow) for column in DOSSIER_COLUMNS if column != "ingested_at"}
    out = pd.DataFrame(index=frame.index)
    dossier_id = text["dossier_id"]
    slow |= (dossier_id == "").to_numpy() | _longer(dossier_id, MAX_ID_LENGTH)
    out["dossier_id"] = dossier_id
    source_text = _optional_text(text["source"], 100, slow)
    out["source"] = source_text.where(source_text.notna(), source)
    unit = text["unit_code"]
    slow |= ~_map_unique(unit, reference.unit_codes.__contains__).astype(bool) | _longer(unit, MAX_ID_LENGTH)
    out["unit_code"] = unit
    procedure_code = _optional_text(text["procedure_code"], MAX_ID_LENGTH, slow)
    out["procedure_code"] = procedure_code
    procedures = reference.procedures
    procedure = pd.Series(_map_unique(procedure_code, lambda code: procedures.get(code) if code else None))
    known = procedure.notna()
    proc_sector = procedure.map(lambda found: found[0], na_action="ignore")
    proc_days = procedure.map(lambda found: found[1], na_action="ignore").fillna(0)
    sector = _optional_text(text["sector"], 200, slow)
    out["sector"] = sector.where(sector.notna(), proc_sector).astype(object)
    out["channel"] = _choice(text["channel"], {c: c for c in DOSSIER_CHANNELS}, slow, "in_person")
    times = {column: _timestamps(text[column], slow) for column in _TIME_COLUMNS}
    received = times["received_at"]
    slow |= received.isna().to_numpy()
    status = _choice(text["status"], _STATUS, slow, None)
    slow |= status.isna().to_numpy()
    ended = status.isin(_ENDED).to_numpy()
    finished, returned = times["finished_at"], times["returned_at"]
    has_finished, has_returned = finished.notna().to_numpy(), returned.notna().to_numpy()
    slow |= ended != has_finished
    slow |= has_finished & (finished < received).to_numpy()
    slow |= has_returned & (returned < received).to_numpy()
    slow |= has_finished & has_returned & (returned < finished).to_numpy()
    due = times["due_at"]
    need = due.isna().to_numpy() & known.to_numpy() & ~slow
    computed = _due_from_legal_days(received, proc_days, need, reference, slow)
    due = due.where(~pd.Series(need, index=due.index), computed)
    has_due = due.notna().to_numpy()
    ok = ~slow
    early = np.zeros(len(frame), dtype=bool)
    if ok.any():
        early[ok] = (has_due[ok] & (due[ok] < received[ok]).to_numpy()) & (
            _local_day(due[ok].fillna(received[ok])) < _local_day(received[ok])
        ).to_numpy()
    slow |= early
    out["received_at"] = received
    out["due_at"] = due
    out["finished_at"] = finished
    out["returned_at"] = returned
    out["status"] = status
    for column in _INT_COLUMNS:
        # Up to 15 digits: int(float(text)) is exact there; longer numbers and signs go to parse_int.
        number = pd.Series(_map_unique(text[column], lambda value: int(value) if _DIGITS.fullmatch(value) else None))
        blank = (text[column] == "").to_numpy()
        slow |= number.isna().to_numpy() & ~blank
        out[column] = number.where(~blank, 0).fillna(0).astype("int64").to_numpy()
    bools = dict.fromkeys(_TRUE, True) | dict.fromkeys(_FALSE, False)
    for column in _BOOL_COLUMNS:
        out[column] = _choice(text[column], bools, slow, False).fillna(False).astype(bool)
    updated = times["updated_at"]
    out["updated_at"] = updated.fillna(pd.Timestamp(ingested_at)).astype("datetime64[us, UTC]")
    out["ingested_at"] = pd.Series(pd.Timestamp(ingested_at), index=frame.index).astype("datetime64[us, UTC]")
    for column in ("source", "procedure_code", "sector", "channel", "status"):
        # None, not NaN, for a missing text: the per-row rows hold None.
        values = out[column].astype(object)
        out[column] = values.where(values.notna(), None)
    positions = np.flatnonzero(slow).tolist()
    return out.loc[~slow, list(DOSSIER_COLUMNS)], positions
