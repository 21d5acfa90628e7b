"""Decision 766 estimate: each indicator scored at, below and above its threshold, and per-unit values by hand."""

from __future__ import annotations

import pytest

from ioc.db import Database
from kpis.index766 import ESTIMATE_LABEL_VI, INDICATOR_IDS, INDICATORS, MAX_POINTS, index_766, index_766_by_unit, score, score_row
from tests.test_kpis import MAIN_DOSSIERS, MAIN_TICKETS, PERIOD, UNIT_A, UNIT_B, due, load, ticket, vn

# (indicator, value, expected points), written out by hand: max × min(1, value / full-score threshold).
SCORES = [
    # 2.1: 20 points, no threshold (proportional to 100 %).
    ("2.1", 1.0, 20.0),
    ("2.1", 0.95, 19.0),
    ("2.1", 0.0, 0.0),
    # 3.3: 4 points, full at 50 %.
    ("3.3", 0.50, 4.0),
    ("3.3", 0.25, 2.0),
    ("3.3", 0.80, 4.0),
    # 3.6: 6 points, proportional.
    ("3.6", 0.60, 3.6),
    ("3.6", 1.0, 6.0),
    # 4.2: 4.4 points, full at 80 %.
    ("4.2", 0.80, 4.4),
    ("4.2", 0.40, 2.2),
    ("4.2", 0.95, 4.4),
    # 5.2: 5 points, proportional.
    ("5.2", 0.80, 4.0),
    ("5.2", 1.0, 5.0),
    # 5.3: 2 points, proportional.
    ("5.3", 0.50, 1.0),
    # 5.4: 6 points, full at 90 %.
    ("5.4", 0.90, 6.0),
    ("5.4", 0.45, 3.0),
    ("5.4", 1.0, 6.0),
]


@pytest.mark.parametrize(("indicator", "value", "expected"), SCORES)
def test_score_at_below_and_above_threshold(indicator: str, value: float, expected: float) -> None:
    assert score(indicator, value) == pytest.approx(expected)


def test_no_value_no_score() -> None:
    for indicator in INDICATOR_IDS:
        assert score(indicator, None) is None


def test_weights_add_up() -> None:
    assert INDICATOR_IDS == ("2.1", "3.3", "3.6", "4.2", "5.2", "5.3", "5.4")
    assert round(MAX_POINTS, 9) == 47.4  # 20 + 4 + 6 + 4.4 + 5 + 2 + 6 of QĐ 766's 100
    # The satisfaction sub-weights are the notes' (5.2 = 5, 5.3 = 2, 5.4 = 6 of 18).
    points = {indicator.id: indicator.max_points for indicator in INDICATORS}
    assert (points["5.2"], points["5.3"], points["5.4"]) == (5.0, 2.0, 6.0)
    assert all(indicator.source for indicator in INDICATORS)


def test_missing_indicator_leaves_the_maximum() -> None:
    values = {"2.1": 0.5, "3.3": None, "3.6": None, "4.2": None, "5.2": None, "5.3": None, "5.4": 0.9}
    row = score_row(values)
    assert row["score"] == pytest.approx(10.0 + 6.0)
    assert row["max_score"] == pytest.approx(26.0)
    assert row["score_rate"] == pytest.approx(16 / 26)
    empty = score_row(dict.fromkeys(INDICATOR_IDS))
    assert (empty["score"], empty["max_score"], empty["score_rate"]) == (None, 0.0, None)


# T11: unit A, answered on time (4 Feb ≤ due 6 Feb) but rated unsatisfied: the "disliked" term of 5.3.
EXTRA_TICKET = ticket(
    "T11", UNIT_A, "answered", vn("2026-02-04"), due("2026-02-06"), answered_at=vn("2026-02-04", "15:00:00"), rating="unsatisfied"
)


@pytest.fixture
def main_store(store: Database) -> Database:
    load(store, MAIN_DOSSIERS, [*MAIN_TICKETS, EXTRA_TICKET])
    return store


def test_unit_a_by_hand(main_store: Database) -> None:
    result = index_766(main_store, PERIOD, UNIT_A)
    assert result["label"] == ESTIMATE_LABEL_VI == "Ước tính"
    # 2.1 and 5.4: to process 13 (tests/test_kpis.py), late by 766: D01, D08, D13, D14 → 9/13.
    # 3.3: online 5 of 11 received. 3.6: paid online D05, D08, D13 of fee-bearing D05, D06, D08, D12, D13 = 3/5.
    # 4.2: digitised with e-result D02, D05 of 5 resolved = 2/5.
    # Hotline, unit A: answered T01, T02 (late), T03, T11 → 4, on time 3; open T05 (overdue), T06 (within).
    # 5.2 = (3 + 1) / (4 + 2) = 4/6. 5.3 = (3 on time − 1 unsatisfied on time (T11; T02 is late already)) / (4 + 1) = 2/5.
    expected_values = {"2.1": 9 / 13, "3.3": 5 / 11, "3.6": 3 / 5, "4.2": 2 / 5, "5.2": 4 / 6, "5.3": 2 / 5, "5.4": 9 / 13}
    for indicator, value in expected_values.items():
        assert result[f"value_{indicator}"] == pytest.approx(value), indicator
    expected_scores = {
        "2.1": 20 * 9 / 13,  # 13.846
        "3.3": 4 * (5 / 11) / 0.5,  # below 50 %: 3.636
        "3.6": 6 * 0.6,  # 3.6
        "4.2": 4.4 * 0.4 / 0.8,  # below 80 %: 2.2
        "5.2": 5 * 4 / 6,  # 3.333
        "5.3": 2 * 0.4,  # 0.8
        "5.4": 6 * (9 / 13) / 0.9,  # below 90 %: 4.615
    }
    for indicator, points in expected_scores.items():
        assert result[f"score_{indicator}"] == pytest.approx(points), indicator
    assert result["score"] == pytest.approx(13.846154 + 3.636364 + 3.6 + 2.2 + 3.333333 + 0.8 + 4.615385, abs=1e-5)
    assert result["max_score"] == pytest.approx(47.4)


def test_unit_b_by_hand_without_fee_dossiers(main_store: Database) -> None:
    result = index_766(main_store, PERIOD, UNIT_B)
    # 2.1 = 3/3 → 20; 3.3 = 0/3 online → 0; 3.6: no fee-bearing dossier → left out; 4.2 = 0/1 → 0;
    # 5.2: T07 answered on time + T08 open within, of 2 → 1.0 → 5; 5.3: 1 on time, none disliked, none overdue → 2;
    # 5.4 = 1.0 (≥ 90 %) → 6. Score 33 out of 47.4 − 6 = 41.4.
    assert result["value_3.6"] is None and result["score_3.6"] is None
    assert (result["score_2.1"], result["score_3.3"], result["score_4.2"]) == (20.0, 0.0, 0.0)
    assert (result["score_5.2"], result["score_5.3"], result["score_5.4"]) == (5.0, 2.0, 6.0)
    assert result["score"] == pytest.approx(33.0)
    assert result["max_score"] == pytest.approx(41.4)


def test_by_unit_matches_one_unit(main_store: Database) -> None:
    frame = index_766_by_unit(main_store, PERIOD)
    assert len(frame) == 94
    for unit in (UNIT_A, UNIT_B):
        one = index_766(main_store, PERIOD, unit)
        for key, value in frame.loc[unit].items():
            if key in ("name", "kind"):
                continue
            assert value == pytest.approx(one[str(key)]) if value is not None else one[str(key)] is None, (unit, key)
    empty = frame.loc["21004"]
    assert empty["score"] is None and empty["max_score"] == 0.0


def test_city_estimate(main_store: Database) -> None:
    city = index_766(main_store, PERIOD)
    assert city["value_2.1"] == pytest.approx(12 / 16)  # tests/test_kpis.py EXPECTED_CITY
    assert city["value_3.6"] == pytest.approx(3 / 5)
