"""Units a wall's alert strip names: dossiers overdue now (their due time has passed), and at-risk spikes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from ioc.db import Database
from ioc.model import NOT_ACCEPTED_STATUSES
from kpis.lists import alert_units
from kpis.sql import in_list

# §4's in progress and overdue, at an instant instead of at the end of a day: accepted, received by now, not
# ended by now, and its due time (ngày hẹn trả, a date and time) already past. A dossier due at 17:00 today is
# not overdue at 10:00, where the §4 figure for today (as-of the end of today) already counts it.
_OVERDUE_NOW_SQL = f"""
SELECT unit_code, count(*) AS overdue
FROM dossiers
WHERE status NOT IN ({in_list(NOT_ACCEPTED_STATUSES)})
  AND received_at <= $now
  AND (finished_at IS NULL OR finished_at > $now)
  AND due_at < $now
GROUP BY unit_code
"""


def overdue_now_by_unit(db: Database, now: datetime) -> pd.Series:
    """Dossiers in progress at the aware instant ``now`` whose due time has passed, per unit (index unit_code,
    int64, units without any left out). Not a §4 figure: the alert strip's "overdue now"."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: attach a time zone to now")
    rows = db.execute(_OVERDUE_NOW_SQL, {"now": now})
    return pd.Series({str(code): int(count) for code, count in rows}, dtype="int64", name="overdue_now")


def wall_alerts(db: Database, by_unit: pd.DataFrame, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """kpis.lists.alert_units, with "overdue" meaning overdue now (``overdue_now_by_unit``) rather than §4's
    overdue as of the end of today, under which nearly every unit has a dossier due today and would be named
    all day long. ``at_risk_spike`` is unchanged (§4's at risk, from ``by_unit``). Same item shape."""
    overdue = overdue_now_by_unit(db, now).reindex(by_unit.index, fill_value=0)
    # alert_units reads the overdue count from in_progress_overdue: give it the count as of now.
    return alert_units(by_unit.assign(in_progress_overdue=overdue.astype("int64")))
