"""The wall's alert strip names units with dossiers overdue now (due time passed), not §4's overdue at the end of today."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ioc.db import Database
from ioc.timeutil import local_datetime
from kpis import Period, compute, compute_by_unit
from kpis.alerts import overdue_now_by_unit, wall_alerts
from tests.test_compare_so_far import DOSSIERS, NOW, TICKETS, TODAY
from tests.test_kpis import UNIT_A, UNIT_B, load


@pytest.fixture
def day_store(store: Database) -> Database:
    load(store, DOSSIERS, TICKETS)
    return store


# In progress on 18 November with a due time (17:00 local) already past, by hand:
#   08:30  O1 (due 17 Nov, resolved only at 09:00) and O2 (due 16 Nov)          → 2
#   10:15  O2; A1 is due today at 17:00 and not yet late                         → 1
#   17:30  O2 and A1                                                             → 2
@pytest.mark.parametrize("hour, minute, expected", [(8, 30, 2), (10, 15, 1), (17, 30, 2)])
def test_overdue_now_counts_by_due_time(day_store: Database, hour: int, minute: int, expected: int) -> None:
    counts = overdue_now_by_unit(day_store, local_datetime(TODAY, hour, minute))
    assert counts.to_dict() == {UNIT_A: expected}


def test_the_strip_differs_from_the_section_4_figure_during_the_day(day_store: Database) -> None:
    # §4 for today (as-of the end of today) already counts A1, due at 17:00: 2 overdue at 10:15.
    assert compute(day_store, Period.day(TODAY), UNIT_A)["in_progress_overdue"] == 2
    by_unit = compute_by_unit(day_store, Period.day(TODAY))
    alerts = wall_alerts(day_store, by_unit, NOW)
    assert alerts["overdue"] == [{"unit_code": UNIT_A, "name": by_unit.loc[UNIT_A, "name"], "count": 1}]
    assert alerts["at_risk_spike"] == []  # one at-risk dossier is no spike
    # The frame handed in is not changed: the §4 column stays the §4 figure.
    assert by_unit.loc[UNIT_A, "in_progress_overdue"] == 2


def test_nothing_overdue_before_any_due_time(day_store: Database) -> None:
    assert overdue_now_by_unit(day_store, local_datetime(date(2026, 11, 1), 9)).empty
    with pytest.raises(ValueError):
        overdue_now_by_unit(day_store, datetime(2026, 11, 18, 10))
    # Years later every dossier still open is late: Y1 O2 A1 A2 T1 T2 in one unit, T3 in the other.
    assert overdue_now_by_unit(day_store, datetime(2030, 1, 1, tzinfo=UTC)).to_dict() == {UNIT_A: 6, UNIT_B: 1}
