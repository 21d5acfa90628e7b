"""Every registered KPI computed on the seeded sample store, for the city and for each unit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ioc.db import Database
from ioc.sample import build_sample_store
from kpis import REGISTRY, Period, compute, compute_by_unit, status_of

NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)  # Wednesday 10:00 in Vietnam


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = build_sample_store(Path(tmp_path_factory.mktemp("sample")) / "sample.duckdb", days=45, now=NOW)
    yield db
    db.close()


def test_every_registered_kpi_has_a_sound_value_for_the_city(sample: Database) -> None:
    figures = compute(sample, Period(date(2026, 10, 1), date(2026, 11, 1)))
    missing = [kpi_id for kpi_id in REGISTRY if figures.get(kpi_id) is None]
    assert missing == []  # a month of city data backs every figure, medians and rates included
    for kpi_id, kpi in REGISTRY.items():
        value = figures[kpi_id]
        assert value is not None and value >= 0, kpi_id
        if kpi.unit == "rate":
            assert 0 <= value <= 1, kpi_id
        status = status_of(kpi_id, value, None if kpi.denominator is None else int(figures[kpi.denominator] or 0))
        assert status in {None, "good", "watch", "bad"}, kpi_id


def test_units_sum_to_the_city_and_rankings_have_spread(sample: Database) -> None:
    period = Period(date(2026, 10, 1), date(2026, 11, 1))
    city = compute(sample, period)
    by_unit = compute_by_unit(sample, period)
    assert len(by_unit) == 94
    for kpi_id in ("received", "resolved", "in_progress_overdue", "hotline_received", "hotline_open"):
        assert int(by_unit[kpi_id].sum()) == city[kpi_id], kpi_id
    rates = by_unit["on_time_rate"].dropna().astype(float)
    assert rates.max() - rates.min() > 0.1  # some units clearly worse than others
