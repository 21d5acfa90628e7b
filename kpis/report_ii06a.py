"""Biểu số II.06a/VPCP/KSTT: dossier handling per unit plus a total row, as data for the CSV/XLSX exports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd

from ioc.db import Database
from ioc.timeutil import now_utc
from kpis.compute import compute_by_unit
from kpis.period import Period

FORM_CODE = "Biểu số II.06a/VPCP/KSTT"
FORM_TITLE = "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT TTHC TẠI CƠ QUAN, ĐƠN VỊ TRỰC TIẾP GIẢI QUYẾT TTHC"
TOTAL_LABEL = "Tổng cộng"

ColumnKind = Literal["count", "rate"]


@dataclass(frozen=True)
class Ii06aColumn:
    """One figure column of the form: id, the group header above it (None for a stand-alone column), its label."""

    id: str
    group_vi: str | None
    label_vi: str
    kind: ColumnKind
    definition_vi: str


RECEIVED = "Số hồ sơ nhận giải quyết"
RESOLVED = "Số hồ sơ đã giải quyết"
IN_PROGRESS = "Số lượng hồ sơ đang giải quyết"

# The form's columns (domain-notes §1.2), in its order, with the DESIGN §4 definition behind each.
# "Tổng số" of the received group is the sum of its three parts (online + in person/postal +
# carried over), i.e. §4's to_process, as on the paper form. The last three columns are not on the
# national form; provinces add them (domain-notes §1.2, §1.5):
#   - withdrawn_stopped ("Trả lại/Rút HS" in Thanh Hóa's report) makes every row balance:
#     received_total = resolved_total + in_progress_total + withdrawn_stopped;
#   - on_time_rate, and late_rate as Gia Lai publishes it ("Tỉ lệ trễ hạn").
II06A_COLUMNS: tuple[Ii06aColumn, ...] = (
    Ii06aColumn("received_total", RECEIVED, "Tổng số", "count", "Từ kỳ trước + tiếp nhận trong kỳ (cần xử lý)."),
    Ii06aColumn("received_online", RECEIVED, "Trực tuyến", "count", "Tiếp nhận trong kỳ qua kênh trực tuyến."),
    Ii06aColumn(
        "received_in_person_postal",
        RECEIVED,
        "Trực tiếp và dịch vụ bưu chính",
        "count",
        "Tiếp nhận trong kỳ trực tiếp hoặc qua dịch vụ bưu chính công ích.",
    ),
    Ii06aColumn(
        "carried_over",
        RECEIVED,
        "Từ kỳ trước",
        "count",
        "Đã tiếp nhận trước kỳ, chưa kết thúc xử lý trước ngày đầu kỳ.",
    ),
    Ii06aColumn(
        "resolved_total",
        RESOLVED,
        "Tổng số",
        "count",
        "Đã xử lý xong hoặc đã trả kết quả, ngày kết thúc xử lý trong kỳ.",
    ),
    Ii06aColumn("resolved_early", RESOLVED, "Trước hạn", "count", "Ngày kết thúc xử lý trước ngày hẹn trả."),
    Ii06aColumn(
        "resolved_on_time",
        RESOLVED,
        "Đúng hạn",
        "count",
        "Ngày kết thúc xử lý bằng ngày hẹn trả (hoặc không có ngày hẹn trả).",
    ),
    Ii06aColumn("resolved_late", RESOLVED, "Quá hạn", "count", "Ngày kết thúc xử lý sau ngày hẹn trả."),
    Ii06aColumn("in_progress_total", IN_PROGRESS, "Tổng số", "count", "Đã tiếp nhận, chưa kết thúc xử lý tại cuối kỳ."),
    Ii06aColumn(
        "in_progress_within",
        IN_PROGRESS,
        "Trong hạn",
        "count",
        "Ngày hẹn trả từ ngày sau cuối kỳ trở đi (hoặc không có ngày hẹn trả).",
    ),
    Ii06aColumn("in_progress_overdue", IN_PROGRESS, "Quá hạn", "count", "Ngày hẹn trả trước ngày sau cuối kỳ."),
    Ii06aColumn(
        "withdrawn_stopped",
        None,
        "Rút hồ sơ, dừng xử lý",
        "count",
        "Công dân rút hồ sơ hoặc dừng xử lý, ngày kết thúc trong kỳ (cột bổ sung, không có trên biểu mẫu).",
    ),
    Ii06aColumn(
        "on_time_rate",
        None,
        "Tỷ lệ giải quyết trước hạn, đúng hạn",
        "rate",
        "(Trước hạn + đúng hạn) / tổng số đã giải quyết; để trống khi chưa giải quyết hồ sơ nào.",
    ),
    Ii06aColumn(
        "late_rate",
        None,
        "Tỷ lệ trễ hạn",
        "rate",
        "(Đã giải quyết quá hạn + đang giải quyết quá hạn) / tổng số nhận giải quyết (cách tính của Gia Lai).",
    ),
)
COUNT_COLUMNS: tuple[str, ...] = tuple(column.id for column in II06A_COLUMNS if column.kind == "count")
ROW_COLUMNS: tuple[str, ...] = ("stt", "unit_code", "unit_name", "kind", *(column.id for column in II06A_COLUMNS))

# Units that report on the form: the communes of the city, never a province row (it is the total).
REPORTING_KINDS: tuple[str, ...] = ("phuong", "xa", "dac_khu")


@dataclass(frozen=True)
class Ii06aReport:
    """The form's data and header. ``rows``: one per unit (stt 1…n, by unit code), then the total row
    (stt None, unit_code None, unit_name "Tổng cộng"); columns ROW_COLUMNS; counts int, rates 0–1 or None.
    """

    period: Period
    rows: pd.DataFrame
    reporting_unit: str
    receiving_unit: str
    data_time: datetime | None
    generated_at: datetime


def _ratio(numerator: int, denominator: int) -> float | None:
    # DESIGN §4: a rate over an empty denominator is null, never 0 and never 100 %.
    return numerator / denominator if denominator else None


def form_row(figures: Mapping[Any, Any]) -> dict[str, Any]:
    """The form's figure columns from one compute()/compute_by_unit() result (or a sum of them)."""
    counts = {
        "received_total": int(figures["carried_over"]) + int(figures["received"]),
        "received_online": int(figures["received_online"]),
        "received_in_person_postal": int(figures["received_in_person"]) + int(figures["received_postal"]),
        "carried_over": int(figures["carried_over"]),
        "resolved_total": int(figures["resolved"]),
        "resolved_early": int(figures["resolved_early"]),
        "resolved_on_time": int(figures["resolved_on_time"]),
        "resolved_late": int(figures["resolved_late"]),
        "in_progress_total": int(figures["in_progress"]),
        "in_progress_within": int(figures["in_progress_within"]),
        "in_progress_overdue": int(figures["in_progress_overdue"]),
        "withdrawn_stopped": int(figures["withdrawn"]) + int(figures["stopped"]),
    }
    return {
        **counts,
        "on_time_rate": _ratio(counts["resolved_early"] + counts["resolved_on_time"], counts["resolved_total"]),
        "late_rate": _ratio(counts["resolved_late"] + counts["in_progress_overdue"], counts["received_total"]),
    }


def total_row(unit_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The total: each count summed over the unit rows, the rates recomputed from the summed counts (never averaged)."""
    sums = {column: sum(int(row[column]) for row in unit_rows) for column in COUNT_COLUMNS}
    return {
        **sums,
        "on_time_rate": _ratio(sums["resolved_early"] + sums["resolved_on_time"], sums["resolved_total"]),
        "late_rate": _ratio(sums["resolved_late"] + sums["in_progress_overdue"], sums["received_total"]),
    }


def build_ii06a(
    db: Database,
    period: Period,
    *,
    reporting_unit: str,
    receiving_unit: str,
    generated_at: datetime | None = None,
) -> Ii06aReport:
    """Biểu II.06a for ``period``: every commune-level unit in the store (units without dossiers show zeros) and the total.

    Every figure is DESIGN §4's (compute_by_unit), so the form, the dashboard and ``python -m ioc
    kpi`` cannot disagree. ``data_time`` is the latest ingest time of any dossier (None for an
    empty store): the form states how fresh its data is.
    """
    frame = compute_by_unit(db, period)
    frame = frame[frame["kind"].isin(REPORTING_KINDS)].sort_index()
    unit_rows: list[dict[str, Any]] = []
    for number, (unit_code, figures) in enumerate(frame.iterrows(), start=1):
        unit_rows.append(
            {
                "stt": number,
                "unit_code": str(unit_code),
                "unit_name": figures["full_name"],
                "kind": figures["kind"],
                **form_row(figures.to_dict()),
            }
        )
    total = {"stt": None, "unit_code": None, "unit_name": TOTAL_LABEL, "kind": None, **total_row(unit_rows)}
    records = [*unit_rows, total]
    rows = pd.DataFrame(
        {
            column: pd.Series([record[column] for record in records], dtype=object if column not in COUNT_COLUMNS else "int64")
            for column in ROW_COLUMNS
        }
    )
    data_time = db.scalar("SELECT max(ingested_at) FROM dossiers")
    return Ii06aReport(period, rows, reporting_unit, receiving_unit, data_time, generated_at or now_utc())
