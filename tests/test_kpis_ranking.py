"""Unit rankings: competition ranking with ties, direction, wards and communes, units with too little data apart."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ioc.db import Database
from kpis import compute_by_unit
from kpis.period import Period
from kpis.ranking import RANKING_COLUMNS, competition_ranks, rank_units
from tests.test_kpis import dossier, due, load, vn

PERIOD = Period(date(2026, 2, 2), date(2026, 2, 14))
HAI_VAN, LIEN_CHIEU, HOA_KHANH, THANH_KHE = "20194", "20197", "20200", "20209"  # phường
BA_NA, HOANG_SA = "20308", "20333"  # xã Bà Nà, đặc khu Hoàng Sa


def resolved(unit: str, on_time: int, late: int) -> list[dict[str, Any]]:
    """``on_time`` dossiers finished before their due date and ``late`` finished after it, all in PERIOD."""
    rows = []
    for number in range(on_time + late):
        finished = "2026-02-09" if number < on_time else "2026-02-11"
        rows.append(
            dossier(f"{unit}-{number}", unit, "resolved", vn("2026-02-02"), due_at=due("2026-02-10"), finished_at=vn(finished))
        )
    return rows


# By hand (on_time_rate = on time / resolved; late_rate = late / to_process, all resolved here):
#   Hải Vân    5/5  = 1.0   late 0/5            ward
#   Liên Chiểu 4/5  = 0.8   late 1/5  = 0.2     ward
#   Hòa Khánh  8/10 = 0.8   late 2/10 = 0.2     ward (ties Liên Chiểu, more dossiers)
#   Thanh Khê  4/4  = 1.0   only 4 resolved: not enough data, never ranked (let alone first)
#   Bà Nà      3/6  = 0.5   late 3/6  = 0.5     xã
#   Hoàng Sa   5/5  = 1.0   late 0/5            đặc khu (a commune for ranking)
# Every other unit has no dossier: value None, not ranked.
DOSSIERS = [
    *resolved(HAI_VAN, 5, 0),
    *resolved(LIEN_CHIEU, 4, 1),
    *resolved(HOA_KHANH, 8, 2),
    *resolved(THANH_KHE, 4, 0),
    *resolved(BA_NA, 3, 3),
    *resolved(HOANG_SA, 5, 0),
]


@pytest.fixture
def ranked_store(store: Database) -> Database:
    load(store, DOSSIERS)
    return store


def test_competition_ranks() -> None:
    assert competition_ranks([0.9, 0.8, 0.8, 0.7], descending=True) == [1, 2, 2, 4]
    assert competition_ranks([0.9, 0.9, 0.8, 0.7, 0.7], descending=True) == [1, 1, 3, 4, 4]
    assert competition_ranks([0.1, 0.3, 0.3, 0.0], descending=False) == [2, 3, 3, 1]
    assert competition_ranks([2 / 3, 4 / 6, 0.5], descending=True) == [1, 1, 3]
    assert competition_ranks([], descending=True) == []


def test_all_units_by_on_time_rate(ranked_store: Database) -> None:
    ranking = rank_units(ranked_store, PERIOD, "on_time_rate")
    assert list(ranking.ranked.columns) == list(RANKING_COLUMNS)
    table = [(row.unit_code, row.rank, row.value, row.denominator) for row in ranking.ranked.itertuples()]
    # Ties: Hoàng Sa and Hải Vân share 1 (same denominator: by name, "Hoàng Sa" sorts before "Hải Vân"
    # in code-point order); Hòa Khánh (10 resolved) is listed before Liên Chiểu (5) at 3; then 5.
    assert table == [
        (HOANG_SA, 1, 1.0, 5),
        (HAI_VAN, 1, 1.0, 5),
        (HOA_KHANH, 3, 0.8, 10),
        (LIEN_CHIEU, 3, 0.8, 5),
        (BA_NA, 5, 0.5, 6),
    ]
    statuses = dict(zip(ranking.ranked["unit_code"], ranking.ranked["status"], strict=True))
    assert statuses == {HOANG_SA: "good", HAI_VAN: "good", HOA_KHANH: "bad", LIEN_CHIEU: "bad", BA_NA: "bad"}
    assert set(ranking.ranked["kind"]) == {"phuong", "xa", "dac_khu"}


def test_not_enough_data_is_listed_apart_and_never_first(ranked_store: Database) -> None:
    ranking = rank_units(ranked_store, PERIOD, "on_time_rate")
    assert THANH_KHE not in set(ranking.ranked["unit_code"])  # 100 % on 4 dossiers
    thanh_khe = ranking.not_ranked[ranking.not_ranked["unit_code"] == THANH_KHE].iloc[0]
    assert (thanh_khe["value"], thanh_khe["denominator"], thanh_khe["rank"], thanh_khe["status"]) == (1.0, 4, None, "no_data")
    # 94 units: 5 ranked, Thanh Khê with too few, 88 with nothing at all (value None).
    assert len(ranking.ranked) + len(ranking.not_ranked) == 94
    assert ranking.not_ranked["value"].isna().sum() == 88
    assert set(ranking.not_ranked["rank"]) == {None}


def test_wards_and_communes_separately(ranked_store: Database) -> None:
    wards = rank_units(ranked_store, PERIOD, "on_time_rate", "wards").ranked
    assert [(row.unit_code, row.rank) for row in wards.itertuples()] == [(HAI_VAN, 1), (HOA_KHANH, 2), (LIEN_CHIEU, 2)]
    communes = rank_units(ranked_store, PERIOD, "on_time_rate", "communes")
    assert [(row.unit_code, row.rank) for row in communes.ranked.itertuples()] == [(HOANG_SA, 1), (BA_NA, 2)]
    assert set(communes.not_ranked["kind"]) <= {"xa", "dac_khu"}
    assert len(communes.ranked) + len(communes.not_ranked) == 71  # 70 xã + 1 đặc khu


def test_lower_is_better_ranks_ascending(ranked_store: Database) -> None:
    ranking = rank_units(ranked_store, PERIOD, "late_rate")
    table = [(row.unit_code, row.rank, row.value) for row in ranking.ranked.itertuples()]
    assert table == [
        (HOANG_SA, 1, 0.0),
        (HAI_VAN, 1, 0.0),
        (HOA_KHANH, 3, 0.2),
        (LIEN_CHIEU, 3, 0.2),
        (BA_NA, 5, 0.5),
    ]


def test_precomputed_frame_gives_the_same_ranking(ranked_store: Database) -> None:
    frame = compute_by_unit(ranked_store, PERIOD)
    again = rank_units(ranked_store, PERIOD, "on_time_rate", by_unit=frame)
    assert again.ranked.equals(rank_units(ranked_store, PERIOD, "on_time_rate").ranked)


def test_only_directional_figures_rank(ranked_store: Database) -> None:
    for kpi_id in ("received", "throughput_per_day"):
        with pytest.raises(ValueError):
            rank_units(ranked_store, PERIOD, kpi_id)
    with pytest.raises(ValueError):
        rank_units(ranked_store, PERIOD, "on_time_rate", "districts")  # type: ignore[arg-type]
