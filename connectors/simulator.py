"""A seeded simulator of Đà Nẵng's dossiers and hotline tickets: a connector like any other, live by default."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from connectors.base import DOSSIERS, HOTLINE, Batch, Target
from ioc.calendar import WorkingCalendar, calendar_from_store
from ioc.canonical import DUE_HOUR_LOCAL, HOTLINE_DUE_WORKING_DAYS
from ioc.timeutil import LOCAL_TZ, local_date, now_utc

if TYPE_CHECKING:
    from ioc.db import Database

SOURCE_NAME = "simulator"
BATCH_ROWS = 20_000
# Every event of a dossier or ticket happens within this many days of its receipt, so after a restart
# regenerating this many days before the cursor finds every item that can still change.
LIFECYCLE_CAP_DAYS = 150
HOTLINE_LIFECYCLE_CAP_DAYS = 45

# Vietnam has had no daylight saving time since 1975, so one offset is exact for every simulated day.
LOCAL_OFFSET_SECONDS = int(LOCAL_TZ.utcoffset(datetime(2025, 1, 1)).total_seconds())  # type: ignore[union-attr]
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
DAY = 86_400
HOUR = 3_600
MINUTE = 60
OFFICE_OPEN = 7 * HOUR + 30 * MINUTE
OFFICE_CLOSE = 17 * HOUR
LUNCH_START = 11 * HOUR + 30 * MINUTE
LUNCH_END = 13 * HOUR + 30 * MINUTE
HOTLINE_OPERATOR_CLOSE = 17 * HOUR + 30 * MINUTE  # 1022 operators answer 7:30-17:30 every day
DUE_SECONDS = DUE_HOUR_LOCAL * HOUR
ABSENT = np.iinfo(np.int64).max  # an event that never happens

# Average dossiers per working day by kind of unit: wards are busier than rural communes; Hoàng Sa is islands.
DOSSIERS_PER_DAY = {"phuong": 34.0, "xa": 13.0, "dac_khu": 0.1}
# Online submissions on weekends and holidays, relative to a working day's online volume.
NON_WORKING_DAY_ONLINE_FACTOR = 0.06
WEEKDAY_FACTOR = (1.15, 1.0, 1.0, 0.98, 0.92, 0.6, 0.6)  # Monday is the busiest counter day
HOTLINE_PER_DAY = {"working": 150.0, "day_off": 95.0}
BAD_UNIT_COUNT = 6

# Share of all dossiers by sector (chứng thực and hộ tịch dominate the commune counters); other sectors 1 % each.
SECTOR_SHARES = {
    "Chứng thực": 0.40,
    "Hộ tịch": 0.28,
    "Đất đai": 0.10,
    "Thành lập và hoạt động của hộ kinh doanh": 0.06,
    "Bảo trợ xã hội": 0.05,
    "Xây dựng": 0.04,
    "Người có công": 0.02,
}
OTHER_SECTOR_SHARE = 0.01
# Within a sector, how much more often a procedure whose name holds the phrase is requested.
NAME_BOOSTS = (
    ("bản sao từ bản chính", 8.0),
    ("chữ ký", 2.0),
    ("sửa đổi, bổ sung, hủy bỏ", 0.3),
    ("di sản", 0.5),
    ("đã được chứng thực", 0.3),
    ("khai sinh", 3.0),
    ("nhận cha, mẹ, con", 0.15),
    ("trích lục", 3.0),
    ("tình trạng hôn nhân", 2.5),
    ("kết hôn", 1.5),
    ("khai tử", 1.5),
    ("đăng ký lại", 0.1),
    ("biến động", 3.0),
    ("lần đầu", 1.5),
    ("thành lập hộ kinh doanh", 3.0),
    ("thay đổi nội dung", 2.0),
    ("trợ cấp xã hội hàng tháng", 3.0),
    ("nhà ở riêng lẻ", 3.0),
)
PROCEDURE_ONLINE_FACTOR = {"full": 1.08, "partial": 0.95, "none": 0.0}

# Status of each lifecycle slot; slots 1 and 9 vary per dossier and are stored separately.
SLOT_STATUS = (
    "registered",  # 0 online submission waiting for the one-stop desk
    "accepted",  # 1 or not_accepted
    "processing",  # 2
    "supplement_requested",  # 3
    "processing",  # 4 supplement received
    "supplement_requested",  # 5 second request
    "processing",  # 6
    "financial_obligation",  # 7 land dossiers waiting for taxes and fees
    "processing",  # 8
    "resolved",  # 9 or withdrawn / stopped
    "returned",  # 10
)
SLOT_COUNT = len(SLOT_STATUS)
END_SLOT = 9
RETURN_SLOT = 10
STATUS_NAMES = (
    "registered",
    "accepted",
    "not_accepted",
    "processing",
    "supplement_requested",
    "financial_obligation",
    "withdrawn",
    "stopped",
    "resolved",
    "returned",
)
STATUS_INDEX = {name: index for index, name in enumerate(STATUS_NAMES)}
SLOT_STATUS_INDEX = np.array([STATUS_INDEX[name] for name in SLOT_STATUS], dtype=np.int8)

HOTLINE_CHANNEL_SHARES = {"phone": 0.35, "app": 0.25, "zalo": 0.15, "web": 0.12, "facebook": 0.07, "email": 0.03, "other": 0.03}
HOTLINE_URGENCY_SHARES = {"urgent": 0.05, "quick": 0.35, "normal": 0.60}
# Fields of the Góp ý Đà Nẵng portal (domain-notes §3.1) with generic titles: never names, phones or addresses.
HOTLINE_FIELDS: dict[str, tuple[float, tuple[str, ...]]] = {
    "Hạ tầng đô thị": (
        0.28,
        (
            "Đèn chiếu sáng công cộng không hoạt động",
            "Mặt đường hư hỏng, xuất hiện ổ gà",
            "Nắp hố ga bị vỡ",
            "Cống thoát nước bị tắc gây ngập",
            "Vỉa hè xuống cấp",
            "Cây xanh gãy đổ cần xử lý",
        ),
    ),
    "Môi trường": (
        0.22,
        (
            "Rác thải tập kết không đúng nơi quy định",
            "Mùi hôi từ cơ sở sản xuất",
            "Nước thải chảy ra đường",
            "Đốt rác gây khói",
            "Chưa thu gom rác đúng lịch",
        ),
    ),
    "An toàn giao thông": (
        0.14,
        (
            "Đèn tín hiệu giao thông bị hỏng",
            "Biển báo giao thông bị che khuất",
            "Phương tiện đỗ sai quy định gây ùn tắc",
            "Đề nghị lắp gờ giảm tốc",
        ),
    ),
    "An ninh trật tự": (
        0.12,
        (
            "Tiếng ồn karaoke sau 22 giờ",
            "Lấn chiếm vỉa hè để kinh doanh",
            "Tụ tập gây mất trật tự",
            "Xây dựng không phép",
        ),
    ),
    "Lĩnh vực khác": (0.10, ("Góp ý về dịch vụ công", "Đề nghị hướng dẫn thủ tục", "Phản ánh chung")),
    "Công vụ-Công chức": (0.04, ("Phản ánh thái độ tiếp dân", "Hồ sơ giải quyết chậm so với giấy hẹn")),
    "Hàng hoá - Dịch vụ": (0.03, ("Niêm yết giá không rõ ràng", "Chất lượng dịch vụ internet kém")),
    "An toàn thực phẩm": (0.03, ("Cơ sở kinh doanh thực phẩm không đảm bảo vệ sinh", "Thực phẩm không rõ nguồn gốc")),
    "Thành phố thông minh": (0.02, ("Lỗi ứng dụng dịch vụ công trực tuyến", "Wifi công cộng không truy cập được")),
    "Bảo vệ trẻ em": (0.01, ("Đề nghị hỗ trợ trẻ em có hoàn cảnh khó khăn",)),
    "Người tiêu dùng": (0.01, ("Khiếu nại về bảo hành sản phẩm",)),
}
HOTLINE_SLOT_STATUS = ("new", "processing", "forwarded", "answered", "answered")  # slot 3 may be rejected; 4 = rated
HOTLINE_SLOT_COUNT = len(HOTLINE_SLOT_STATUS)
HOTLINE_RATINGS = ("satisfied", "acceptable", "unsatisfied")
HOTLINE_TITLE_LIST: list[tuple[str, str]] = [(field, title) for field, (_, titles) in HOTLINE_FIELDS.items() for title in titles]

# Rough boxes inside Đà Nẵng: the urban wards near the old city centre, rural communes over the whole province.
WARD_BOX = ((15.95, 16.12), (108.12, 108.28))
COMMUNE_BOX = ((15.35, 16.15), (107.55, 108.65))
HOANG_SA = (16.53, 111.62)


def _day_start(ordinals: np.ndarray) -> np.ndarray:
    """Epoch seconds of local midnight of each date ordinal."""
    return (ordinals - EPOCH_ORDINAL) * DAY - LOCAL_OFFSET_SECONDS


def _midnight(day: date) -> int:
    """Epoch seconds of local midnight of ``day``."""
    return (day.toordinal() - EPOCH_ORDINAL) * DAY - LOCAL_OFFSET_SECONDS


def _to_epoch(moment: datetime) -> int:
    return int(moment.timestamp() // 1)


class _WorkingDays:
    """Vectorised working-day arithmetic over the calendar's range, with the same rules as WorkingCalendar."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        ordinals = []
        day = calendar.first_day
        while day <= calendar.last_day:
            if calendar.is_working_day(day):
                ordinals.append(day.toordinal())
            day += timedelta(days=1)
        self.ordinals = np.array(ordinals, dtype=np.int64)

    def is_working(self, ordinals: np.ndarray) -> np.ndarray:
        index = np.searchsorted(self.ordinals, ordinals, side="left")
        index = np.minimum(index, len(self.ordinals) - 1)
        return self.ordinals[index] == ordinals

    def add(self, ordinals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Like WorkingCalendar.add_working_days: ``counts`` working days after, the first day not counted."""
        after = np.searchsorted(self.ordinals, ordinals, side="right") + counts - 1
        on_or_after = np.searchsorted(self.ordinals, ordinals, side="left")
        return self.ordinals[np.where(counts <= 0, on_or_after, after)]

    def next_office_instant(self, moments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The earliest instant at or after each moment that falls in office hours of a working day, and whether it moved."""
        local = moments + LOCAL_OFFSET_SECONDS
        ordinals = local // DAY + EPOCH_ORDINAL
        seconds = local % DAY
        working = self.is_working(ordinals)
        inside = working & (seconds >= OFFICE_OPEN) & (seconds < OFFICE_CLOSE)
        before_open = working & (seconds < OFFICE_OPEN)
        next_day = self.add(ordinals, np.ones_like(ordinals))
        opening = np.where(before_open, _day_start(ordinals), _day_start(next_day)) + OFFICE_OPEN
        return np.where(inside, moments, opening), ~inside


@dataclass
class _UnitProfiles:
    """Per-unit behaviour drawn once from the seed: volume, online habits, and whether the unit runs late."""

    codes: np.ndarray  # unit_code strings
    kinds: np.ndarray
    daily_dossiers: np.ndarray
    online_share: np.ndarray
    online_payment_share: np.ndarray
    digitized_share: np.ndarray
    e_result_share: np.ndarray
    late_share: np.ndarray
    supplement_share: np.ndarray
    is_bad: np.ndarray
    lat: np.ndarray
    lon: np.ndarray


@dataclass
class _DossierDay:
    """Every dossier received on one local day, with its whole lifecycle (slot times in epoch seconds)."""

    ids: np.ndarray
    unit: np.ndarray
    procedure: np.ndarray
    channel: np.ndarray  # 0 online, 1 in person, 2 postal
    received: np.ndarray
    due: np.ndarray
    times: np.ndarray  # (n, SLOT_COUNT)
    accept_status: np.ndarray
    end_status: np.ndarray
    extended: np.ndarray
    paid_online: np.ndarray
    digitized: np.ndarray
    e_result: np.ndarray
    proactive: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class _HotlineDay:
    """Every hotline ticket received on one local day, with its whole lifecycle."""

    ids: np.ndarray
    unit: np.ndarray
    channel: np.ndarray
    title: np.ndarray  # index into HOTLINE_TITLE_LIST
    urgency: np.ndarray
    received: np.ndarray
    due: np.ndarray
    times: np.ndarray  # (n, HOTLINE_SLOT_COUNT)
    rejected: np.ndarray
    published: np.ndarray
    rating: np.ndarray  # index into HOTLINE_RATINGS, -1 for none
    lat: np.ndarray
    lon: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


# A day of dossiers or of hotline tickets: the two share how their state at an instant is read.
_DayItems = TypeVar("_DayItems", _DossierDay, _HotlineDay)


@dataclass
class _Progress:
    """Where the items a run emits from one day stand at its ``now``: their slot times and the slots reached."""

    selected: np.ndarray  # mask over the day's items
    times: np.ndarray  # slot times of the selected items
    reached: np.ndarray  # whether each slot has happened by now
    last_slot: np.ndarray  # the highest slot reached: the item has its status and its updated_at

    def time_if_reached(self, slot: int) -> np.ndarray:
        """The time of ``slot`` where it has happened by now, ABSENT elsewhere."""
        return np.where(self.reached[:, slot], self.times[:, slot], ABSENT)

    @property
    def updated_at(self) -> np.ndarray:
        """The time of each item's latest event by now."""
        return self.times[np.arange(len(self.times)), self.last_slot]


def procedure_weights(procedures: pd.DataFrame) -> np.ndarray:
    """How often each procedure is requested: sector shares split by how common the procedure's name says it is."""
    names = procedures["name"].astype(str).str.lower().tolist()
    sectors = procedures["sector"].astype(str).tolist()
    boosts = np.ones(len(names))
    for index, name in enumerate(names):
        for phrase, boost in NAME_BOOSTS:
            if phrase in name:
                boosts[index] *= boost
    weights = np.zeros(len(names))
    for sector in set(sectors):
        members = np.array([s == sector for s in sectors])
        share = SECTOR_SHARES.get(sector, OTHER_SECTOR_SHARE)
        weights[members] = share * boosts[members] / boosts[members].sum()
    return weights / weights.sum()


def other_sources_in(db: Database) -> str | None:
    """The rows ``db`` holds from sources other than the simulator ("import:hotline: 2 hotline tickets; …"), or None.

    The simulator makes up dossiers and tickets for the real communes; beside real rows they would count in
    the same figures, so the scheduler and the CLI refuse to start it on such a store.
    """
    counts = db.execute(
        """SELECT source, count(*), 'dossier' FROM dossiers WHERE source <> $name GROUP BY source
           UNION ALL
           SELECT source, count(*), 'hotline ticket' FROM hotline_tickets WHERE source <> $name GROUP BY source
           ORDER BY 2 DESC, 1, 3""",
        {"name": SOURCE_NAME},
    )
    if not counts:
        return None
    shown = "; ".join(f"{source}: {count:,} {kind}{'s' if count != 1 else ''}" for source, count, kind in counts[:3])
    return shown + (f"; and {len(counts) - 3} more" if len(counts) > 3 else "")


class Simulator:
    """Simulated one-stop dossiers and hotline tickets for every unit, as a connector.

    Each day's items and their whole lifecycle are drawn at once from an RNG seeded by (seed, day), so
    the state of every item at any instant is a pure function of the seed: a run emits exactly what
    happened between its cursor (the simulated time reached) and ``now``.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        units: pd.DataFrame,
        procedures: pd.DataFrame,
        calendar: WorkingCalendar,
        seed: int = 42,
        backfill_days: int = 120,
        now: Callable[[], datetime] = now_utc,
        interval_seconds: int = 5,
        history_start: date | None = None,
    ) -> None:
        if procedures.empty:
            raise ValueError("the simulator needs at least one procedure (data/sample/procedures.csv)")
        if units.empty:
            raise ValueError("the simulator needs the units of the city")
        self.seed = seed
        self.backfill_days = backfill_days
        self.now = now
        self.interval_seconds = interval_seconds
        self.calendar = calendar
        self.history_start = history_start
        self._working = _WorkingDays(calendar)
        self._procedures = procedures.sort_values("procedure_code").reset_index(drop=True)
        self._procedure_codes = self._procedures["procedure_code"].astype(str).to_numpy()
        self._procedure_sectors = self._procedures["sector"].astype(str).to_numpy()
        self._legal_days = self._procedures["legal_days"].astype(np.int64).to_numpy()
        self._has_fee = self._procedures["has_fee"].astype(bool).to_numpy()
        online = self._procedures["online"].astype(str).to_numpy()
        self._online_factor = np.array([PROCEDURE_ONLINE_FACTOR.get(kind, 0.0) for kind in online])
        self._weights = procedure_weights(self._procedures)
        online_capable = self._weights * (self._online_factor > 0)
        # Online-only days (weekends, holidays) draw from the procedures that can be done online.
        self._online_weights = online_capable / online_capable.sum() if online_capable.sum() > 0 else self._weights
        # The unit's online share is a target over all its dossiers, so procedures that can go online carry more.
        self._online_boost = 1.0 / max(online_capable.sum(), 0.05)
        self._is_land = self._procedures["sector"].astype(str).str.contains("Đất đai").to_numpy()
        self._is_civil_status = self._procedures["sector"].astype(str).str.contains("Hộ tịch").to_numpy()
        self._units = self._unit_profiles(units.sort_values("unit_code").reset_index(drop=True))
        self._dossier_days: dict[date, _DossierDay] = {}
        self._hotline_days: dict[date, _HotlineDay] = {}

    @classmethod
    def from_store(
        cls,
        db: Database,
        seed: int = 42,
        backfill_days: int = 120,
        now: Callable[[], datetime] = now_utc,
        interval_seconds: int = 5,
    ) -> Simulator:
        """A simulator over the store's units, procedures and calendar, continuing the history already stored."""
        units = db.query_df("SELECT unit_code, kind FROM units ORDER BY unit_code")
        procedures = db.query_df(
            "SELECT procedure_code, name, sector, legal_days, online, has_fee FROM procedures ORDER BY procedure_code"
        )
        first_received = db.scalar(
            """SELECT least((SELECT min(received_at) FROM dossiers WHERE source = ?),
                            (SELECT min(received_at) FROM hotline_tickets WHERE source = ?))""",
            [SOURCE_NAME, SOURCE_NAME],
        )
        history_start = local_date(first_received) if first_received is not None else None
        return cls(
            units,
            procedures,
            calendar_from_store(db),
            seed=seed,
            backfill_days=backfill_days,
            now=now,
            interval_seconds=interval_seconds,
            history_start=history_start,
        )

    # -- the connector contract -------------------------------------------------------------------

    def batches(self, cursor: str | None) -> Iterator[Batch]:
        """Everything that happened after ``cursor`` (everything since the backfill start when None) up to now."""
        now = self.now()
        now_seconds = _to_epoch(now)
        today = local_date(now)
        if cursor is None:
            self.history_start = today - timedelta(days=self.backfill_days)
            since = None
            first_day = self.history_start
        else:
            since = _to_epoch(datetime.fromisoformat(cursor))
            if since >= now_seconds:
                return
            cursor_day = local_date(datetime.fromtimestamp(since, UTC))
            if self.history_start is None:
                self.history_start = cursor_day - timedelta(days=self.backfill_days)
            first_day = max(self.history_start, cursor_day - timedelta(days=LIFECYCLE_CAP_DAYS))
        self._forget_before(today - timedelta(days=LIFECYCLE_CAP_DAYS))
        chunks = self._chunks(first_day, today, since, now_seconds)
        yield from _with_cursor_on_last(chunks, now.astimezone(UTC).isoformat())

    def _chunks(self, first_day: date, last_day: date, since: int | None, now: int) -> Iterator[tuple[Target, list[dict]]]:
        hotline_first = first_day if since is None else max(first_day, last_day - timedelta(days=HOTLINE_LIFECYCLE_CAP_DAYS))
        for target, make_rows, first in (
            (DOSSIERS, self._dossier_rows_of_day, first_day),
            (HOTLINE, self._hotline_rows_of_day, hotline_first),
        ):
            pending: list[dict] = []
            day = first
            while day <= last_day:
                pending.extend(make_rows(day, since, now))
                if len(pending) >= BATCH_ROWS:
                    yield target, pending
                    pending = []
                day += timedelta(days=1)
            if pending:
                yield target, pending

    def _forget_before(self, oldest: date) -> None:
        # Items received before the lifecycle cap can no longer change; dropping them keeps memory flat.
        for cache in (self._dossier_days, self._hotline_days):
            for day in [day for day in cache if day < oldest]:
                del cache[day]

    # -- units and days -----------------------------------------------------------------------------

    def _unit_profiles(self, units: pd.DataFrame) -> _UnitProfiles:
        rng = np.random.default_rng([self.seed, 0])
        count = len(units)
        kinds = units["kind"].astype(str).to_numpy()
        base = np.array([DOSSIERS_PER_DAY.get(kind, 0.0) for kind in kinds])
        daily = base * rng.lognormal(0.0, 0.35, count)
        eligible = np.flatnonzero(np.isin(kinds, ("phuong", "xa")))
        is_bad = np.zeros(count, dtype=bool)
        is_bad[rng.choice(eligible, size=min(BAD_UNIT_COUNT, len(eligible)), replace=False)] = True
        late_share = np.where(is_bad, rng.uniform(0.15, 0.28, count), rng.uniform(0.002, 0.015, count))
        supplement_share = np.where(is_bad, rng.uniform(0.10, 0.15, count), rng.uniform(0.04, 0.08, count))
        is_ward = kinds == "phuong"
        lat = np.where(
            is_ward,
            rng.uniform(*WARD_BOX[0], count),
            np.where(kinds == "dac_khu", HOANG_SA[0], rng.uniform(*COMMUNE_BOX[0], count)),
        )
        lon = np.where(
            is_ward,
            rng.uniform(*WARD_BOX[1], count),
            np.where(kinds == "dac_khu", HOANG_SA[1], rng.uniform(*COMMUNE_BOX[1], count)),
        )
        return _UnitProfiles(
            codes=units["unit_code"].astype(str).to_numpy(),
            kinds=kinds,
            daily_dossiers=daily,
            online_share=np.where(is_ward, rng.uniform(0.66, 0.82, count), rng.uniform(0.58, 0.76, count)),
            online_payment_share=rng.uniform(0.70, 0.92, count),
            digitized_share=rng.uniform(0.80, 0.98, count),
            e_result_share=rng.uniform(0.75, 0.97, count),
            late_share=late_share,
            supplement_share=supplement_share,
            is_bad=is_bad,
            lat=lat,
            lon=lon,
        )

    @property
    def bad_unit_codes(self) -> list[str]:
        """The units this seed made clearly slower than the rest (so rankings have something to show)."""
        return sorted(self._units.codes[self._units.is_bad].tolist())

    def _dossier_day(self, day: date) -> _DossierDay:
        cached = self._dossier_days.get(day)
        if cached is None:
            cached = self._dossier_days[day] = self._generate_dossier_day(day)
        return cached

    def _hotline_day(self, day: date) -> _HotlineDay:
        cached = self._hotline_days.get(day)
        if cached is None:
            cached = self._hotline_days[day] = self._generate_hotline_day(day)
        return cached

    def _generate_dossier_day(self, day: date) -> _DossierDay:
        rng = np.random.default_rng([self.seed, 1, day.toordinal()])
        units = self._units
        working = self.calendar.is_working_day(day)
        weekday_factor = WEEKDAY_FACTOR[day.weekday()]
        if working:
            counts = rng.poisson(units.daily_dossiers * weekday_factor)
        else:
            counts = rng.poisson(units.daily_dossiers * units.online_share * NON_WORKING_DAY_ONLINE_FACTOR)
        unit = np.repeat(np.arange(len(counts)), counts)
        n = len(unit)
        procedure = rng.choice(len(self._weights), size=n, p=self._weights if working else self._online_weights)
        if working:
            p_online = np.clip(units.online_share[unit] * self._online_boost * self._online_factor[procedure], 0.0, 0.97)
            online = rng.random(n) < p_online
            postal = ~online & (rng.random(n) < 0.02)
        else:
            online = np.ones(n, dtype=bool)
            postal = np.zeros(n, dtype=bool)
        channel = np.where(online, 0, np.where(postal, 2, 1)).astype(np.int8)
        received = _midnight(day) + self._arrival_seconds(rng, online, working)
        order = np.lexsort((received, unit))
        unit, procedure, channel, online, received = unit[order], procedure[order], channel[order], online[order], received[order]
        sequence = np.arange(n) - np.searchsorted(unit, unit, side="left") + 1
        stamp = day.strftime("%y%m%d")
        ids = np.array([f"H48.{units.codes[u]}-{stamp}-{s:04d}" for u, s in zip(unit, sequence, strict=True)], dtype=object)
        return self._lifecycles(rng, day, ids, unit, procedure, channel, online, received)

    def _arrival_seconds(self, rng: np.random.Generator, online: np.ndarray, working: bool) -> np.ndarray:
        """Seconds after local midnight: counters open 7:30-11:30 and 13:30-17:00; online also evenings."""
        n = len(online)
        if not working:
            return rng.integers(7 * HOUR, 22 * HOUR + 30 * MINUTE, n)
        morning = rng.random(n) < 0.62
        counter = np.where(morning, rng.integers(OFFICE_OPEN, LUNCH_START, n), rng.integers(LUNCH_END, OFFICE_CLOSE, n))
        period = rng.random(n)
        web = np.where(
            period < 0.72,
            rng.integers(OFFICE_OPEN, OFFICE_CLOSE, n),
            np.where(
                period < 0.95, rng.integers(OFFICE_CLOSE, 22 * HOUR + 30 * MINUTE, n), rng.integers(6 * HOUR, OFFICE_OPEN, n)
            ),
        )
        return np.where(online, web, counter).astype(np.int64)

    def _office_time(self, rng: np.random.Generator, ordinals: np.ndarray) -> np.ndarray:
        """A random instant within office hours of each local day ordinal."""
        return _day_start(ordinals) + OFFICE_OPEN + rng.integers(0, OFFICE_CLOSE - OFFICE_OPEN, len(ordinals))

    def _lifecycles(
        self,
        rng: np.random.Generator,
        day: date,
        ids: np.ndarray,
        unit: np.ndarray,
        procedure: np.ndarray,
        channel: np.ndarray,
        online: np.ndarray,
        received: np.ndarray,
    ) -> _DossierDay:
        """Draw each dossier's whole history at once: acceptance, processing, supplements, the end and the return."""
        units = self._units
        n = len(ids)
        work = self._working
        times = np.full((n, SLOT_COUNT), ABSENT, dtype=np.int64)
        received_ordinal = np.full(n, day.toordinal(), dtype=np.int64)
        legal_days = self._legal_days[procedure]
        due = _day_start(work.add(received_ordinal, legal_days)) + DUE_SECONDS

        # Online submissions wait for the desk; counter dossiers are accepted as they are handed in.
        times[:, 0] = np.where(online, received, ABSENT)
        desk, moved = work.next_office_instant(received + rng.exponential(40 * MINUTE, n).astype(np.int64))
        accepted = np.where(online, desk + moved * rng.integers(0, 90 * MINUTE, n), received)
        times[:, 1] = accepted
        not_accepted = rng.random(n) < np.where(online, 0.03, 0.003)
        accept_status = np.where(not_accepted, STATUS_INDEX["not_accepted"], STATUS_INDEX["accepted"]).astype(np.int8)
        processing = accepted + rng.integers(5 * MINUTE, 2 * HOUR, n)
        times[:, 2] = np.where(not_accepted, ABSENT, processing)

        # Planned finish: most on or before the due day, a unit's late share after it with a long tail.
        late = rng.random(n) < units.late_share[unit]
        on_time_offset = np.rint(legal_days * rng.beta(1.6, 1.4, n)).astype(np.int64)
        late_offset = legal_days + np.minimum(rng.geometric(np.where(units.is_bad[unit], 0.18, 0.35)), 25)
        finish_day = work.add(received_ordinal, np.where(late, late_offset, on_time_offset))
        finish = np.maximum(self._office_time(rng, finish_day), processing + rng.integers(10 * MINUTE, 90 * MINUTE, n))

        # Supplements pause the clock while the citizen completes the file; some never come back.
        # Same-day procedures (certified copies) almost never need one; long land and building files often do.
        supplement_weight = np.minimum(1.0, np.maximum(legal_days, 0.3) / 10.0)
        supplement = ~not_accepted & (rng.random(n) < units.supplement_share[unit] * 2.0 * supplement_weight)
        first_request = processing + (rng.uniform(0.05, 0.4, n) * np.maximum(finish - processing, HOUR)).astype(np.int64)
        first_pause = np.clip(rng.exponential(2 * DAY, n), 4 * HOUR, 20 * DAY).astype(np.int64)
        first_back, _ = work.next_office_instant(first_request + first_pause)
        abandoned = supplement & (rng.random(n) < 0.15)
        second = supplement & ~abandoned & (rng.random(n) < 0.15)
        second_request, _ = work.next_office_instant(first_back + rng.integers(2 * HOUR, 3 * DAY, n))
        second_pause = np.clip(rng.exponential(2 * DAY, n), 4 * HOUR, 15 * DAY).astype(np.int64)
        second_back, _ = work.next_office_instant(second_request + second_pause)
        times[:, 3] = np.where(supplement, first_request, ABSENT)
        times[:, 4] = np.where(supplement & ~abandoned, first_back, ABSENT)
        times[:, 5] = np.where(second, second_request, ABSENT)
        times[:, 6] = np.where(second, second_back, ABSENT)
        resumed = np.where(second, second_back, np.where(supplement, first_back, processing))
        finish = np.where(
            supplement, np.maximum(finish, work.next_office_instant(resumed + rng.integers(HOUR, 6 * HOUR, n))[0]), finish
        )

        # Land dossiers wait for the citizen to pay taxes and fees before the certificate is issued.
        obligation = ~not_accepted & ~abandoned & self._is_land[procedure] & self._has_fee[procedure] & (rng.random(n) < 0.5)
        obligation_at = resumed + (0.6 * np.maximum(finish - resumed, HOUR)).astype(np.int64)
        paid_at, _ = work.next_office_instant(obligation_at + rng.integers(2 * HOUR, 2 * DAY, n))
        times[:, 7] = np.where(obligation, obligation_at, ABSENT)
        times[:, 8] = np.where(obligation, paid_at, ABSENT)
        finish = np.where(
            obligation, np.maximum(finish, work.next_office_instant(paid_at + rng.integers(HOUR, 6 * HOUR, n))[0]), finish
        )

        # The end: withdrawn (often after an unanswered supplement request), stopped, or resolved.
        withdrawn = abandoned | (~not_accepted & ~supplement & (rng.random(n) < 0.008))
        stopped = ~not_accepted & ~supplement & ~withdrawn & (rng.random(n) < 0.004)
        midway, _ = work.next_office_instant(processing + (rng.uniform(0.2, 0.9, n) * (finish - processing)).astype(np.int64))
        gave_up, _ = work.next_office_instant(first_request + rng.integers(2 * DAY, 15 * DAY, n))
        end = np.where(abandoned, gave_up, np.where(withdrawn | stopped, midway, finish))
        ended_early = withdrawn | stopped
        times[:, 7] = np.where(ended_early, ABSENT, times[:, 7])
        times[:, 8] = np.where(ended_early, ABSENT, times[:, 8])
        times[:, END_SLOT] = np.where(not_accepted, ABSENT, end)
        end_status = np.select(
            [withdrawn, stopped], [STATUS_INDEX["withdrawn"], STATUS_INDEX["stopped"]], STATUS_INDEX["resolved"]
        ).astype(np.int8)

        # Results are handed back (returned) after processing ends: minutes for e-results, days at the counter.
        resolved = ~not_accepted & ~ended_early
        e_result = resolved & (rng.random(n) < units.e_result_share[unit])
        collected = resolved & (rng.random(n) < 0.9)
        counter_return, _ = work.next_office_instant(
            end + np.clip(rng.exponential(1.5 * DAY, n), HOUR, 20 * DAY).astype(np.int64)
        )
        returned_at = np.where(e_result & online, end + rng.integers(MINUTE, 4 * HOUR, n), counter_return)
        times[:, RETURN_SLOT] = np.where(collected, returned_at, ABSENT)

        # No event may come after the cap: a restart regenerates only that many days before its cursor.
        cap = received + LIFECYCLE_CAP_DAYS * DAY - SLOT_COUNT
        times = np.where(times == ABSENT, ABSENT, np.minimum(times, cap[:, None] + np.arange(SLOT_COUNT)))

        fee = self._has_fee[procedure]
        return _DossierDay(
            ids=ids,
            unit=unit,
            procedure=procedure,
            channel=channel,
            received=received,
            due=due,
            times=times,
            accept_status=accept_status,
            end_status=end_status,
            extended=resolved & late & (rng.random(n) < 0.6),
            paid_online=fee & (rng.random(n) < np.where(online, units.online_payment_share[unit], 0.08)),
            digitized=rng.random(n) < units.digitized_share[unit],
            e_result=e_result,
            proactive=self._is_civil_status[procedure] & (rng.random(n) < 0.01),
        )

    def _generate_hotline_day(self, day: date) -> _HotlineDay:
        rng = np.random.default_rng([self.seed, 2, day.toordinal()])
        units = self._units
        work = self._working
        working = self.calendar.is_working_day(day)
        n = int(rng.poisson(HOTLINE_PER_DAY["working" if working else "day_off"]))
        weights = units.daily_dossiers / units.daily_dossiers.sum()
        unit = rng.choice(len(weights), size=n, p=weights)
        channel_names = list(HOTLINE_CHANNEL_SHARES)
        channel = rng.choice(len(channel_names), size=n, p=list(HOTLINE_CHANNEL_SHARES.values()))
        phone = channel == channel_names.index("phone")
        anytime = rng.random(n) < 0.2
        seconds = np.where(
            phone,
            rng.integers(OFFICE_OPEN, HOTLINE_OPERATOR_CLOSE, n),
            np.where(anytime, rng.integers(0, DAY, n), rng.integers(6 * HOUR, 22 * HOUR, n)),
        )
        received = np.sort(_midnight(day) + seconds.astype(np.int64))
        field_shares = np.array([share for share, _ in HOTLINE_FIELDS.values()])
        field = rng.choice(len(field_shares), size=n, p=field_shares / field_shares.sum())
        field_names = list(HOTLINE_FIELDS)
        title_offsets = np.cumsum([0] + [len(HOTLINE_FIELDS[name][1]) for name in field_names])
        title_counts = np.diff(title_offsets)
        title = title_offsets[field] + (rng.random(n) * title_counts[field]).astype(np.int64)
        urgency_names = list(HOTLINE_URGENCY_SHARES)
        urgency = rng.choice(len(urgency_names), size=n, p=list(HOTLINE_URGENCY_SHARES.values()))
        due_days = np.array([HOTLINE_DUE_WORKING_DAYS[name] for name in urgency_names])[urgency]
        received_ordinal = (received + LOCAL_OFFSET_SECONDS) // DAY + EPOCH_ORDINAL
        due = _day_start(work.add(received_ordinal, due_days)) + DUE_SECONDS

        times = np.full((n, HOTLINE_SLOT_COUNT), ABSENT, dtype=np.int64)
        times[:, 0] = received
        # The 1022 centre classifies during operator hours every day, then forwards to the competent unit.
        local_seconds = (received + LOCAL_OFFSET_SECONDS) % DAY
        waiting = received + rng.exponential(30 * MINUTE, n).astype(np.int64)
        next_morning = _day_start(received_ordinal + (local_seconds >= HOTLINE_OPERATOR_CLOSE)) + OFFICE_OPEN
        in_hours = (local_seconds >= OFFICE_OPEN) & (local_seconds < HOTLINE_OPERATOR_CLOSE)
        classified = np.where(in_hours, waiting, next_morning + rng.integers(0, 2 * HOUR, n))
        times[:, 1] = classified
        rejected = rng.random(n) < 0.05
        forwarded = ~rejected & (rng.random(n) < 0.85)
        forwarded_at = classified + rng.integers(10 * MINUTE, 3 * HOUR, n)
        times[:, 2] = np.where(forwarded, forwarded_at, ABSENT)
        start = np.where(forwarded, forwarded_at, classified)
        on_time = rng.random(n) < np.where(units.is_bad[unit], 0.72, 0.96)
        early, _ = work.next_office_instant(start + (rng.uniform(0.05, 0.9, n) * np.maximum(due - start, HOUR)).astype(np.int64))
        answer = np.where(on_time, np.minimum(early, np.maximum(due, start + MINUTE)), due + rng.integers(HOUR, 12 * DAY, n))
        answer = np.maximum(answer, start + MINUTE)
        end = np.where(rejected, classified + rng.integers(5 * MINUTE, 2 * HOUR, n), answer)
        times[:, 3] = end
        rated = ~rejected & (rng.random(n) < 0.45)
        times[:, 4] = np.where(rated, end + rng.integers(HOUR, 3 * DAY, n), ABSENT)
        late = end > due
        rating_draw = rng.random(n)
        rating = np.where(
            late,
            np.select([rating_draw < 0.35, rating_draw < 0.65], [0, 1], 2),
            np.select([rating_draw < 0.72, rating_draw < 0.92], [0, 1], 2),
        )
        stamp = day.strftime("%y%m%d")
        ids = np.array([f"PA48-{stamp}-{s:05d}" for s in range(1, n + 1)], dtype=object)
        return _HotlineDay(
            ids=ids,
            unit=unit,
            channel=channel,
            title=title,
            urgency=urgency,
            received=received,
            due=due,
            times=times,
            rejected=rejected,
            published=~rejected & (rng.random(n) < 0.65),
            rating=np.where(rated, rating, -1),
            lat=np.round(units.lat[unit] + rng.normal(0.0, 0.01, n), 5),
            lon=np.round(units.lon[unit] + rng.normal(0.0, 0.01, n), 5),
        )

    # -- state at an instant, as canonical rows -----------------------------------------------------

    def _dossier_rows_of_day(self, day: date, since: int | None, now: int) -> list[dict[str, Any]]:
        """Rows for the dossiers of ``day`` that arrived (since None) or changed in (since, now], as of now."""
        return self._rows_of_day(self._dossier_day, self._dossier_rows, day, since, now)

    def _hotline_rows_of_day(self, day: date, since: int | None, now: int) -> list[dict[str, Any]]:
        """Rows for the tickets of ``day`` that arrived (since None) or changed in (since, now], as of now."""
        return self._rows_of_day(self._hotline_day, self._hotline_rows, day, since, now)

    def _rows_of_day(
        self,
        items_of_day: Callable[[date], _DayItems],
        rows_of: Callable[[_DayItems, _Progress, int], list[dict[str, Any]]],
        day: date,
        since: int | None,
        now: int,
    ) -> list[dict[str, Any]]:
        """``rows_of`` the items of ``day`` that arrived (since None) or changed in (since, now], as they stand at now.

        Days before the simulated history began give nothing: their items were never emitted.
        """
        if day < (self.history_start or day):
            return []
        data = items_of_day(day)
        if not len(data):
            return []
        selected = _changed(data.times, data.received, since, now)
        if not selected.any():
            return []
        times = data.times[selected]
        reached = times <= now
        slot_count = times.shape[1]
        last_slot = (reached * np.arange(1, slot_count + 1)).max(axis=1) - 1
        return rows_of(data, _Progress(selected, times, reached, last_slot), now)

    def _dossier_rows(self, data: _DossierDay, progress: _Progress, now: int) -> list[dict[str, Any]]:
        """Canonical rows of the selected dossiers of one day, as they stand at ``now``."""
        selected, times, reached, last_slot = progress.selected, progress.times, progress.reached, progress.last_slot
        status = SLOT_STATUS_INDEX[last_slot]
        status = np.where(last_slot == 1, data.accept_status[selected], status)
        status = np.where(last_slot == END_SLOT, data.end_status[selected], status)
        supplements = reached[:, 3].astype(np.int64) + reached[:, 5]
        paused = np.where(reached[:, 4], times[:, 4] - times[:, 3], 0) + np.where(reached[:, 6], times[:, 6] - times[:, 5], 0)
        resolved = reached[:, END_SLOT] & (data.end_status[selected] == STATUS_INDEX["resolved"])
        due = data.due[selected]
        procedure = data.procedure[selected]
        unit = data.unit[selected]
        columns = {
            "dossier_id": data.ids[selected].tolist(),
            "unit_code": self._units.codes[unit].tolist(),
            "procedure_code": self._procedure_codes[procedure].tolist(),
            "sector": self._procedure_sectors[procedure].tolist(),
            "channel": np.array(["online", "in_person", "postal"], dtype=object)[data.channel[selected]].tolist(),
            "received_at": _datetimes(data.received[selected]),
            "due_at": _datetimes(due),
            "finished_at": _datetimes(progress.time_if_reached(END_SLOT)),
            "returned_at": _datetimes(progress.time_if_reached(RETURN_SLOT)),
            "status": np.array(STATUS_NAMES, dtype=object)[status].tolist(),
            "supplement_count": supplements.tolist(),
            "paused_seconds": paused.tolist(),
            "extended": (data.extended[selected] & (now > due)).tolist(),
            "paid_online": data.paid_online[selected].tolist(),
            "digitized": data.digitized[selected].tolist(),
            "e_result": (data.e_result[selected] & resolved).tolist(),
            "is_proactive": data.proactive[selected].tolist(),
            "updated_at": _datetimes(progress.updated_at),
        }
        return _rows(columns, source=SOURCE_NAME)

    def _hotline_rows(self, data: _HotlineDay, progress: _Progress, now: int) -> list[dict[str, Any]]:
        """Canonical rows of the selected tickets of one day, as they stand at ``now``."""
        selected, times, reached, last_slot = progress.selected, progress.times, progress.reached, progress.last_slot
        rejected = data.rejected[selected]
        status = np.array(HOTLINE_SLOT_STATUS, dtype=object)[last_slot]
        status = np.where((last_slot == 3) & rejected, "rejected", status)
        answered = reached[:, 3] & ~rejected
        rating_index = np.where(reached[:, 4], data.rating[selected], -1)
        ratings = [None if index < 0 else HOTLINE_RATINGS[index] for index in rating_index]
        titles = [HOTLINE_TITLE_LIST[index] for index in data.title[selected]]
        columns = {
            "ticket_id": data.ids[selected].tolist(),
            "channel": np.array(list(HOTLINE_CHANNEL_SHARES), dtype=object)[data.channel[selected]].tolist(),
            "field": [field for field, _ in titles],
            "urgency": np.array(list(HOTLINE_URGENCY_SHARES), dtype=object)[data.urgency[selected]].tolist(),
            "unit_code": self._units.codes[data.unit[selected]].tolist(),
            "received_at": _datetimes(data.received[selected]),
            "forwarded_at": _datetimes(progress.time_if_reached(2)),
            "due_at": _datetimes(data.due[selected]),
            "answered_at": _datetimes(np.where(answered, times[:, 3], ABSENT)),
            "status": status.tolist(),
            "published": (data.published[selected] & answered).tolist(),
            "rating": ratings,
            "title": [title for _, title in titles],
            "lat": data.lat[selected].tolist(),
            "lon": data.lon[selected].tolist(),
            "updated_at": _datetimes(progress.updated_at),
        }
        return _rows(columns, source=SOURCE_NAME)


def _changed(times: np.ndarray, received: np.ndarray, since: int | None, now: int) -> np.ndarray:
    """Items already received by ``now`` with an event in (since, now]; every received item when since is None."""
    if since is None:
        return np.asarray(received <= now)
    return np.asarray(((times > since) & (times <= now)).any(axis=1))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _datetimes(seconds: np.ndarray) -> list[datetime | None]:
    return [None if value == ABSENT else _EPOCH + timedelta(seconds=value) for value in seconds.tolist()]


def _rows(columns: Mapping[str, list[Any]], source: str) -> list[dict[str, Any]]:
    names = list(columns)
    return [{"source": source, **dict(zip(names, values, strict=True))} for values in zip(*columns.values(), strict=True)]


def _with_cursor_on_last(chunks: Iterator[tuple[Target, list[dict]]], cursor: str) -> Iterator[Batch]:
    """Batches of the chunks; only the last carries the cursor, so an interrupted backfill starts again."""
    previous: tuple[Target, list[dict]] | None = None
    for chunk in chunks:
        if previous is not None:
            yield Batch(previous[0], list(previous[1]), None)
        previous = chunk
    if previous is not None:
        yield Batch(previous[0], list(previous[1]), cursor)
