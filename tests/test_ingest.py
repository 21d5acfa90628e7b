"""The one write path: merge by key (newest wins), events, rejects with reasons, cursor in the same commit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connectors.base import DOSSIERS, HOTLINE, Batch, ingest_batches, read_cursor
from ioc.db import Database


def dossier(dossier_id: str = "H48.20194-251103-0001", **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "dossier_id": dossier_id,
        "unit_code": "20194",
        "status": "processing",
        "channel": "online",
        "received_at": "2025-11-03T08:15:00",
        "due_at": "2025-11-06T17:00:00",
        "updated_at": "2025-11-03T08:15:00",
    }
    row.update(fields)
    return row


def test_new_rows_land_and_bad_rows_are_rejected_with_a_reason(store: Database) -> None:
    rows = [
        dossier("A"),
        dossier("B", unit_code="99999"),
        dossier("C", received_at="not a date"),
        dossier("C2", received_at="2025-11-31T08:00:00"),  # ISO, but no such day
        dossier("D", status="resolved"),
        dossier("E", status="11"),
        dossier("F", status="resolved", finished_at="2025-11-01T08:00:00"),
        dossier("", status="processing"),
        dossier("G", status="processing", finished_at="2025-11-04T08:00:00"),
    ]
    result = ingest_batches(store, "test", [Batch(DOSSIERS, rows, cursor="1")])
    assert (result.rows_read, result.rows_upserted, result.rows_rejected) == (9, 1, 8)
    assert [r for (r,) in store.execute("SELECT dossier_id FROM dossiers")] == ["A"]
    reasons = sorted(reason for (reason,) in store.execute("SELECT reason FROM rejects"))
    assert reasons == sorted(
        [
            "unit_code: '99999' is not a known unit",
            "received_at: 'not a date' is not a date-time (expected ISO 8601, e.g. 2025-07-02T08:30:00; "
            "other layouts such as 02/07/2025 need a mapping's date_formats)",
            "received_at: '2025-11-31T08:00:00' is not a real date-time (day is out of range for month)",
            "finished_at: missing for a dossier whose status is resolved",
            "status: '11' is neither a status name nor a code 1-10",
            "finished_at: before received_at",
            "dossier_id: missing",
            "finished_at: set, but status processing means processing has not ended",
        ]
    )
    assert read_cursor(store, "test") == "1"


def test_times_out_of_order_are_rejected_with_which_comes_before_which(store: Database) -> None:
    ended = {"status": "resolved", "finished_at": "2025-11-05T10:00:00"}
    rows = [
        dossier("R1", **ended, returned_at="2025-11-02T08:00:00"),  # returned before it was received
        dossier("R2", **ended, returned_at="2025-11-04T08:00:00"),  # returned before processing ended
        dossier("R3", due_at="2025-11-02T17:00:00"),  # due the day before it was received
        dossier("OK", **ended, returned_at="2025-11-05T10:00:00", due_at="2025-11-03T07:00:00"),  # due earlier that day
    ]
    result = ingest_batches(store, "test", [Batch(DOSSIERS, rows)])
    assert (result.rows_upserted, result.rows_rejected) == (1, 3)
    reasons = dict(store.execute("SELECT json_extract_string(raw_row, '$.dossier_id'), reason FROM rejects"))
    assert reasons == {
        "R1": "returned_at: before received_at",
        "R2": "returned_at: before finished_at (a result is returned after processing ends)",
        "R3": "due_at: before received_at",
    }


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"status": "answered"}, "answered_at: missing for an answered ticket"),
        ({"status": "forwarded", "answered_at": "2025-11-04T08:00:00"}, "answered_at: set, but the ticket is still forwarded"),
        ({"status": "answered", "answered_at": "2025-11-02T08:00:00"}, "answered_at: before received_at"),
        ({"status": "closed"}, "status: 'closed' is not one of new, processing, forwarded, answered, rejected"),
    ],
)
def test_a_ticket_whose_answer_contradicts_its_status_is_rejected(store: Database, fields: dict, reason: str) -> None:
    ticket = {"ticket_id": "T1", "unit_code": "20194", "received_at": "2025-11-03T08:00:00", **fields}
    fine = {"ticket_id": "T2", "unit_code": "20194", "received_at": "2025-11-03T08:00:00", "status": "new"}
    result = ingest_batches(store, "test", [Batch(HOTLINE, [ticket, fine])])
    assert (result.rows_upserted, result.rows_rejected) == (1, 1)
    assert store.execute("SELECT reason FROM rejects") == [(reason,)]


def test_naive_times_are_local_and_stored_in_utc(store: Database) -> None:
    ingest_batches(store, "test", [Batch(DOSSIERS, [dossier("A", received_at="2025-11-03T00:30:00")])])
    received = store.scalar("SELECT received_at FROM dossiers")
    assert received == datetime(2025, 11, 2, 17, 30, tzinfo=UTC)


def test_newest_update_wins_and_older_ones_never_overwrite(store: Database) -> None:
    ingest_batches(store, "test", [Batch(DOSSIERS, [dossier("A", status="processing", updated_at="2025-11-03T09:00:00")])])
    newer = dossier("A", status="resolved", finished_at="2025-11-04T10:00:00", updated_at="2025-11-04T10:00:00")
    older = dossier("A", status="supplement_requested", updated_at="2025-11-03T12:00:00")
    ingest_batches(store, "test", [Batch(DOSSIERS, [newer])])
    ingest_batches(store, "test", [Batch(DOSSIERS, [older])])
    assert store.execute("SELECT status FROM dossiers") == [("resolved",)]
    events = store.execute("SELECT status FROM dossier_events ORDER BY event_at")
    assert events == [("processing",), ("resolved",)]


def test_duplicate_keys_in_one_batch_keep_the_newest(store: Database) -> None:
    rows = [
        dossier("A", status="resolved", finished_at="2025-11-05T10:00:00", updated_at="2025-11-05T10:00:00"),
        dossier("A", status="processing", updated_at="2025-11-03T09:00:00"),
    ]
    result = ingest_batches(store, "test", [Batch(DOSSIERS, rows)])
    assert result.rows_upserted == 1
    assert store.execute("SELECT status FROM dossiers") == [("resolved",)]


def test_the_same_batch_twice_adds_nothing(store: Database) -> None:
    rows = [dossier("A"), dossier("B")]
    ingest_batches(store, "test", [Batch(DOSSIERS, rows)])
    ingest_batches(store, "test", [Batch(DOSSIERS, rows)])
    assert store.scalar("SELECT count(*) FROM dossiers") == 2
    assert store.scalar("SELECT count(*) FROM dossier_events") == 2


def test_a_failing_source_keeps_earlier_batches_and_the_cursor_of_the_last_commit(store: Database) -> None:
    def batches() -> Iterator[Batch]:
        yield Batch(DOSSIERS, [dossier("A")], cursor="after-A")
        raise ConnectionError("source went away")

    with pytest.raises(ConnectionError):
        ingest_batches(store, "flaky", batches())
    assert store.scalar("SELECT count(*) FROM dossiers") == 1
    assert read_cursor(store, "flaky") == "after-A"
    assert store.execute("SELECT status, error FROM ingest_runs") == [("failed", "ConnectionError: source went away")]
    assert store.scalar("SELECT last_error FROM connector_state WHERE connector = 'flaky'") == "ConnectionError: source went away"


def test_columns_outside_the_model_such_as_personal_data_are_never_stored(store: Database) -> None:
    row = dossier("A", citizen_name="Nguyễn Văn A", phone="0905123456", cccd="048123456789")
    ingest_batches(store, "test", [Batch(DOSSIERS, [row])])
    stored = store.query_df("SELECT * FROM dossiers").to_string()
    assert "Nguyễn Văn A" not in stored and "0905123456" not in stored and "048123456789" not in stored


def test_hotline_text_is_cleaned_of_control_characters_and_cut(store: Database) -> None:
    ticket = {
        "ticket_id": "T1",
        "unit_code": "20194",
        "status": "new",
        "received_at": "2025-11-03T08:00:00",
        "urgency": "urgent",
        "title": "Đèn\x00 hỏng <script>alert(1)</script>" + "x" * 2000,
    }
    ingest_batches(store, "test", [Batch(HOTLINE, [ticket])])
    title, due = store.execute("SELECT title, CAST(timezone('Asia/Ho_Chi_Minh', due_at) AS DATE) FROM hotline_tickets")[0]
    assert "\x00" not in title and title.startswith("Đèn hỏng <script>") and len(title) == 500
    assert str(due) == "2025-11-04"  # urgent: one working day


def test_a_run_that_finds_nothing_writes_no_run_row_but_counts_as_success(store: Database) -> None:
    ingest_batches(store, "quiet", [])
    assert store.scalar("SELECT count(*) FROM ingest_runs WHERE connector = 'quiet'") == 0
    assert store.scalar("SELECT last_success_at FROM connector_state WHERE connector = 'quiet'") is not None
    ingest_batches(store, "quiet", [Batch(DOSSIERS, [dossier("A")])])
    assert store.execute("SELECT status, rows_read, rows_upserted FROM ingest_runs WHERE connector = 'quiet'") == [("ok", 1, 1)]


def test_a_due_date_outside_the_calendar_is_a_reject_not_a_crash(store: Database) -> None:
    old = {"ticket_id": "OLD", "unit_code": "20194", "status": "new", "received_at": "1995-03-01T08:00:00"}
    fine = {"ticket_id": "NEW", "unit_code": "20194", "status": "new", "received_at": "2025-03-03T08:00:00"}
    result = ingest_batches(store, "test", [Batch(HOTLINE, [old, fine])])
    assert (result.rows_upserted, result.rows_rejected) == (1, 1)
    assert "cannot be computed from the working-day calendar" in store.scalar("SELECT reason FROM rejects")


def test_reading_unchanged_rows_again_logs_no_run_and_moves_no_screen(store: Database) -> None:
    def runs() -> int:
        return int(store.scalar("SELECT count(*) FROM ingest_runs WHERE connector = 'overlap'"))

    rows = [dossier("A"), dossier("B"), dossier("C", unit_code="99999")]
    ingest_batches(store, "overlap", [Batch(DOSSIERS, rows, cursor="1")])
    version, success = store.data_version, store.scalar("SELECT last_success_at FROM connector_state WHERE connector = 'overlap'")
    assert runs() == 1

    # An overlap window reads the same rows again: nothing written, no run row, no new version; the cursor and the
    # last success still move (staleness is judged on it).
    again = ingest_batches(store, "overlap", [Batch(DOSSIERS, rows[:2], cursor="2")])
    assert (again.rows_read, again.rows_upserted, again.rows_rejected) == (2, 0, 0)
    assert (runs(), store.data_version, read_cursor(store, "overlap")) == (1, version, "2")
    assert store.scalar("SELECT last_success_at FROM connector_state WHERE connector = 'overlap'") > success

    changed = ingest_batches(store, "overlap", [Batch(DOSSIERS, [*rows[:1], dossier("B", status="resolved",
                             finished_at="2025-11-04T08:00:00", updated_at="2025-11-04T08:00:00")], cursor="3")])  # fmt: skip
    assert changed.rows_upserted == 1 and runs() == 2 and store.data_version > version
    assert store.scalar("SELECT rows_read FROM ingest_runs WHERE connector = 'overlap' ORDER BY run_id DESC LIMIT 1") == 2


def test_an_over_long_procedure_code_is_rejected_not_cut(store: Database) -> None:
    rows = [dossier("A", procedure_code="1.00" + "9" * 200), dossier("B", procedure_code="2.000815")]
    result = ingest_batches(store, "test", [Batch(DOSSIERS, rows)])
    assert (result.rows_upserted, result.rows_rejected) == (1, 1)
    assert store.scalar("SELECT reason FROM rejects") == "procedure_code: longer than 120 characters"
