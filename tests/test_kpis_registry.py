"""The KPI registry, traffic-light status and reporting periods."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest

from kpis import (
    MIN_ITEMS_FOR_STATUS,
    REGISTRY,
    SUPPORTING,
    Kpi,
    Period,
    reset_thresholds,
    set_thresholds,
    status_of,
    statuses,
    thresholds_of,
)

DESIGN_IDS = {
    "carried_over", "received", "received_online", "received_in_person", "received_postal", "to_process",
    "resolved", "resolved_early", "resolved_on_time", "resolved_late", "withdrawn", "stopped", "in_progress",
    "in_progress_within", "in_progress_overdue", "at_risk", "on_time_rate", "late_rate", "backlog_rate",
    "throughput_per_day", "processing_days_median", "processing_days_p90", "progress_rate_766", "online_rate",
    "online_payment_rate", "digitization_rate", "hotline_received", "hotline_answered", "hotline_answered_on_time",
    "hotline_answered_late", "hotline_open", "hotline_open_within", "hotline_open_overdue", "hotline_on_time_rate",
    "hotline_response_hours_median", "hotline_satisfaction_rate",
}  # fmt: skip


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    reset_thresholds()
    yield
    reset_thresholds()


def test_registry_holds_exactly_the_design_ids() -> None:
    assert set(REGISTRY) == DESIGN_IDS
    assert not set(SUPPORTING) & DESIGN_IDS


@pytest.mark.parametrize("kpi", [*REGISTRY.values(), *SUPPORTING.values()], ids=lambda kpi: kpi.id)
def test_every_kpi_is_fully_declared(kpi: Kpi) -> None:
    assert kpi.title_vi.strip() and kpi.title_en.strip()
    assert kpi.definition_vi.strip() and kpi.definition_en.strip()
    assert kpi.unit in ("count", "rate", "days", "hours", "per_day")
    assert kpi.direction in ("higher_is_better", "lower_is_better", "neutral")
    if kpi.unit == "rate":
        assert kpi.denominator is not None
    if kpi.denominator is not None:
        assert kpi.denominator in REGISTRY or kpi.denominator in SUPPORTING
    if kpi.thresholds is not None:
        good, watch = kpi.thresholds
        assert kpi.direction != "neutral"
        assert good >= watch if kpi.direction == "higher_is_better" else good <= watch


def test_default_thresholds_follow_design() -> None:
    assert REGISTRY["on_time_rate"].thresholds == (0.99, 0.95)
    assert REGISTRY["progress_rate_766"].thresholds == (0.99, 0.95)
    assert REGISTRY["online_rate"].thresholds is not None and REGISTRY["online_rate"].thresholds[0] == 0.80
    assert REGISTRY["online_payment_rate"].thresholds is not None and REGISTRY["online_payment_rate"].thresholds[0] == 0.60
    assert REGISTRY["late_rate"].direction == "lower_is_better"
    assert REGISTRY["backlog_rate"].direction == "lower_is_better"


def test_status_of_on_time_rate() -> None:
    assert status_of("on_time_rate", 1.0, 100) == "good"
    assert status_of("on_time_rate", 297 / 300, 300) == "good"  # exactly 99 %, despite float rounding
    assert status_of("on_time_rate", 0.98, 100) == "watch"
    assert status_of("on_time_rate", 0.95, 100) == "watch"
    assert status_of("on_time_rate", 0.9499, 10_000) == "bad"


def test_status_of_lower_is_better() -> None:
    assert status_of("late_rate", 0.0, 50) == "good"
    assert status_of("late_rate", 0.01, 100) == "good"
    assert status_of("late_rate", 0.03, 100) == "watch"
    assert status_of("late_rate", 0.2, 100) == "bad"


def test_status_of_no_data_under_five_items() -> None:
    assert MIN_ITEMS_FOR_STATUS == 5
    assert status_of("on_time_rate", 1.0, 4) == "no_data"
    assert status_of("on_time_rate", 1.0, 5) == "good"
    assert status_of("online_rate", 0.0, 0) == "no_data"
    assert status_of("online_rate", None, 0) == "no_data"
    assert status_of("online_rate", float("nan"), 100) == "no_data"
    assert status_of("online_rate", 0.9, None) == "good"  # denominator unknown: the value decides


def test_status_of_is_none_without_thresholds() -> None:
    assert status_of("received", 12, None) is None
    assert status_of("processing_days_median", 3.5, 10) is None


def test_thresholds_can_be_overridden_and_reset() -> None:
    set_thresholds("online_rate", 0.90, 0.85)
    assert thresholds_of("online_rate") == (0.90, 0.85)
    assert status_of("online_rate", 0.86, 100) == "watch"
    set_thresholds("online_rate", None)
    assert status_of("online_rate", 0.86, 100) is None
    reset_thresholds("online_rate")
    assert status_of("online_rate", 0.86, 100) == "good"
    with pytest.raises(ValueError):
        set_thresholds("late_rate", 0.05, 0.01)  # lower is better: watch must not be below good
    with pytest.raises(ValueError):
        set_thresholds("received", 1, 0)  # a neutral count has no colours
    with pytest.raises(KeyError):
        set_thresholds("no_such_kpi", 1, 0)


def test_statuses_use_each_kpis_denominator() -> None:
    results: dict[str, int | float | None] = {kpi_id: None for kpi_id in (*REGISTRY, *SUPPORTING)}
    results.update(resolved=4, resolved_early=4, on_time_rate=1.0, received=100, received_online=85, online_rate=0.85)
    colours = statuses(results)
    assert colours["on_time_rate"] == "no_data"  # only 4 resolved
    assert colours["online_rate"] == "good"
    assert colours["received"] is None
    assert colours["hotline_satisfaction_rate"] == "no_data"


def test_period_validation_and_helpers() -> None:
    with pytest.raises(ValueError):
        Period(date(2026, 2, 2), date(2026, 2, 2))
    with pytest.raises(ValueError):
        Period(date(2026, 2, 3), date(2026, 2, 2))
    with pytest.raises(TypeError):
        Period(datetime(2026, 2, 2), date(2026, 2, 3))  # type: ignore[arg-type]
    assert Period.day(date(2026, 2, 28)) == Period(date(2026, 2, 28), date(2026, 3, 1))
    assert Period.month_of(date(2025, 12, 31)) == Period(date(2025, 12, 1), date(2026, 1, 1))
    assert Period.month_of(date(2026, 2, 14)).days == 28
    assert Period.last_n_days(date(2026, 2, 16), 7) == Period(date(2026, 2, 10), date(2026, 2, 17))
    assert Period.day(date(2026, 2, 16)).label_vi == "Ngày 16/02/2026"
    assert Period.month_of(date(2026, 2, 16)).label_vi == "Tháng 2/2026"
    assert Period.month_of(date(2026, 2, 16)).label_en == "February 2026"
    assert Period(date(2026, 2, 2), date(2026, 2, 16)).label_vi == "02/02/2026 – 15/02/2026"
    # The as-of instant is local midnight: 17:00 UTC the day before.
    assert Period.day(date(2026, 2, 16)).start_instant.isoformat() == "2026-02-15T17:00:00+00:00"
