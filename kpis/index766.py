"""Estimate (ước tính) of the Decision 766/QĐ-TTg index from dossier and hotline data: 7 indicators, scored and summed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ioc.db import Database
from kpis.compute import compute, compute_by_unit
from kpis.period import Period
from kpis.sql import HOTLINE_AGGREGATES, hotline_params, sql_for_hotline_counts

ESTIMATE_LABEL_VI = "Ước tính"
ESTIMATE_NOTE_VI = (
    "Điểm ước tính theo QĐ 766/QĐ-TTg, chỉ gồm 7 chỉ số tính được từ dữ liệu hồ sơ và phản ánh kiến nghị "
    "của hệ thống; không phải điểm chính thức của Cổng Dịch vụ công quốc gia."
)
ESTIMATE_NOTE_EN = (
    "Estimate of the Decision 766/QĐ-TTg score, over only the 7 indicators computable from this system's "
    "dossier and feedback data; not the official score of the National Public Service Portal."
)


@dataclass(frozen=True)
class Indicator:
    """One QĐ 766 indicator: its value (a rate 0–1, from DESIGN §4 figures) earns up to ``max_points``.

    score = max_points × min(1, value / full_at): full marks at or above ``full_at``, proportional
    below it (domain-notes §2.1: "else rate × max / threshold"). ``full_at`` 1.0 means no threshold
    is published, so the score is simply value × max_points. A value of None (empty denominator)
    scores None, not 0: the indicator is left out of both the score and its maximum.
    """

    id: str
    title_vi: str
    title_en: str
    max_points: float
    full_at: float
    source: str


# Sources: domain-notes §2 (group weights: 20 tiến độ, 12 DVC trực tuyến, 10 thanh toán trực tuyến,
# 22 số hóa, 18 hài lòng; [N] and DVCQG code comments [S]) and §2.1 (formulas and thresholds, from
# the "Mô tả công thức tính chỉ số 766" document [S]). Points the notes do not give are assumptions,
# marked ASSUMPTION below, and chosen so each stays inside its group's published weight.
INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "2.1",
        "Tỷ lệ hồ sơ xử lý trước hạn, đúng hạn",
        "Dossiers processed early or on time",
        # ASSUMPTION: the whole 20-point progress group. Its other indicator, 2.2 (average time per
        # procedure), is shown only for one selected procedure (formula document, §2.1 source [S]),
        # so at unit level the group rests on 2.1. No threshold is published: proportional to 100 %.
        20.0,
        1.0,
        "domain-notes §1.4 (formula) and §2 (group weight 20) [S/N]; sub-weight = whole group (assumption)",
    ),
    Indicator(
        "3.3",
        "Tỷ lệ hồ sơ nộp trực tuyến",
        "Dossiers submitted online",
        # ASSUMPTION: 4 of the 12-point online-services group, split evenly over 3.1, 3.2 and 3.3.
        4.0,
        0.50,
        "domain-notes §2.1: full score at ≥ 50 %, else rate × max / 50 % [S]; 4 of 12 points (assumption)",
    ),
    Indicator(
        "3.6",
        "Tỷ lệ hồ sơ thanh toán trực tuyến",
        "Dossiers paid online",
        # ASSUMPTION: 6 of the 10-point payment group, full score at 100 % (proportional), as a
        # third-party reconciliation against the DVCQG charts scores it (3.5: 2 + 2, 3.6: 6; GitHub
        # file id 70097914984 [S]); domain-notes §2.1 gives no threshold for 3.6.
        6.0,
        1.0,
        "domain-notes §2.1 (formula) [S]; 6 of 10 points, no threshold (assumption, GitHub file id 70097914984 [S])",
    ),
    Indicator(
        "4.2",
        "Tỷ lệ hồ sơ thực hiện số hóa",
        "Dossiers digitised",
        # ASSUMPTION: 22-point digitisation group split evenly over its five indicators 4.1–4.5.
        4.4,
        0.80,
        "domain-notes §2.1: full score at ≥ 80 % [S]; 22 / 5 = 4.4 points (assumption)",
    ),
    Indicator(
        "5.2",
        "Tiến độ xử lý phản ánh, kiến nghị",
        "Feedback handled on time",
        5.0,
        1.0,
        "domain-notes §2.1: sub-weight 5 [S/N]; no threshold published, proportional (assumption)",
    ),
    Indicator(
        "5.3",
        "Hài lòng trong xử lý phản ánh, kiến nghị",
        "Satisfaction with feedback handling",
        2.0,
        1.0,
        "domain-notes §2.1: (PAKN − không hài lòng − quá hạn − khiếu nại lặp lại) / PAKN, sub-weight 2 [S]",
    ),
    Indicator(
        "5.4",
        "Hài lòng trong tiếp nhận, giải quyết TTHC",
        "Satisfaction with dossier handling",
        6.0,
        0.90,
        "domain-notes §2.1: 100 % − (tỷ lệ quá hạn + tỷ lệ có PAKN/không hài lòng), full at ≥ 90 %, 6/18 [S/N]",
    ),
)
INDICATOR_IDS: tuple[str, ...] = tuple(indicator.id for indicator in INDICATORS)
MAX_POINTS: float = sum(indicator.max_points for indicator in INDICATORS)
"""Points the seven indicators carry out of QĐ 766's 100 (20 + 4 + 6 + 4.4 + 5 + 2 + 6 = 47.4)."""

_BY_ID = {indicator.id: indicator for indicator in INDICATORS}


def score(indicator_id: str, value: float | None) -> float | None:
    """Points for one indicator: max_points × min(1, value / full_at); None for no value."""
    indicator = _BY_ID[indicator_id]
    if value is None:
        return None
    return indicator.max_points * min(1.0, max(0.0, value) / indicator.full_at)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def indicator_values(figures: Mapping[Any, Any], hotline_unsatisfied_on_time: int) -> dict[str, float | None]:
    """The seven indicator values (0–1 or None) from one scope's compute() figures.

    2.1 = progress_rate_766 (DESIGN §4, domain-notes §1.4: supplement pauses deducted, a second
        supplement is late, dossiers still open judged at the period end).
    3.3 = online_rate = received online / received. The notes' "× sync rate" is 1 here (these are
        the system's own dossiers) and the "online only if an e-result is issued when a paper result
        is required" rule is not applied (the store does not know which results must be on paper).
    3.6 = online_payment_rate = fee-bearing dossiers paid online / received dossiers of fee-bearing
        procedures.
    4.2 = digitization_rate = resolved with digitised inputs and an e-result / resolved.
    5.2 = (hotline answered on time + open within deadline) / (answered + open): the same rule as
        2.1 applied to feedback (domain-notes give deadlines, not a formula, for 5.2), so a ticket
        left unanswered past its deadline counts against the unit, not just a late answer.
    5.3 = (PAKN − disliked − overdue − repeated) / PAKN, with PAKN = answered in the period + open
        overdue at its end; disliked = answered on time and rated unsatisfied (a late one is already
        overdue, not subtracted twice); overdue = answered late + open overdue; repeated complaints
        are not tracked (0). Numerator = answered on time − unsatisfied among them.
    5.4 = 100 % − (overdue rate + rate of dossiers with a complaint or dislike). Overdue rate =
        1 − progress_rate_766 (the 766 on-time rule); complaints and ratings are not linked to
        dossiers in the store, so that term is 0 and 5.4 is an upper bound equal to the 2.1 rate.
    """
    answered = int(figures["hotline_answered"])
    open_overdue = int(figures["hotline_open_overdue"])
    on_time = int(figures["hotline_answered_on_time"])
    return {
        "2.1": _optional(figures["progress_rate_766"]),
        "3.3": _optional(figures["online_rate"]),
        "3.6": _optional(figures["online_payment_rate"]),
        "4.2": _optional(figures["digitization_rate"]),
        "5.2": _ratio(on_time + int(figures["hotline_open_within"]), answered + int(figures["hotline_open"])),
        "5.3": _ratio(on_time - hotline_unsatisfied_on_time, answered + open_overdue),
        "5.4": _optional(figures["progress_rate_766"]),
    }


def _optional(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def score_row(values: dict[str, float | None]) -> dict[str, Any]:
    """Per indicator ``value_<id>`` and ``score_<id>``, then ``score`` (sum of the scored), ``max_score``
    (points of the indicators that had a value) and ``score_rate`` = score / max_score.

    An indicator without data is left out of both sums, as the DVCQG reconciliation tools do
    ("không tự quy đổi điểm khi thiếu dữ liệu"), so a commune without fee-bearing dossiers is not
    marked down for 3.6; ``max_score`` shows what the estimate covers out of MAX_POINTS.
    """
    row: dict[str, Any] = {}
    total = 0.0
    covered = 0.0
    for indicator in INDICATORS:
        value = values[indicator.id]
        points = score(indicator.id, value)
        row[f"value_{indicator.id}"] = value
        row[f"score_{indicator.id}"] = points
        if points is not None:
            total += points
            covered += indicator.max_points
    row["score"] = total if covered else None
    row["max_score"] = covered
    row["score_rate"] = total / covered if covered else None
    return row


def _unsatisfied_on_time(db: Database, period: Period, unit_code: str | None, *, by_unit: bool) -> dict[str | None, int]:
    names = tuple(name for name, _ in HOTLINE_AGGREGATES)
    position = names.index("hotline_unsatisfied_on_time")
    if by_unit:
        rows = db.execute(sql_for_hotline_counts(by_unit=True), hotline_params(period))
        return {row[0]: int(row[1 + position] or 0) for row in rows}
    rows = db.execute(sql_for_hotline_counts(one_unit=unit_code is not None), hotline_params(period, unit_code))
    return {unit_code: int(rows[0][position] or 0)}


def index_766(db: Database, period: Period, unit_code: str | None = None) -> dict[str, Any]:
    """The estimate for one unit, or the city when ``unit_code`` is None (``score_row`` keys, plus ``label``)."""
    figures = compute(db, period, unit_code)
    unsatisfied = _unsatisfied_on_time(db, period, unit_code, by_unit=False)[unit_code]
    return {"label": ESTIMATE_LABEL_VI, **score_row(indicator_values(figures, unsatisfied))}


def index_766_by_unit(db: Database, period: Period) -> pd.DataFrame:
    """The estimate for every commune-level unit: index unit_code; columns name, kind, ``score_row`` keys.

    Ordered by unit code. Object columns, so a missing value or score is None.
    """
    frame = compute_by_unit(db, period)
    frame = frame[frame["kind"].isin(("phuong", "xa", "dac_khu"))].sort_index()
    unsatisfied = _unsatisfied_on_time(db, period, None, by_unit=True)
    records = []
    for unit_code, row in frame.iterrows():
        values = indicator_values(row.to_dict(), unsatisfied.get(str(unit_code), 0))
        records.append({"unit_code": unit_code, "name": row["full_name"], "kind": row["kind"], **score_row(values)})
    columns = ["unit_code", "name", "kind", *(key for key in score_row(dict.fromkeys(INDICATOR_IDS)))]
    data = {column: pd.Series([record[column] for record in records], dtype=object) for column in columns}
    return pd.DataFrame(data, columns=columns).set_index("unit_code")
