"""One contract every connector passes (like Meltano's tap tests): rows arrive, keys, schema, idempotence, updates, rejects.

Adding a connector is one ``ContractCase`` fixture below and its name in ``CASES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import (
    DOSSIERS,
    HOTLINE,
    Batch,
    Connector,
    DeclaredConnector,
    RetryPolicy,
    Target,
    load_reference,
    read_cursor,
    run_connector,
)
from connectors.files import FileDropConnector
from connectors.json_http import JsonHttpConnector
from connectors.mapping import ROW_METADATA, SourceMapping, load_mapping, parse_mapping
from connectors.open311 import Open311Connector
from connectors.simulator import Simulator
from connectors.sql import HistoryTable, SqlConnector
from ioc.canonical import RowError
from ioc.config import PROJECT_ROOT
from ioc.db import Database
from ioc.timeutil import local_datetime
from tests.json_http_server import GopyServer
from tests.open311_server import Open311Server
from tests.pg_fixtures import OneStopDatabase

CASES = ["simulator", "sql", "open311", "json_http", "file_drop", "canonical_file_drop"]


@dataclass(frozen=True)
class Change:
    """A row changed at the source: after the next run the store's ``column`` of ``key`` must equal ``value``."""

    key: str
    column: str
    value: Any


@dataclass(frozen=True)
class BadRow:
    """A row added at the source that must be rejected with a reason containing ``reason``."""

    reason: str


@dataclass
class ContractCase:
    """How to build one connector over a fresh store, and how to change its source."""

    target: Target
    make_connector: Callable[[Database], Connector]
    change_a_row: Callable[[], Change]
    add_a_bad_row: Callable[[], BadRow]
    # The keys of the target the source holds before any change: the first run must store exactly these.
    source_keys: Callable[[], set[str]]
    # Connectors driven by a mapping file yield source-named rows (only the columns the mapping reads), mapped on write.
    mapping: SourceMapping | None = None
    connector: Connector | None = field(default=None, init=False)

    def get_connector(self, db: Database) -> Connector:
        if self.connector is None:
            self.connector = self.make_connector(db)
        return self.connector

    def row_key(self, row: Mapping[str, Any], target: Target) -> Any:
        if self.mapping is None:
            return row.get(target.primary_key)
        return self.mapping.rules[target.primary_key].raw_value(row)

    def row_columns(self, target: Target) -> set[str]:
        """The columns a yielded row may carry: canonical ones, or for a mapped connector those its mapping reads."""
        if self.mapping is None:
            return set(target.columns)
        return set(self.mapping.reads) | set(ROW_METADATA)


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


# -- the cases ----------------------------------------------------------------------------------------


@pytest.fixture
def simulator_case(store: Database) -> ContractCase:
    clock = Clock(local_datetime(date(2026, 3, 3), 10))  # a Tuesday morning

    def make(db: Database) -> Connector:
        return Simulator.from_store(db, seed=7, backfill_days=2, now=clock)

    def next_dossier() -> Mapping[str, Any]:
        # What the simulator will send next: a twin over the same store sees the same pure function of the seed.
        twin = Simulator.from_store(store, seed=7, backfill_days=2, now=clock)
        batches = twin.batches(read_cursor(store, "simulator"))
        return next(row for batch in batches if batch.target is DOSSIERS for row in batch.rows)

    def change() -> Change:
        clock.moment += timedelta(hours=2)
        row = next_dossier()
        return Change(str(row["dossier_id"]), "status", row["status"])

    def bad_row() -> BadRow:
        clock.moment += timedelta(hours=2)
        unit = next_dossier()["unit_code"]
        store.execute_write("DELETE FROM units WHERE unit_code = ?", [unit])  # the source now names an unknown unit
        return BadRow(f"unit_code: '{unit}' is not a known unit")

    def keys() -> set[str]:
        # Everything the seed makes happen up to the clock: a twin from an empty cursor yields it all again.
        twin = Simulator.from_store(store, seed=7, backfill_days=2, now=clock)
        return {str(row["dossier_id"]) for batch in twin.batches(None) if batch.target is DOSSIERS for row in batch.rows}

    return ContractCase(DOSSIERS, make, change, bad_row, keys)


@pytest.fixture
def sql_case(onestop: OneStopDatabase) -> ContractCase:
    for number in range(1, 11):
        onestop.add_dossier(f"H48.20194-251103-{number:04d}", received=f"2025-11-03 08:{number:02d}:00", status=4)

    def make(db: Database) -> Connector:
        return SqlConnector(
            "onestop",
            onestop.schema.url,
            schema=onestop.schema.name,
            history=HistoryTable("ho_so_lich_su"),
            page_size=4,
            retry=RetryPolicy(attempts=1),
        )

    def change() -> Change:
        onestop.transition("H48.20194-251103-0003", 9, "2025-11-04 10:00:00")
        return Change("H48.20194-251103-0003", "status", "resolved")

    def bad_row() -> BadRow:
        onestop.add_dossier("H48.20194-251104-0001", received="2025-11-04 08:00:00", status=11)
        return BadRow("status: '11' is neither a status name nor a code 1-10")

    return ContractCase(DOSSIERS, make, change, bad_row, lambda: {f"H48.20194-251103-{n:04d}" for n in range(1, 11)})


@pytest.fixture
def open311_case(open311_server: Open311Server) -> ContractCase:
    def make(db: Database) -> Connector:
        return Open311Connector(
            "boston",
            open311_server.base_url,
            page_size=20,
            backfill_days=30,
            now=lambda: local_datetime(date(2026, 3, 12), 9),
            retry=RetryPolicy(attempts=1),
        )

    def change() -> Change:
        record = open311_server.record("101006564853")
        record.update(status="closed", updated_datetime="2026-03-11T09:00:00Z")
        return Change("101006564853", "status", "answered")

    def bad_row() -> BadRow:
        bad = dict(open311_server.record("101006564854"), service_request_id="101006569999")
        bad.update(requested_datetime="yesterday", updated_datetime="2026-03-11T09:30:00Z")
        open311_server.records.append(bad)
        return BadRow("received_at: 'yesterday' is not a date-time")

    # The 50 real requests all fall in the first run's 30 days (21 February to 11 March 2026).
    return ContractCase(HOTLINE, make, change, bad_row, lambda: {r["service_request_id"] for r in open311_server.records})


@pytest.fixture
def gopy_server() -> Iterator[GopyServer]:
    server = GopyServer().start()  # synthetic Góp ý-shaped records (tests/json_http_server.py)
    yield server
    server.stop()


@pytest.fixture
def json_http_case(gopy_server: GopyServer) -> ContractCase:
    mapping = load_mapping(PROJECT_ROOT / "mappings" / "gopy_danang.toml")

    def make(db: Database) -> Connector:
        return JsonHttpConnector(
            "gopy",
            gopy_server.url,
            mapping,
            records_path="data.items",
            cursor_param="updated_since",
            pagination="page",
            page_size=5,
            retry=RetryPolicy(attempts=1),
            db=db,
        )

    def change() -> Change:
        gopy_server.record(250101).update(maTinhTrangXuLy="CHUYEN_TIEP", ngayCapNhat="2025-11-08T09:00:00")
        return Change("250101", "status", "forwarded")

    def bad_row() -> BadRow:
        bad = dict(gopy_server.record(250102), id=250199, ngayGopY="hôm qua", ngayCapNhat="2025-11-08T09:30:00")
        gopy_server.records.append(bad)
        return BadRow("received_at (ngayGopY): 'hôm qua' is not a date-time")

    return ContractCase(HOTLINE, make, change, bad_row, lambda: {str(r["id"]) for r in gopy_server.records}, mapping)


DROP_MAPPING = parse_mapping(
    {
        "name": "motcua_excel",
        "target": "dossiers",
        "date_formats": ["%d/%m/%Y %H:%M"],
        "personal": ["Chủ hồ sơ", "Số điện thoại"],
        "columns": {
            "dossier_id": "Mã hồ sơ",
            "unit_code": "Đơn vị",
            "status": "Trạng thái",
            "received_at": "Ngày tiếp nhận",
            "finished_at": "Ngày hoàn thành",
            "updated_at": "Ngày cập nhật",
        },
        "values": {"status": {"Đang xử lý": "processing", "Đã giải quyết": "resolved"}},
        "units": {"by": "name"},
    }
)
DROP_HEADER = "Mã hồ sơ;Chủ hồ sơ;Số điện thoại;Đơn vị;Trạng thái;Ngày tiếp nhận;Ngày hoàn thành;Ngày cập nhật\n"


@pytest.fixture
def file_drop_case(tmp_path: Path) -> ContractCase:
    folder = tmp_path / "drop"
    folder.mkdir()
    drops = iter(range(1, 100))

    def drop(lines: list[str]) -> None:
        # An office's export: semicolons, dd/MM/yyyy, unit names, personal columns; UTF-8 with BOM as Excel writes it.
        (folder / f"export-{next(drops):02d}.csv").write_text(DROP_HEADER + "".join(lines), encoding="utf-8-sig")

    drop(
        [
            f"H48.20242-251103-{n:04d};Trần Thị B;0905111222;Phường Hải Châu;Đang xử lý;03/11/2025 08:{n:02d};;03/11/2025 08:{n:02d}\n"
            for n in range(1, 9)
        ]
    )

    def make(db: Database) -> Connector:
        return FileDropConnector(folder, DROP_MAPPING, db=db, name="filedrop", settle_seconds=0)

    def change() -> Change:
        drop(
            [
                "H48.20242-251103-0003;Trần Thị B;0905111222;Phường Hải Châu;Đã giải quyết;03/11/2025 08:03;05/11/2025 10:00;05/11/2025 10:00\n"
            ]
        )
        return Change("H48.20242-251103-0003", "status", "resolved")

    def bad_row() -> BadRow:
        drop(["H48.20242-251104-0001;Trần Thị B;0905111222;Phường Hải Châu;Đang xử lý;31/11/2025 08:00;;04/11/2025 08:00\n"])
        return BadRow("received_at (Ngày tiếp nhận): '31/11/2025 08:00' is not a real date")

    return ContractCase(DOSSIERS, make, change, bad_row, lambda: {f"H48.20242-251103-{n:04d}" for n in range(1, 9)}, DROP_MAPPING)


CANONICAL_HEADER = "dossier_id,unit_code,status,channel,received_at,finished_at,updated_at,so_dien_thoai\n"


@pytest.fixture
def canonical_file_drop_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ContractCase:
    """A file drop of canonical dossier CSVs, every file read in bulk by DuckDB (connectors.csv_bulk)."""
    import connectors.csv_bulk as csv_bulk

    monkeypatch.setattr(csv_bulk, "BULK_MIN_BYTES", 0)
    folder = tmp_path / "canonical-drop"
    folder.mkdir()
    drops = iter(range(1, 100))

    def drop(lines: list[str]) -> None:
        (folder / f"motcua-{next(drops):02d}.csv").write_text(CANONICAL_HEADER + "".join(lines), encoding="utf-8")

    drop(
        [
            f"H48.20242-251103-{n:04d},20242,processing,online,2025-11-03T08:{n:02d}:00,,2025-11-03T08:{n:02d}:00,0905111222\n"
            for n in range(1, 9)
        ]
    )

    def make(db: Database) -> Connector:
        return FileDropConnector(folder, target="dossiers", db=db, name="motcua", settle_seconds=0)

    def change() -> Change:
        drop(["H48.20242-251103-0003,20242,resolved,online,2025-11-03T08:03:00,2025-11-05T10:00:00,2025-11-05T10:00:00,\n"])
        return Change("H48.20242-251103-0003", "status", "resolved")

    def bad_row() -> BadRow:
        drop(["H48.20242-251104-0001,20242,processing,online,2025-11-31T08:00:00,,2025-11-04T08:00:00,\n"])
        return BadRow("received_at: '2025-11-31T08:00:00' is not a real date-time (day is out of range for month)")

    return ContractCase(DOSSIERS, make, change, bad_row, lambda: {f"H48.20242-251103-{n:04d}" for n in range(1, 9)})


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> ContractCase:
    return request.getfixturevalue(f"{request.param}_case")  # type: ignore[no-any-return]


# -- the contract -------------------------------------------------------------------------------------


class Recording:
    """A connector that passes everything through and keeps the batches it yielded."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.name = inner.name
        self.interval_seconds = inner.interval_seconds
        self.batches_seen: list[Batch] = []

    def batches(self, cursor: str | None) -> Iterator[Batch]:
        for batch in self.inner.batches(cursor):
            self.batches_seen.append(batch)
            yield batch


def snapshot(db: Database, connector: str) -> dict[str, Any]:
    return {
        "dossiers": db.scalar("SELECT count(*) FROM dossiers"),
        "hotline": db.scalar("SELECT count(*) FROM hotline_tickets"),
        "events": db.scalar("SELECT count(*) FROM dossier_events"),
        "rejects": db.scalar("SELECT count(*) FROM rejects"),
        "runs": db.scalar("SELECT count(*) FROM ingest_runs"),
        "cursor": read_cursor(db, connector),
        "data_version": db.data_version,
    }


def stored_value(db: Database, target: Target, key: str, column: str) -> Any:
    return db.scalar(f"SELECT {column} FROM {target.table} WHERE {target.primary_key} = ?", [key])


def test_rows_arrive_with_unique_keys_and_match_the_schema(case: ContractCase, store: Database) -> None:
    connector = case.get_connector(store)
    recording = Recording(connector)
    expected = case.source_keys()
    result = run_connector(store, recording)
    assert result.rows_read > 0 and result.rows_rejected == 0
    # Every row the source holds, each once: a connector that stops after a page, or skips one, fails here.
    key = case.target.primary_key
    stored = [k for (k,) in store.execute(f"SELECT {key} FROM {case.target.table}")]
    assert len(expected) > 1 and sorted(stored) == sorted(expected)
    if isinstance(connector, DeclaredConnector):
        declared = {stream.target.name: stream for stream in connector.streams}
        assert case.target.name in declared
        assert all(stream.write_mode == "merge" and stream.primary_key for stream in declared.values())
    reference_check: dict[str, set[Any]] = {}
    for batch in recording.batches_seen:
        keys = [case.row_key(row, batch.target) for row in batch.rows]
        assert all(key not in (None, "") for key in keys), "a row without its primary key"
        seen = reference_check.setdefault(batch.target.name, set())
        assert not seen & set(keys) and len(set(keys)) == len(keys), "a key yielded twice in one run"
        seen.update(keys)
        for row in batch.rows:
            # Only canonical columns: anything else (personal data above all) must not leave the connector.
            assert set(row) <= case.row_columns(batch.target), set(row) - case.row_columns(batch.target)
            if case.mapping is not None:
                assert not set(row) & case.mapping.personal
    for target in (DOSSIERS, HOTLINE):
        key = target.primary_key
        total, distinct, not_null = store.execute(f"SELECT count(*), count(DISTINCT {key}), count({key}) FROM {target.table}")[0]
        assert total == distinct == not_null
    # Every stored row is a canonical row: normalising it again changes nothing and raises nothing.
    assert [name for (name,) in store.execute(f"SELECT column_name FROM (DESCRIBE {case.target.table})")] == list(
        case.target.columns
    )
    reference = load_reference(store)
    columns = ", ".join(case.target.columns)
    for values in store.execute(f"SELECT {columns} FROM {case.target.table} ORDER BY 1 LIMIT 200"):
        row = dict(zip(case.target.columns, values, strict=True))
        try:
            again = case.target.normalize(row, reference, "contract", row["ingested_at"])
        except RowError as error:  # pragma: no cover - the message is the point
            pytest.fail(f"stored row {row[case.target.primary_key]} does not match the schema: {error}")
        assert again[case.target.primary_key] == row[case.target.primary_key]


def test_a_second_run_without_source_changes_adds_nothing(case: ContractCase, store: Database) -> None:
    connector = case.get_connector(store)
    run_connector(store, connector)
    before = snapshot(store, connector.name)
    result = run_connector(store, connector)
    assert result.rows_upserted == 0 and result.rows_rejected == 0
    assert snapshot(store, connector.name) == before
    # A restarted process (a new connector over the same store) finds nothing new either.
    run_connector(store, case.make_connector(store))
    assert snapshot(store, connector.name) == before


def test_a_row_changed_at_the_source_is_updated_in_the_store(case: ContractCase, store: Database) -> None:
    connector = case.get_connector(store)
    run_connector(store, connector)
    rows_before = store.scalar(f"SELECT count(*) FROM {case.target.table}")
    change = case.change_a_row()
    result = run_connector(store, connector)
    assert result.rows_upserted >= 1
    assert stored_value(store, case.target, change.key, change.column) == change.value
    assert store.scalar(f"SELECT count(*) FROM {case.target.table} WHERE {case.target.primary_key} = ?", [change.key]) == 1
    assert store.scalar(f"SELECT count(*) FROM {case.target.table}") >= rows_before


def test_a_bad_row_lands_in_rejects_with_a_reason(case: ContractCase, store: Database) -> None:
    connector = case.get_connector(store)
    run_connector(store, connector)
    bad = case.add_a_bad_row()
    result = run_connector(store, connector)
    assert result.rows_rejected >= 1
    rejects = store.execute("SELECT connector, reason, raw_row FROM rejects")
    assert any(name == connector.name and bad.reason in reason and raw for name, reason, raw in rejects), rejects
    # The reject is handled: the next run neither rejects it again nor stalls on it.
    count = len(rejects)
    run_connector(store, connector)
    assert store.scalar("SELECT count(*) FROM rejects") == count
