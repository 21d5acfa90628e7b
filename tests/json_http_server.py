"""A local JSON API for tests, shaped like Góp ý Đà Nẵng (domain-notes §3.1), serving SYNTHETIC records written by hand."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Callable
from copy import deepcopy
from datetime import datetime
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

from tests.local_http import LocalHTTPServer

VN = ZoneInfo("Asia/Ho_Chi_Minh")
UNITS = ("Phường Hải Châu", "Phường Thanh Khê", "Phường Sơn Trà", "Phường Liên Chiểu", "Phường Cẩm Lệ", "Phường Hòa Khánh")
FIELDS = ("Hạ tầng đô thị", "An toàn giao thông", "Môi trường", "An ninh trật tự", "Lĩnh vực khác")
SOURCES = ("Zalo", "Facebook", "Tổng đài 1022", "Ứng dụng Góp ý Đà Nẵng", "Cổng Góp ý")
TITLES = ("Đèn đường không sáng", "Ổ gà trên đường", "Rác thải tồn đọng", "Lấn chiếm vỉa hè", "Tiếng ồn ban đêm")


def gopy_records(count: int = 12) -> list[dict[str, Any]]:
    """SYNTHETIC Góp ý-shaped records (no real citizen): documented field names, invented values.

    The personal fields (hoTen, soDienThoai, diaChi, noiDung) are filled so tests can check they are dropped.
    """
    records = []
    for n in range(count):
        day = 3 + n // 4
        code = ("CHUA_XU_LY", "DANG_XU_LY", "CHUYEN_TIEP", "DA_XU_LY")[n % 4]
        answered = code == "DA_XU_LY"
        records.append(
            {
                "id": 250100 + n,
                "tieuDe": TITLES[n % len(TITLES)],
                "noiDung": f"Nhà tôi ở số {n + 10} đường Lê Duẩn, gọi 0905{n:06d}",
                "hoTen": "Nguyễn Văn An",
                "soDienThoai": f"0905{n:06d}",
                "diaChi": f"{n + 10} Lê Duẩn",
                "linhVuc": {"id": (1, 3, 4, 21, 22)[n % 5], "ten": FIELDS[n % len(FIELDS)]},
                "nguonGopY": SOURCES[n % len(SOURCES)],
                "mucDo": 2 if n % 6 == 0 else 1,
                "maTinhTrangXuLy": code,
                "tinhTrangXuLy": {"CHUA_XU_LY": "Chưa xử lý", "DANG_XU_LY": "Đang xử lý"}.get(
                    code, "Đã chuyển tiếp" if code == "CHUYEN_TIEP" else "Đã xử lý"
                ),
                "xuatBan": n % 3 != 0,
                "coQuanQuanLy": {"ma": None, "ten": UNITS[n % len(UNITS)], "coQuanCha": {"ten": "UBND thành phố Đà Nẵng"}},
                "ngayGopY": f"2025-11-{day:02d}T08:{n:02d}:00",
                "hanPhanHoi": f"{day + 3:02d}/11/2025 17:00",
                "ngayChuyenTiep": f"2025-11-{day:02d}T10:00:00" if code in ("CHUYEN_TIEP", "DA_XU_LY") else None,
                "ngayXuLy": f"2025-11-{day + 1:02d}T15:30:00" if answered else None,
                "ngayCapNhat": f"2025-11-{day + 1:02d}T15:30:00" if answered else f"2025-11-{day:02d}T10:{n:02d}:00",
                "danhGia": ("HAI_LONG" if n % 8 == 3 else "KHONG_HAI_LONG") if answered else None,
                "viDo": 16.0544 + n / 1000,
                "kinhDo": 108.2022 + n / 1000,
            }
        )
    return records


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=VN)


class GopyServer(LocalHTTPServer):
    """``GET /api/gopy`` on 127.0.0.1: {"data": {"items": [...], "total": N}, "links": {"next": ...}}.

    Filters on ``updated_since`` (ISO, inclusive), pages with ``page``/``page_size`` (sorted by ngayCapNhat, id,
    or by id alone with ``order_by="id"``, as APIs that page in creation order do), and requires HTTP Basic
    ``ioc``/``secret`` when ``basic`` is set. ``before_page`` is called with each page number before that page
    is answered, so a test can change records while a client is paging.
    """

    def __init__(
        self,
        records: list[dict[str, Any]] | None = None,
        *,
        basic: tuple[str, str] | None = None,
        order_by: str = "ngayCapNhat",
    ) -> None:
        self.records = deepcopy(records) if records is not None else gopy_records()
        self.basic = basic
        self.order_by = order_by
        self.before_page: Callable[[int], None] | None = None
        self.headers: list[dict[str, str]] = []
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.origin}/api/gopy"

    def record(self, record_id: int) -> dict[str, Any]:
        return next(record for record in self.records if record["id"] == record_id)

    CONTENT_TYPE = "application/json; charset=utf-8"

    def _answer(self, path: str, query: dict[str, str], headers: Message) -> tuple[int, bytes, float]:
        with self._lock:
            self.headers.append(dict(headers.items()))
        if path != "/api/gopy":
            return 404, b'{"error": "not found"}', 0.0
        with self._lock:
            self.log.append(query)
        if self.basic is not None:
            expected = "Basic " + base64.b64encode(":".join(self.basic).encode()).decode()
            if headers.get("Authorization") != expected:
                return 401, b'{"error": "unauthorized"}', 0.0
        page = int(query.get("page", "1"))
        with self._lock:
            if self.before_page is not None:
                self.before_page(page)
            if self.order_by == "id":
                selected = sorted(self.records, key=lambda r: str(r.get("id")))
            else:
                selected = sorted(self.records, key=lambda r: (str(r.get("ngayCapNhat")), str(r.get("id"))))
        if "updated_since" in query:
            since = _time(query["updated_since"])
            selected = [r for r in selected if _updated_after(r, since)]
        next_link = None
        if "page_size" in query:
            size = int(query["page_size"])
            if page * size < len(selected):
                next_link = "?" + urllib.parse.urlencode({**query, "page": str(page + 1)})
            selected = selected[(page - 1) * size : page * size]
        body = json.dumps(
            {"data": {"items": selected, "total": len(selected)}, "links": {"next": next_link}}, ensure_ascii=False
        ).encode()
        return self._with_fault(page, body)


def _updated_after(record: dict[str, Any], since: datetime) -> bool:
    try:
        return _time(str(record.get("ngayCapNhat"))) >= since
    except ValueError:
        return True  # a malformed time is still served: the connector must reject it with a reason
