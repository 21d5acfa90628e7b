"""The shipped mappings on the real samples in ../shared: NYC 311 KPIs against an independent count of the raw file."""

from __future__ import annotations

import csv
import json
import statistics
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.base import ingest_batches
from connectors.files import import_file
from connectors.mapping import load_mapping
from ioc.calendar import WorkingCalendar
from ioc.config import PROJECT_ROOT
from ioc.db import Database
from kpis import Period, compute
from tests.missing import missing

MAPPINGS = PROJECT_ROOT / "mappings"
NEW_YORK = ZoneInfo("America/New_York")
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
NYC_FORMAT = "%m/%d/%Y %I:%M:%S %p"
PERSONAL_NYC = ("Incident Address", "Street Name", "Cross Street 1", "Cross Street 2", "BBL", "Location")


def _nyc_time(text: str) -> datetime | None:
    return datetime.strptime(text, NYC_FORMAT).replace(tzinfo=NEW_YORK) if text else None


def _vn_day(moment: datetime) -> date:
    return moment.astimezone(VIETNAM).date()


def independent_nyc(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The tickets the IOC must keep and the keys it must reject, computed straight from the CSV.

    The 01/01/1900 Closed Date is NYC's "no date": the ticket is open. Rejected: a close time before the
    creation time, a Closed Date on a ticket whose Status is not Closed, and a Closed ticket without one.
    """
    # 2011 is before the store's calendar (2015+): build one that covers it for the default due dates.
    calendar = WorkingCalendar(first_year=2010, last_year=2016)
    kept: list[dict[str, Any]] = []
    rejected: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for raw in csv.DictReader(handle):
            created, closed = _nyc_time(raw["Created Date"]), _nyc_time(raw["Closed Date"])
            assert created is not None
            if closed is not None and closed.year == 1900:
                closed = None
            is_closed = raw["Status"] == "Closed"
            if closed is not None and (closed < created or not is_closed):
                rejected.append(raw["Unique Key"])
                continue
            if is_closed and closed is None:
                rejected.append(raw["Unique Key"])
                continue
            due = _nyc_time(raw["Due Date"])
            # Without a due date the IOC applies the normal hotline deadline: 5 working days after receipt.
            due_day = _vn_day(due) if due else calendar.add_working_days(_vn_day(created), 5)
            kept.append({"created": created, "closed": closed, "due_day": due_day})
    return kept, rejected


def expected_kpis(tickets: list[dict[str, Any]], start: date, end: date) -> dict[str, Any]:
    received = [t for t in tickets if start <= _vn_day(t["created"]) < end]
    answered = [t for t in tickets if t["closed"] and start <= _vn_day(t["closed"]) < end]
    on_time = [t for t in answered if _vn_day(t["closed"]) <= t["due_day"]]
    open_ = [t for t in tickets if _vn_day(t["created"]) < end and (t["closed"] is None or _vn_day(t["closed"]) >= end)]
    hours = [(t["closed"] - t["created"]).total_seconds() / 3600 for t in answered]
    return {
        "hotline_received": len(received),
        "hotline_answered": len(answered),
        "hotline_answered_on_time": len(on_time),
        "hotline_answered_late": len(answered) - len(on_time),
        "hotline_open": len(open_),
        "hotline_open_within": sum(1 for t in open_ if t["due_day"] >= end),
        "hotline_open_overdue": sum(1 for t in open_ if t["due_day"] < end),
        "hotline_on_time_rate": len(on_time) / len(answered) if answered else None,
        "hotline_response_hours_median": statistics.median(hours) if hours else None,
    }


@pytest.fixture
def nyc_csv(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "real" / "nyc-311" / "311_subset.micro.csv"
    if not path.exists():
        missing(f"{path} is missing")
    return path


def test_nyc_sample_through_its_mapping_gives_the_independently_computed_kpis(store: Database, nyc_csv: Path) -> None:
    report = import_file(store, nyc_csv, load_mapping(MAPPINGS / "nyc311.toml"))
    tickets, rejected = independent_nyc(nyc_csv)
    assert report.result.rows_read == 2000
    assert report.result.rows_upserted == len(tickets) == 1999
    assert rejected == ["21803150"]  # a Pending row with a close date
    reasons = dict(store.execute("SELECT json_extract_string(raw_row, '$.\"Unique Key\"'), reason FROM rejects"))
    assert reasons == {"21803150": "answered_at (Closed Date): set, but the ticket is still processing"}
    # The Assigned ticket with the 1900 placeholder is kept, open, with no answer time.
    assert store.execute("SELECT status, answered_at FROM hotline_tickets WHERE ticket_id = '19944912'") == [("forwarded", None)]
    units = store.execute("SELECT unit_code, kind FROM units WHERE unit_code LIKE 'EXT-NYC-%' ORDER BY 1")
    assert len(units) == 13 and ("EXT-NYC-NYPD", "other") in units
    for start, end in [
        (date(2011, 1, 1), date(2012, 1, 1)),
        (date(2011, 3, 1), date(2011, 4, 1)),
        (date(2011, 11, 1), date(2011, 11, 3)),
    ]:
        figures = compute(store, Period(start, end))
        expected = expected_kpis(tickets, start, end)
        for kpi, value in expected.items():
            if isinstance(value, float):
                assert figures[kpi] == pytest.approx(value, abs=1e-6), (kpi, start, end)
            else:
                assert figures[kpi] == value, (kpi, start, end)
    # Every figure is non-trivial for the year, so the comparison above means something.
    year = expected_kpis(tickets, date(2011, 1, 1), date(2012, 1, 1))
    assert year["hotline_received"] == 1999 and 0 < year["hotline_answered_late"] < year["hotline_answered"]
    assert year["hotline_open"] > 0


def test_nyc_personal_columns_never_reach_the_store_and_coordinates_are_rounded(store: Database, nyc_csv: Path) -> None:
    import_file(store, nyc_csv, load_mapping(MAPPINGS / "nyc311.toml"))
    with nyc_csv.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    personal_values = {row[c] for row in rows for c in PERSONAL_NYC if len(row[c]) >= 6}
    stored = "\n".join(str(v) for table in _tables(store) for row in store.execute(f"SELECT * FROM {table}") for v in row)
    assert personal_values and not [value for value in personal_values if value in stored]
    assert "40.660811976282695" not in stored  # the precise latitude of the second row
    assert store.execute("SELECT lat, lon FROM hotline_tickets WHERE ticket_id = '19937901'") == [(40.661, -73.999)]


def test_baltimore_sample_lands_with_duplicates_excluded_and_placeholder_coordinates_dropped(
    store: Database, shared_dir: Path
) -> None:
    path = shared_dir / "data" / "real" / "baltimore-311" / "311_sample.csv"
    report = import_file(store, path, load_mapping(MAPPINGS / "baltimore311.toml"))
    assert (report.result.rows_read, report.result.rows_upserted, report.result.rows_rejected) == (10_000, 10_000, 0)
    assert store.scalar("SELECT count(*) FROM hotline_tickets WHERE status = 'rejected'") == 217  # the (Duplicate) rows
    assert store.scalar("SELECT count(*) FROM hotline_tickets WHERE lat = 39 AND lon = -77") == 0
    assert store.scalar("SELECT count(*) FROM units WHERE unit_code LIKE 'EXT-BAL-%'") == 16
    stored = "\n".join(str(v) for table in _tables(store) for row in store.execute(f"SELECT * FROM {table}") for v in row)
    assert "GARRISON BLVD" not in stored


def test_boston_open311_records_through_the_mapping_drop_contact_details(store: Database, shared_dir: Path) -> None:
    records = json.loads((shared_dir / "data" / "real" / "open311-boston" / "requests.json").read_text(encoding="utf-8"))
    mapping = load_mapping(MAPPINGS / "boston_open311.toml")
    result = ingest_batches(store, mapping.connector_name, [mapping.batch(store, records)])
    assert (result.rows_read, result.rows_upserted, result.rows_rejected) == (50, 50, 0)
    assert store.scalar("SELECT count(*) FROM hotline_tickets WHERE status = 'answered' AND answered_at IS NOT NULL") == 10
    assert store.scalar("SELECT count(*) FROM units WHERE unit_code = 'EXT-BOS-PUBLIC-WORKS-DEPARTMENT'") == 1
    stored = "\n".join(str(v) for table in _tables(store) for row in store.execute(f"SELECT * FROM {table}") for v in row)
    for secret in ("fake@gmail.com", "Fake Fake", "1111111", "52 G St", "z15291", "cloudinary"):
        assert secret not in stored


def _tables(db: Database) -> list[str]:
    return [name for (name,) in db.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")]
