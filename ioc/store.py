"""Open a store ready for use: schema migrated, reference data loaded, working-day calendar built."""

from __future__ import annotations

from pathlib import Path

from ioc.calendar import sync_calendar_table
from ioc.db import Database
from ioc.reference import ensure_reference


def open_store(path: str | Path) -> Database:
    """The store at ``path`` (created if new) with everything the KPIs and connectors need."""
    db = Database(path)
    ensure_reference(db)
    if db.scalar("SELECT count(*) FROM calendar_days") == 0 or _overrides_changed(db):
        sync_calendar_table(db)
        _rebuild_aggregates_on_the_new_calendar(db)
    return db


def tidy_between_runs(db: Database) -> list[str]:
    """Merge the KPI count rows ingests appended, then write the log into the file, each only when due; say which ran.

    Between runs, not inside one: both hold the writer for a moment no run should wait for.
    """
    from kpis.aggregates import compact_aggregates_if_due

    done = []
    if compact_aggregates_if_due(db):
        done.append("compaction")
    if db.checkpoint_if_due():
        done.append("checkpoint")
    return done


def _rebuild_aggregates_on_the_new_calendar(db: Database) -> None:
    # The KPI aggregates hold working-day facts (at-risk windows, processing days), so a changed
    # calendar makes them wrong until they are rebuilt from the items.
    from kpis.aggregates import aggregates_ready, rebuild_aggregates

    has_items = db.scalar("SELECT (SELECT count(*) FROM dossiers) + (SELECT count(*) FROM hotline_tickets)")
    if has_items and aggregates_ready(db):
        rebuild_aggregates(db)


def _overrides_changed(db: Database) -> bool:
    # calendar_days is derived; rebuild it when the package or the overrides may have changed it.
    from ioc.calendar import calendar_from_store

    stored = {day: working for day, working in db.execute("SELECT day, is_working FROM calendar_days")}
    fresh = {day: working for day, working, _ in calendar_from_store(db).rows()}
    return stored != fresh
