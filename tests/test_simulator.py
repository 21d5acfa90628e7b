"""The simulator connector on a real DuckDB store: volumes, calendar, determinism, increments and ranking spread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from connectors.base import BatchResult, read_cursor, run_connector
from connectors.simulator import Simulator
from ioc.calendar import calendar_from_store
from ioc.canonical import due_from_working_days
from ioc.db import Database
from ioc.model import DOSSIER_COLUMNS, ENDED_STATUSES, HOTLINE_COLUMNS
from ioc.store import open_store
from ioc.timeutil import local_datetime

# Monday 2 March 2026, 10:00 in Đà Nẵng: 30 days back covers Tết 2026 (official days off 16-20 February).
MONDAY_MORNING = local_datetime(date(2026, 3, 2), 10)
TET_2026 = [date(2026, 2, day) for day in range(16, 21)]
LOCAL_DATE = "(received_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::DATE"
COMPARED_DOSSIER_COLUMNS = [c for c in DOSSIER_COLUMNS if c != "ingested_at"]
COMPARED_HOTLINE_COLUMNS = [c for c in HOTLINE_COLUMNS if c != "ingested_at"]


class Clock:
    """A settable ``now`` for the simulator."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def simulate(db: Database, clock: Callable[[], datetime], backfill_days: int = 30, seed: int = 42) -> Simulator:
    """A simulator over the store, run once (a backfill when the store is empty)."""
    simulator = Simulator.from_store(db, seed=seed, backfill_days=backfill_days, now=clock)
    run_connector(db, simulator)
    return simulator


@pytest.fixture
def backfilled(store: Database) -> tuple[Database, Simulator]:
    """The store after a 30-day backfill up to Monday 2 March 2026, 10:00 local time."""
    return store, simulate(store, Clock(MONDAY_MORNING))


@pytest.fixture
def second_store(tmp_path: Path) -> Iterator[Database]:
    db = open_store(tmp_path / "second.duckdb")
    yield db
    db.close()


def dossiers(db: Database) -> pd.DataFrame:
    return db.query_df(f"SELECT {', '.join(COMPARED_DOSSIER_COLUMNS)} FROM dossiers ORDER BY dossier_id")


def tickets(db: Database) -> pd.DataFrame:
    return db.query_df(f"SELECT {', '.join(COMPARED_HOTLINE_COLUMNS)} FROM hotline_tickets ORDER BY ticket_id")


def test_backfill_fills_units_with_wards_busier_and_nothing_rejected(backfilled: tuple[Database, Simulator]) -> None:
    db, _ = backfilled
    assert db.scalar("SELECT count(*) FROM rejects") == 0
    per_kind = dict(
        db.execute(
            """SELECT u.kind, count(d.dossier_id) / count(DISTINCT u.unit_code)
               FROM units u LEFT JOIN dossiers d USING (unit_code) GROUP BY u.kind"""
        )
    )
    assert per_kind["phuong"] > 2 * per_kind["xa"]
    assert per_kind["dac_khu"] < 10
    active_units = db.scalar("SELECT count(DISTINCT unit_code) FROM dossiers")
    assert active_units >= 93  # every ward and commune; Hoàng Sa may have had nothing in 30 days
    working_days = db.scalar(f"SELECT count(DISTINCT {LOCAL_DATE}) FROM dossiers WHERE channel <> 'online'")
    per_working_day = db.scalar("SELECT count(*) FROM dossiers") / working_days
    assert 1_000 <= per_working_day <= 2_000
    hotline_per_day = db.scalar(f"SELECT count(*) / count(DISTINCT {LOCAL_DATE}) FROM hotline_tickets")
    assert 100 <= hotline_per_day <= 200


def test_online_share_and_online_payment(backfilled: tuple[Database, Simulator]) -> None:
    db, _ = backfilled
    online_share = db.scalar("SELECT avg((channel = 'online')::INT) FROM dossiers")
    assert 0.60 <= online_share <= 0.80
    paid_online = db.scalar("SELECT avg(paid_online::INT) FROM dossiers JOIN procedures USING (procedure_code) WHERE has_fee")
    assert 0.50 <= paid_online <= 0.70


def test_days_off_only_see_a_few_online_submissions(backfilled: tuple[Database, Simulator]) -> None:
    """On Sundays and Tết the counters are shut: only online submissions arrive, far fewer than on a working day."""
    db, _ = backfilled
    calendar = calendar_from_store(db)
    daily = db.query_df(f"SELECT {LOCAL_DATE} AS day, channel, count(*) AS n FROM dossiers GROUP BY ALL")
    daily["day"] = pd.to_datetime(daily["day"]).dt.date
    working = daily[daily["day"].map(calendar.is_working_day)]
    days_off = daily[~daily["day"].map(calendar.is_working_day)]
    assert set(days_off["channel"]) == {"online"}
    per_working_day = working.groupby("day")["n"].sum().mean()
    per_day_off = days_off.groupby("day")["n"].sum()
    assert (per_day_off < 0.15 * per_working_day).all()
    assert any(day.weekday() == 6 for day in per_day_off.index)
    assert set(TET_2026) <= set(per_day_off.index)


def test_rows_obey_the_canonical_rules(backfilled: tuple[Database, Simulator]) -> None:
    db, _ = backfilled
    ended = ", ".join(f"'{status}'" for status in ENDED_STATUSES)
    assert db.scalar(f"SELECT count(*) FROM dossiers WHERE status IN ({ended}) AND finished_at IS NULL") == 0
    assert db.scalar("SELECT count(*) FROM dossiers WHERE finished_at < received_at OR returned_at < finished_at") == 0
    assert db.scalar(f"SELECT count(*) FROM dossiers WHERE finished_at IS NOT NULL AND status NOT IN ({ended})") == 0
    future = db.scalar(
        """SELECT count(*) FROM dossiers WHERE greatest(received_at, finished_at, returned_at, updated_at) > ?""",
        [MONDAY_MORNING],
    )
    assert future == 0
    assert (
        db.scalar(
            "SELECT count(*) FROM hotline_tickets WHERE greatest(received_at, answered_at, updated_at) > ?", [MONDAY_MORNING]
        )
        == 0
    )
    statuses = {status for (status,) in db.execute("SELECT DISTINCT status FROM dossiers")}
    assert {"returned", "resolved", "processing", "supplement_requested", "withdrawn", "not_accepted"} <= statuses
    assert db.scalar("SELECT count(*) FROM dossiers WHERE supplement_count > 1") > 0
    assert db.scalar("SELECT count(*) FROM dossiers WHERE supplement_count > 0 AND paused_seconds > 0") > 0
    returned_share = db.scalar(
        "SELECT avg((returned_at IS NOT NULL)::INT) FROM dossiers WHERE status IN ('resolved', 'returned')"
    )
    assert returned_share > 0.8
    hotline = {status for (status,) in db.execute("SELECT DISTINCT status FROM hotline_tickets")}
    assert {"answered", "rejected", "forwarded"} <= hotline


def test_due_dates_follow_legal_days_on_the_working_day_calendar(backfilled: tuple[Database, Simulator]) -> None:
    db, _ = backfilled
    calendar = calendar_from_store(db)
    sample = db.execute(
        """SELECT d.received_at, d.due_at, p.legal_days FROM dossiers d JOIN procedures p USING (procedure_code)
           USING SAMPLE 300 ROWS"""
    )
    for received_at, due_at, legal_days in sample:
        assert due_at == due_from_working_days(received_at, legal_days, calendar)


def test_same_seed_and_clock_give_identical_stores(store: Database, second_store: Database) -> None:
    simulate(store, Clock(MONDAY_MORNING), backfill_days=10)
    simulate(second_store, Clock(MONDAY_MORNING), backfill_days=10)
    pd.testing.assert_frame_equal(dossiers(store), dossiers(second_store))
    pd.testing.assert_frame_equal(tickets(store), tickets(second_store))


def test_another_seed_gives_other_data(store: Database, second_store: Database) -> None:
    simulate(store, Clock(MONDAY_MORNING), backfill_days=5)
    simulate(second_store, Clock(MONDAY_MORNING), backfill_days=5, seed=7)
    assert not dossiers(store).equals(dossiers(second_store))


def test_incremental_run_adds_arrivals_and_transitions_then_nothing(store: Database) -> None:
    clock = Clock(MONDAY_MORNING)
    simulator = simulate(store, clock, backfill_days=20)
    assert read_cursor(store, simulator.name) == MONDAY_MORNING.isoformat()
    before = dossiers(store).set_index("dossier_id")

    clock.moment = MONDAY_MORNING + timedelta(minutes=15)
    result = run_connector(store, simulator)
    after = dossiers(store).set_index("dossier_id")
    new_ids = after.index.difference(before.index)
    assert len(new_ids) > 20  # ~1,400 a working day: a quarter of an hour in the morning brings dozens
    assert (after.loc[new_ids, "received_at"] > MONDAY_MORNING).all()
    kept = after.loc[before.index]
    changed = kept[kept["status"] != before["status"]]
    assert len(changed) > 0
    assert (changed["updated_at"] > MONDAY_MORNING).all()
    assert result.rows_rejected == 0
    assert read_cursor(store, simulator.name) == clock.moment.isoformat()

    version = store.data_version
    again: BatchResult = run_connector(store, simulator)
    assert again.rows_read == 0
    assert store.data_version == version
    pd.testing.assert_frame_equal(dossiers(store).set_index("dossier_id"), after)


def test_restart_continues_from_the_stored_cursor(store: Database, second_store: Database) -> None:
    """A new process (a fresh simulator from the store) emits what the running one would have emitted."""
    later = MONDAY_MORNING + timedelta(hours=5)
    running = Clock(MONDAY_MORNING)
    simulator = simulate(store, running, backfill_days=15)
    running.moment = later
    run_connector(store, simulator)

    simulate(second_store, Clock(MONDAY_MORNING), backfill_days=15)
    simulate(second_store, Clock(later), backfill_days=15)
    pd.testing.assert_frame_equal(dossiers(store), dossiers(second_store))
    pd.testing.assert_frame_equal(tickets(store), tickets(second_store))


def test_a_few_units_are_clearly_worse_on_time(backfilled: tuple[Database, Simulator]) -> None:
    db, simulator = backfilled
    on_time = db.query_df(
        """SELECT unit_code, avg(((finished_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::DATE
                                  <= (due_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::DATE)::INT) AS rate, count(*) AS n
           FROM dossiers WHERE status IN ('resolved', 'returned') GROUP BY unit_code HAVING count(*) >= 50"""
    ).set_index("unit_code")["rate"]
    bad = simulator.bad_unit_codes
    assert 5 <= len(bad) <= 8
    worst = set(on_time.nsmallest(len(bad)).index)
    assert worst == set(bad)
    assert on_time[bad].max() < 0.92
    assert on_time.drop(bad).median() > 0.97


def test_no_personal_data(backfilled: tuple[Database, Simulator]) -> None:
    db, simulator = backfilled
    personal = ("name", "phone", "address", "cccd", "cmnd", "email", "citizen", "applicant", "birth")
    for table in ("dossiers", "hotline_tickets"):
        columns = [
            column for (column,) in db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table])
        ]
        assert not [column for column in columns if any(word in column for word in personal)]
    batch_keys = {key for batch in simulator.batches(MONDAY_MORNING.isoformat()) for row in batch.rows for key in row}
    assert batch_keys <= set(DOSSIER_COLUMNS) | set(HOTLINE_COLUMNS)
    # Titles are generic: no digits at all, so no phone, ID or house numbers.
    assert db.scalar("SELECT count(*) FROM hotline_tickets WHERE regexp_matches(title, '[0-9]{3,}')") == 0
    south, north, west, east = db.execute(
        "SELECT min(lat), max(lat), min(lon), max(lon) FROM hotline_tickets WHERE unit_code <> '20333'"  # not Hoàng Sa
    )[0]
    assert south > 15.2
    assert west > 107.4
    assert north < 16.3
    assert east < 108.8


@pytest.mark.slow
def test_default_backfill_of_120_days(store: Database) -> None:
    """The default history: ~100-200k dossiers for all 94 units (time it, but do not assert on it)."""
    simulate(store, Clock(MONDAY_MORNING), backfill_days=120)
    assert 100_000 <= store.scalar("SELECT count(*) FROM dossiers") <= 200_000
    assert store.scalar("SELECT count(DISTINCT unit_code) FROM dossiers") == 94
    assert store.scalar("SELECT count(*) FROM rejects") == 0
