"""Item lists behind the wall counts: a unit's overdue and at-risk dossiers, its open hotline items, units to alert on."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd

from ioc.config import LOCAL_TIMEZONE
from ioc.db import Database
from ioc.model import NOT_ACCEPTED_STATUSES
from kpis.compute import period_calendar
from kpis.period import Period
from kpis.sql import in_list

# What a list row may show. Deliberately no citizen fields: the store holds none (DESIGN §3), and a
# wall is read by anyone in the room, so even a column added to the store later stays off the wall.
DOSSIER_LIST_COLUMNS: tuple[str, ...] = (
    "dossier_id",
    "procedure_code",
    "procedure",
    "sector",
    "received_date",
    "due_date",
    "state",
    "days_past_due",
)
HOTLINE_LIST_COLUMNS: tuple[str, ...] = (
    "ticket_id",
    "field",
    "urgency",
    "channel",
    "received_at",
    "due_date",
    "age_hours",
    "overdue",
    "title",
)

# Same conditions as kpis.sql's in_progress_overdue and at_risk for the period [today, today + 1), so the
# list and the tile count the same dossiers.
_DOSSIER_LIST_SQL = f"""
WITH open_dossiers AS (
    SELECT
        d.dossier_id,
        d.procedure_code,
        p.name AS procedure,
        d.sector,
        CAST(timezone($tz, d.received_at) AS DATE) AS received_date,
        CAST(timezone($tz, d.due_at) AS DATE) AS due_date
    FROM dossiers d
    LEFT JOIN procedures p ON p.procedure_code = d.procedure_code
    WHERE d.unit_code = $unit_code
      AND d.status NOT IN ({in_list(NOT_ACCEPTED_STATUSES)})
      AND d.received_at < $to_at
      AND (d.finished_at IS NULL OR CAST(timezone($tz, d.finished_at) AS DATE) >= $to_day)
      AND d.due_at IS NOT NULL
)
SELECT *, CASE WHEN due_date < $to_day THEN 'overdue' ELSE 'at_risk' END AS state
FROM open_dossiers
WHERE due_date < $to_day OR due_date <= $next_working_day
ORDER BY state DESC, due_date, received_date, dossier_id
LIMIT $limit
"""

_HOTLINE_LIST_SQL = """
SELECT
    ticket_id,
    field,
    urgency,
    channel,
    received_at,
    CAST(timezone($tz, due_at) AS DATE) AS due_date,
    title
FROM hotline_tickets
WHERE unit_code = $unit_code
  AND status <> 'rejected'
  AND received_at < $to_at
  AND (answered_at IS NULL OR CAST(timezone($tz, answered_at) AS DATE) >= $to_day)
ORDER BY CAST(timezone($tz, due_at) AS DATE) < $to_day DESC,
         CASE urgency WHEN 'urgent' THEN 0 WHEN 'quick' THEN 1 ELSE 2 END,
         received_at, ticket_id
LIMIT $limit
"""


def overdue_and_at_risk_dossiers(db: Database, unit_code: str, today: date, limit: int = 50) -> pd.DataFrame:
    """One unit's dossiers in progress at the end of ``today`` that are overdue, then those at risk.

    Overdue and at-risk follow DESIGN §4 for the period [today, today + 1): overdue when the due date is
    before tomorrow, at risk when it falls on or before the first working day from tomorrow.
    ``days_past_due`` is today − due date in calendar days: ≥ 0 overdue (0: due today, not done), < 0 at
    risk. Overdue first, oldest due date first. Columns: DOSSIER_LIST_COLUMNS (no citizen data).
    """
    period = Period.day(today)
    _, next_working_day = period_calendar(db, period)
    rows = db.execute(
        _DOSSIER_LIST_SQL,
        {
            "tz": LOCAL_TIMEZONE,
            "unit_code": unit_code,
            "to_day": period.end,
            "to_at": period.end_instant,
            "next_working_day": next_working_day or period.end,
            "limit": int(limit),
        },
    )
    records = []
    for dossier_id, procedure_code, procedure, sector, received_date, due_date, state in rows:
        records.append(
            {
                "dossier_id": dossier_id,
                "procedure_code": procedure_code,
                "procedure": procedure,
                "sector": sector,
                "received_date": received_date,
                "due_date": due_date,
                "state": state,
                "days_past_due": (today - due_date).days,
            }
        )
    return pd.DataFrame(records, columns=list(DOSSIER_LIST_COLUMNS), dtype=object)


def open_hotline_items(db: Database, unit_code: str, now: datetime, limit: int = 50) -> pd.DataFrame:
    """One unit's hotline tickets not answered by the end of today (rejected ones excluded), overdue first.

    ``age_hours`` counts from received_at to ``now``; ``overdue`` is due date before tomorrow, as
    hotline_open_overdue. ``title`` is citizen text: untrusted, to be shown escaped, never as markup.
    Columns: HOTLINE_LIST_COLUMNS.
    """
    local_now = pd.Timestamp(now).tz_convert(LOCAL_TIMEZONE)
    period = Period.day(local_now.date())
    rows = db.execute(
        _HOTLINE_LIST_SQL,
        {
            "tz": LOCAL_TIMEZONE,
            "unit_code": unit_code,
            "to_day": period.end,
            "to_at": period.end_instant,
            "limit": int(limit),
        },
    )
    records = []
    for ticket_id, field, urgency, channel, received_at, due_date, title in rows:
        age = max(0.0, (now - received_at).total_seconds() / 3600) if received_at is not None else None
        records.append(
            {
                "ticket_id": ticket_id,
                "field": field,
                "urgency": urgency,
                "channel": channel,
                "received_at": received_at,
                "due_date": due_date,
                "age_hours": None if age is None else round(age, 1),
                "overdue": due_date is not None and due_date < period.end,
                "title": title,
            }
        )
    return pd.DataFrame(records, columns=list(HOTLINE_LIST_COLUMNS), dtype=object)


def alert_units(
    by_unit: pd.DataFrame, *, at_risk_factor: float = 2.0, at_risk_minimum: int = 3
) -> dict[str, list[dict[str, Any]]]:
    """Units a wall's alert strip names, from a compute_by_unit frame (index unit_code, with ``name``).

    ``overdue``: units with dossiers in progress past their due date, most first. ``at_risk_spike``:
    units whose at-risk count is at least ``at_risk_minimum`` and at least ``at_risk_factor`` times the
    mean over units that have any: a spike, not the everyday trickle. Each item: unit_code, name, count.
    """
    frame = by_unit[by_unit.get("kind", pd.Series("unit", index=by_unit.index)) != "province"]

    def items(column: str, selected: pd.DataFrame) -> list[dict[str, Any]]:
        ordered = selected.assign(_count=pd.to_numeric(selected[column])).sort_values(["_count", "name"], ascending=[False, True])
        return [
            {"unit_code": str(code), "name": str(row["name"]), "count": int(row["_count"])} for code, row in ordered.iterrows()
        ]

    overdue = frame[pd.to_numeric(frame["in_progress_overdue"]) > 0]
    at_risk = pd.to_numeric(frame["at_risk"])
    mean = float(at_risk[at_risk > 0].mean()) if (at_risk > 0).any() else 0.0
    spikes = frame[(at_risk >= at_risk_minimum) & (at_risk >= at_risk_factor * mean)]
    return {"overdue": items("in_progress_overdue", overdue), "at_risk_spike": items("at_risk", spikes)}
