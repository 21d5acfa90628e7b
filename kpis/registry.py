"""The KPI registry (DESIGN §4): id, vi/en titles, unit, direction, thresholds, and the traffic-light status."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

KpiUnit = Literal["count", "rate", "days", "hours", "per_day"]
Direction = Literal["higher_is_better", "lower_is_better", "neutral"]
Status = Literal["good", "watch", "bad", "no_data"]

# DESIGN §4: grey "not enough data" when fewer than 5 items back a rate.
MIN_ITEMS_FOR_STATUS = 5
# Rates are fractions such as 297/300; compare with a little slack so 0.99 computed equals 0.99 declared.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Kpi:
    """One declared figure.

    ``thresholds`` are (good, watch) bounds read in the KPI's direction: for higher_is_better a value
    ≥ good is good, ≥ watch is watch, else bad; for lower_is_better ≤ good is good, ≤ watch is watch.
    ``denominator`` is the id (in ``compute()``'s output) of the count that backs a rate or a statistic.
    """

    id: str
    title_vi: str
    title_en: str
    unit: KpiUnit
    direction: Direction
    thresholds: tuple[float, float] | None
    denominator: str | None
    definition_vi: str
    definition_en: str


def _count(kpi_id: str, title_vi: str, title_en: str, definition_vi: str, definition_en: str) -> Kpi:
    return Kpi(kpi_id, title_vi, title_en, "count", "neutral", None, None, definition_vi, definition_en)


# Thresholds and why:
# - on_time_rate, progress_rate_766: DESIGN §4 (≥ 99 % good, ≥ 95 % watch).
# - late_rate, backlog_rate: the mirror image of on-time (≤ 1 % good, ≤ 5 % watch).
# - online_rate: DESIGN §4 target 80 %; watch from 70 %, the commune-level online target (domain-notes §1.3).
# - online_payment_rate: DESIGN §4 target 60 %; watch from 50 %.
# - digitization_rate: QĐ 766 indicator 4.2 gives full score at ≥ 80 % (domain-notes §2.1); watch from 70 %.
# - hotline_on_time_rate: no legal target; 95 %/90 % rather than the dossiers' 99 %/95 % because hotline
#   deadlines are 1–5 working days and most items are forwarded to other agencies, and Đà Nẵng has
#   historically reported about 98 % on time (domain-notes §3.1), so 95 % separates normal from poor.
# - hotline_satisfaction_rate: QĐ 766 indicator 5.4 gives full score at ≥ 90 %; watch from 80 %.
_DOSSIER_KPIS: tuple[Kpi, ...] = (
    _count(
        "carried_over",
        "Tồn kỳ trước",
        "Carried over",
        "Đã tiếp nhận, ngày nhận < từ ngày, chưa kết thúc trước từ ngày.",
        "Accepted, received before the period, not finished before it starts.",
    ),
    _count(
        "received",
        "Tiếp nhận trong kỳ",
        "Received",
        "Đã tiếp nhận, ngày nhận trong kỳ.",
        "Accepted, received date in the period.",
    ),
    _count(
        "received_online",
        "Tiếp nhận trực tuyến",
        "Received online",
        "Tiếp nhận trong kỳ qua kênh trực tuyến.",
        "Received in the period online.",
    ),
    _count(
        "received_in_person",
        "Tiếp nhận trực tiếp",
        "Received in person",
        "Tiếp nhận trong kỳ trực tiếp.",
        "Received in the period in person.",
    ),
    _count(
        "received_postal",
        "Tiếp nhận qua bưu chính",
        "Received by post",
        "Tiếp nhận trong kỳ qua bưu chính công ích.",
        "Received in the period through the public postal service.",
    ),
    _count("to_process", "Cần xử lý", "To process", "Tồn kỳ trước + tiếp nhận trong kỳ.", "Carried over + received."),
    _count(
        "resolved",
        "Đã giải quyết",
        "Resolved",
        "Trạng thái đã xử lý xong/đã trả kết quả, ngày kết thúc trong kỳ.",
        "Status resolved or returned, finished date in the period.",
    ),
    _count(
        "resolved_early",
        "Giải quyết trước hạn",
        "Resolved early",
        "Đã giải quyết, ngày kết thúc < ngày hẹn trả.",
        "Resolved, finished date before the due date.",
    ),
    _count(
        "resolved_on_time",
        "Giải quyết đúng hạn",
        "Resolved on the due date",
        "Đã giải quyết, ngày kết thúc = ngày hẹn trả (hoặc không có ngày hẹn).",
        "Resolved, finished date equal to the due date (or no due date).",
    ),
    _count(
        "resolved_late",
        "Giải quyết quá hạn",
        "Resolved late",
        "Đã giải quyết, ngày kết thúc > ngày hẹn trả.",
        "Resolved, finished date after the due date.",
    ),
    _count(
        "withdrawn",
        "Rút hồ sơ",
        "Withdrawn",
        "Công dân rút hồ sơ, ngày kết thúc trong kỳ.",
        "Withdrawn, finished date in the period.",
    ),
    _count("stopped", "Dừng xử lý", "Stopped", "Dừng xử lý, ngày kết thúc trong kỳ.", "Stopped, finished date in the period."),
    _count(
        "in_progress",
        "Đang xử lý",
        "In progress",
        "Đã tiếp nhận, nhận trước đến ngày, chưa kết thúc tại thời điểm cuối kỳ.",
        "Accepted, received before the end, not finished at the end of the period.",
    ),
    _count(
        "in_progress_within",
        "Đang xử lý trong hạn",
        "In progress, within deadline",
        "Đang xử lý, ngày hẹn trả ≥ đến ngày (hoặc không có ngày hẹn).",
        "In progress, due date on or after the period end (or no due date).",
    ),
    _count(
        "in_progress_overdue",
        "Đang xử lý quá hạn",
        "In progress, overdue",
        "Đang xử lý, ngày hẹn trả < đến ngày.",
        "In progress, due date before the period end.",
    ),
    _count(
        "at_risk",
        "Sắp đến hạn",
        "Due next working day",
        "Đang xử lý trong hạn, hạn trả không muộn hơn ngày làm việc đầu tiên kể từ đến ngày.",
        "In progress within deadline, due no later than the first working day on or after the period end.",
    ),
    Kpi(
        "on_time_rate",
        "Tỷ lệ giải quyết đúng hạn",
        "On-time rate",
        "rate",
        "higher_is_better",
        (0.99, 0.95),
        "resolved",
        "(Trước hạn + đúng hạn) / đã giải quyết.",
        "(Early + on the due date) / resolved.",
    ),
    Kpi(
        "late_rate",
        "Tỷ lệ trễ hạn",
        "Late rate",
        "rate",
        "lower_is_better",
        (0.01, 0.05),
        "to_process",
        "(Giải quyết quá hạn + đang xử lý quá hạn) / cần xử lý.",
        "(Resolved late + in progress overdue) / to process.",
    ),
    Kpi(
        "backlog_rate",
        "Tỷ lệ tồn đọng quá hạn",
        "Overdue backlog rate",
        "rate",
        "lower_is_better",
        (0.01, 0.05),
        "in_progress",
        "Đang xử lý quá hạn / đang xử lý.",
        "In progress overdue / in progress.",
    ),
    Kpi(
        "throughput_per_day",
        "Giải quyết mỗi ngày làm việc",
        "Resolved per working day",
        "per_day",
        "neutral",
        None,
        "working_days",
        "Đã giải quyết / số ngày làm việc trong kỳ.",
        "Resolved / working days in the period.",
    ),
    Kpi(
        "processing_days_median",
        "Số ngày xử lý (trung vị)",
        "Processing days (median)",
        "days",
        "lower_is_better",
        None,
        "resolved",
        "Trung vị số ngày làm việc từ sau ngày nhận đến ngày kết thúc (BLDS điều 147).",
        "Median working days after the received date up to the finished date (Civil Code art. 147).",
    ),
    Kpi(
        "processing_days_p90",
        "Số ngày xử lý (phân vị 90)",
        "Processing days (90th percentile)",
        "days",
        "lower_is_better",
        None,
        "resolved",
        "Phân vị 90 (nội suy tuyến tính) số ngày làm việc xử lý hồ sơ đã giải quyết.",
        "90th percentile (linear interpolation) of working days to resolve.",
    ),
    Kpi(
        "progress_rate_766",
        "Tiến độ giải quyết (QĐ 766, chỉ số 2.1)",
        "Progress rate (Decision 766, 2.1)",
        "rate",
        "higher_is_better",
        (0.99, 0.95),
        "to_process",
        "Hồ sơ đúng hạn (trừ thời gian chờ bổ sung; bổ sung quá 1 lần là trễ) / cần xử lý.",
        "On-time dossiers (supplement pauses deducted; more than one supplement is late) / to process.",
    ),
    Kpi(
        "online_rate",
        "Tỷ lệ nộp trực tuyến",
        "Online rate",
        "rate",
        "higher_is_better",
        (0.80, 0.70),
        "received",
        "Tiếp nhận trực tuyến / tiếp nhận.",
        "Received online / received.",
    ),
    Kpi(
        "online_payment_rate",
        "Tỷ lệ thanh toán trực tuyến",
        "Online payment rate",
        "rate",
        "higher_is_better",
        (0.60, 0.50),
        "received_with_fee",
        "Hồ sơ có phí thanh toán trực tuyến / hồ sơ tiếp nhận của thủ tục có phí.",
        "Fee-bearing dossiers paid online / received dossiers of fee-bearing procedures.",
    ),
    Kpi(
        "digitization_rate",
        "Tỷ lệ số hóa",
        "Digitisation rate",
        "rate",
        "higher_is_better",
        (0.80, 0.70),
        "resolved",
        "Đã giải quyết có số hóa và kết quả điện tử / đã giải quyết.",
        "Resolved with digitised inputs and an e-result / resolved.",
    ),
)

_HOTLINE_KPIS: tuple[Kpi, ...] = (
    _count(
        "hotline_received",
        "Phản ánh tiếp nhận",
        "Feedback received",
        "Phản ánh (trừ bị từ chối) nhận trong kỳ.",
        "Tickets (rejected excluded) received in the period.",
    ),
    _count(
        "hotline_answered",
        "Phản ánh đã trả lời",
        "Feedback answered",
        "Phản ánh trả lời trong kỳ.",
        "Tickets answered in the period.",
    ),
    _count(
        "hotline_answered_on_time",
        "Trả lời đúng hạn",
        "Answered on time",
        "Trả lời trong kỳ, ngày trả lời ≤ hạn phản hồi.",
        "Answered in the period, answered date on or before the due date.",
    ),
    _count(
        "hotline_answered_late",
        "Trả lời trễ hạn",
        "Answered late",
        "Trả lời trong kỳ, ngày trả lời > hạn phản hồi.",
        "Answered in the period, answered date after the due date.",
    ),
    _count(
        "hotline_open",
        "Phản ánh chưa trả lời",
        "Feedback open",
        "Nhận trước đến ngày, chưa trả lời tại thời điểm cuối kỳ.",
        "Received before the end, not answered at the end of the period.",
    ),
    _count(
        "hotline_open_within",
        "Chưa trả lời, còn hạn",
        "Open, within deadline",
        "Chưa trả lời, hạn phản hồi ≥ đến ngày.",
        "Open, due date on or after the period end.",
    ),
    _count(
        "hotline_open_overdue",
        "Chưa trả lời, quá hạn",
        "Open, overdue",
        "Chưa trả lời, hạn phản hồi < đến ngày.",
        "Open, due date before the period end.",
    ),
    Kpi(
        "hotline_on_time_rate",
        "Tỷ lệ trả lời đúng hạn",
        "Feedback on-time rate",
        "rate",
        "higher_is_better",
        (0.95, 0.90),
        "hotline_answered",
        "Trả lời đúng hạn / đã trả lời.",
        "Answered on time / answered.",
    ),
    Kpi(
        "hotline_response_hours_median",
        "Thời gian trả lời (giờ, trung vị)",
        "Response time (hours, median)",
        "hours",
        "lower_is_better",
        None,
        "hotline_answered",
        "Trung vị số giờ từ lúc nhận đến lúc trả lời.",
        "Median hours from received to answered.",
    ),
    Kpi(
        "hotline_satisfaction_rate",
        "Tỷ lệ hài lòng",
        "Satisfaction rate",
        "rate",
        "higher_is_better",
        (0.90, 0.80),
        "hotline_rated",
        "Hài lòng / số đánh giá (phản ánh trả lời trong kỳ có đánh giá).",
        "Satisfied / rated (tickets answered in the period with a rating).",
    ),
)

REGISTRY: dict[str, Kpi] = {kpi.id: kpi for kpi in (*_DOSSIER_KPIS, *_HOTLINE_KPIS)}
"""Every DESIGN §4 figure, in the order of the national form."""

SUPPORTING: dict[str, Kpi] = {
    kpi.id: kpi
    for kpi in (
        _count(
            "received_with_fee",
            "Tiếp nhận của thủ tục có phí",
            "Received, fee-bearing procedure",
            "Tiếp nhận trong kỳ, thủ tục có phí, lệ phí.",
            "Received in the period whose procedure has a fee.",
        ),
        _count(
            "received_paid_online",
            "Thanh toán trực tuyến",
            "Paid online",
            "Tiếp nhận trong kỳ, thủ tục có phí, đã thanh toán trực tuyến.",
            "Received in the period, fee-bearing procedure, paid online.",
        ),
        _count(
            "resolved_digitized",
            "Giải quyết có số hóa",
            "Resolved, digitised",
            "Đã giải quyết có số hóa và kết quả điện tử.",
            "Resolved with digitised inputs and an e-result.",
        ),
        _count(
            "progress_766_on_time",
            "Đúng hạn theo QĐ 766",
            "On time per Decision 766",
            "Tử số của tiến độ giải quyết QĐ 766.",
            "Numerator of the Decision 766 progress rate.",
        ),
        _count(
            "working_days",
            "Số ngày làm việc",
            "Working days",
            "Ngày làm việc trong kỳ.",
            "Working days in the period.",
        ),
        _count(
            "hotline_rated",
            "Phản ánh có đánh giá",
            "Feedback rated",
            "Trả lời trong kỳ và có đánh giá.",
            "Answered in the period with a rating.",
        ),
        _count(
            "hotline_satisfied",
            "Phản ánh hài lòng",
            "Feedback satisfied",
            "Trả lời trong kỳ, đánh giá hài lòng.",
            "Answered in the period, rated satisfied.",
        ),
    )
}
"""Counts that back the §4 rates but are not themselves §4 ids; returned by compute() so every rate can be re-derived."""

_threshold_overrides: dict[str, tuple[float, float] | None] = {}


def kpi(kpi_id: str) -> Kpi:
    """The declaration of a §4 KPI or a supporting count."""
    found = REGISTRY.get(kpi_id) or SUPPORTING.get(kpi_id)
    if found is None:
        raise KeyError(f"unknown KPI id {kpi_id!r}")
    return found


def thresholds_of(kpi_id: str) -> tuple[float, float] | None:
    """The (good, watch) bounds in force: an override from set_thresholds, else the declared default."""
    if kpi_id in _threshold_overrides:
        return _threshold_overrides[kpi_id]
    return kpi(kpi_id).thresholds


def set_thresholds(kpi_id: str, good: float | None, watch: float | None = None) -> None:
    """Override a KPI's (good, watch) bounds for this process; ``good=None`` switches its status off.

    Local decisions (a city's own targets) change the colours without touching the registry.
    """
    declared = kpi(kpi_id)
    if good is None:
        _threshold_overrides[kpi_id] = None
        return
    if watch is None:
        watch = good
    if declared.direction == "neutral":
        raise ValueError(f"{kpi_id} is neutral: it has no better or worse direction to colour")
    if declared.direction == "higher_is_better" and watch > good:
        raise ValueError(f"{kpi_id}: higher is better, so watch ({watch}) must not exceed good ({good})")
    if declared.direction == "lower_is_better" and watch < good:
        raise ValueError(f"{kpi_id}: lower is better, so watch ({watch}) must not be below good ({good})")
    _threshold_overrides[kpi_id] = (float(good), float(watch))


def reset_thresholds(kpi_id: str | None = None) -> None:
    """Drop one override (or all) and return to the declared defaults."""
    if kpi_id is None:
        _threshold_overrides.clear()
    else:
        _threshold_overrides.pop(kpi_id, None)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def status_of(kpi_id: str, value: float | int | None, denominator_count: int | None) -> Status | None:
    """good / watch / bad by the KPI's thresholds; no_data when there is no value or fewer than 5 items.

    None for a KPI without thresholds (counts, medians). ``denominator_count`` None means the caller
    does not know it; the value alone then decides. DESIGN §4: grey when fewer than 5 items back a rate.
    """
    bounds = thresholds_of(kpi_id)
    if bounds is None:
        return None
    if _missing(value) or (denominator_count is not None and denominator_count < MIN_ITEMS_FOR_STATUS):
        return "no_data"
    assert value is not None
    good, watch = bounds
    if kpi(kpi_id).direction == "lower_is_better":
        if value <= good + _EPSILON:
            return "good"
        return "watch" if value <= watch + _EPSILON else "bad"
    if value >= good - _EPSILON:
        return "good"
    return "watch" if value >= watch - _EPSILON else "bad"


def statuses(results: dict[str, int | float | None]) -> dict[str, Status | None]:
    """status_of for every §4 KPI in one compute() result, each with its own denominator count."""
    out: dict[str, Status | None] = {}
    for kpi_id, declared in REGISTRY.items():
        denominator = results.get(declared.denominator) if declared.denominator else None
        count = None if denominator is None or _missing(denominator) else int(denominator)
        out[kpi_id] = status_of(kpi_id, results.get(kpi_id), count)
    return out
