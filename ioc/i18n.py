"""Vietnamese (default) and English labels, vi-VN number formatting, and the glossary of domain words."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from ioc.timeutil import LOCAL_TZ

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")
DEFAULT_LANG: Lang = "vi"

# Vietnamese domain words and the English names the code uses for them (STYLE: the glossary lives here).
GLOSSARY: dict[str, str] = {
    "hồ sơ (thủ tục hành chính)": "dossier",
    "thủ tục hành chính": "procedure",
    "lĩnh vực": "sector / field",
    "tiếp nhận": "received",
    "đã giải quyết / đã xử lý xong": "resolved",
    "trả kết quả": "returned",
    "đang xử lý": "in_progress",
    "đúng hạn": "on_time",
    "trước hạn": "early",
    "quá hạn / trễ hạn": "overdue / late",
    "sắp đến hạn": "at_risk",
    "ngày hẹn trả": "due_at",
    "tồn kỳ trước": "carried_over",
    "trực tuyến": "online",
    "trực tiếp": "in_person",
    "bưu chính công ích": "postal",
    "phản ánh kiến nghị": "hotline ticket (citizen feedback)",
    "đường dây nóng / tổng đài 1022": "hotline",
    "xã / phường / đặc khu": "unit (kind xa / phuong / dac_khu)",
    "UBND (Ủy ban nhân dân)": "people's committee",
    "một cửa điện tử": "one-stop dossier system",
    "trung tâm điều hành thông minh (IOC)": "intelligent operations centre",
    "nguồn dữ liệu": "source (connector)",
    "độ trễ": "lag (time since the source's last success)",
}

_LABELS: dict[str, tuple[str, str]] = {
    # key: (vi, en)
    "app.title": ("Trung tâm điều hành thông minh", "Intelligent Operations Centre"),
    "nav.city": ("Toàn thành phố", "City overview"),
    "nav.wall_city": ("Màn hình tường", "Wall display"),
    "nav.commune": ("Xã, phường", "Commune"),
    "nav.language": ("Ngôn ngữ", "Language"),
    "page.city": ("Tổng quan thành phố", "City overview"),
    "page.commune": ("Xã, phường", "Commune"),
    "tile.received_today": ("Tiếp nhận hôm nay", "Received today"),
    "tile.resolved_today": ("Giải quyết hôm nay", "Resolved today"),
    "tile.on_time_rate_month": ("Đúng hạn tháng này", "On time this month"),
    "tile.in_progress_overdue": ("Đang quá hạn", "Overdue backlog"),
    "tile.at_risk": ("Sắp đến hạn", "Due next working day"),
    "tile.hotline_open": ("Phản ánh chưa trả lời", "Hotline open"),
    "tile.hotline_open_overdue": ("Phản ánh quá hạn", "Hotline overdue"),
    "tile.of_resolved": ("trên {n} hồ sơ đã giải quyết", "of {n} resolved dossiers"),
    "status.good": ("Tốt", "Good"),
    "status.watch": ("Cần theo dõi", "Watch"),
    "status.bad": ("Kém", "Poor"),
    "status.no_data": ("Chưa đủ dữ liệu", "Not enough data"),
    "ranking.title": ("Xếp hạng đúng hạn tháng này", "On-time ranking this month"),
    "ranking.rank": ("Hạng", "Rank"),
    "ranking.unit": ("Đơn vị", "Unit"),
    "ranking.on_time_rate": ("Đúng hạn", "On time"),
    "ranking.resolved": ("Đã giải quyết", "Resolved"),
    "ranking.overdue": ("Đang quá hạn", "Overdue now"),
    "ranking.best": ("Cao nhất", "Highest"),
    "ranking.worst": ("Thấp nhất", "Lowest"),
    "ranking.empty": ("Chưa có hồ sơ giải quyết trong tháng.", "No dossier resolved this month yet."),
    "flow.title": ("Tiếp nhận và giải quyết 30 ngày qua", "Received and resolved, last 30 days"),
    "flow.received": ("Tiếp nhận", "Received"),
    "flow.resolved": ("Giải quyết", "Resolved"),
    "flow.day": ("Ngày", "Day"),
    "flow.count": ("Số hồ sơ", "Dossiers"),
    "data_time.label": ("Dữ liệu lúc", "Data as of"),
    "data_time.none": ("Chưa có dữ liệu", "No data yet"),
    "data_time.stale": ("Nguồn chậm cập nhật", "Source stale"),
    "data_time.error": ("Nguồn bị lỗi", "Source failing"),
    "commune.not_found": ("Không tìm thấy đơn vị có mã “{code}”.", "No unit with code “{code}”."),
    "commune.not_a_commune": (
        "“{code}” là {name}, không phải xã, phường hay đặc khu: trang này chỉ dành cho đơn vị cấp xã.",
        "“{code}” is {name}, not a commune, ward or special zone: these pages are for commune-level units only.",
    ),
    "commune.back": ("Về trang toàn thành phố", "Back to the city overview"),
    "commune.wall": ("Màn hình tường của đơn vị", "This unit's wall screen"),
    "commune.rank": ("Hạng {rank}/{total} về tỷ lệ đúng hạn tháng này", "Ranked {rank} of {total} by on-time rate this month"),
    "commune.not_ranked": (
        "Chưa xếp hạng: dưới 5 hồ sơ đã giải quyết tháng này",
        "Not ranked: fewer than 5 dossiers resolved this month",
    ),
    "commune.month": ("Tháng này", "This month"),
    "commune.received_month": ("Tiếp nhận tháng này", "Received this month"),
    "commune.resolved_month": ("Giải quyết tháng này", "Resolved this month"),
    "commune.online_rate": ("Tỷ lệ trực tuyến", "Online rate"),
    "commune.hotline_on_time_rate": ("Phản ánh trả lời đúng hạn", "Hotline answered on time"),
    # Data sources panel on / and /commune/<code> (the connectors' health, as on /health).
    "sources.title": ("Nguồn dữ liệu", "Data sources"),
    "sources.source": ("Nguồn", "Source"),
    "sources.status": ("Trạng thái", "Status"),
    "sources.last_success": ("Thành công lần cuối", "Last success"),
    "sources.lag": ("Độ trễ", "Lag"),
    "sources.last_error": ("Lỗi gần nhất", "Last error"),
    "sources.never": ("Chưa lần nào", "Never"),
    "sources.ago": ("{duration} trước", "{duration} ago"),
    "sources.every": ("chu kỳ {duration}", "every {duration}"),
    "sources.error_at": ("lúc {time}", "at {time}"),
    "sources.failures": ("{n} lần lỗi liên tiếp", "{n} failed runs in a row"),
    "sources.none": ("Chưa có nguồn dữ liệu nào chạy.", "No data source has run yet."),
    "sources.summary_ok": ("{n} bình thường", "{n} OK"),
    "source_status.error": ("Lỗi", "Error"),
    "source_status.stale": ("Chậm cập nhật", "Stale"),
    "source_status.waiting": ("Chưa chạy", "Not run yet"),
    "source_status.unscheduled": ("Không theo lịch", "Not scheduled"),
    "source_status.ok": ("Bình thường", "OK"),
    "duration.seconds": ("{n} giây", "{n} s"),
    "duration.minutes": ("{n} phút", "{n} min"),
    "duration.hours": ("{n} giờ", "{n} h"),
    "duration.days": ("{n} ngày", "{n} d"),
    "kind.phuong": ("Phường", "Ward"),
    "kind.xa": ("Xã", "Commune"),
    "kind.dac_khu": ("Đặc khu", "Special zone"),
    # Wall screens (/wall/city, /wall/commune/<code>, /wall/rotate).
    "wall.sources": ("Nguồn", "Sources"),
    "wall.source_ok": ("đúng hạn", "on time"),
    "wall.source_stale": ("chậm cập nhật", "stale"),
    "wall.sources_ok_count": ("{count} nguồn đúng hạn", "{count} on time"),
    "wall.sources_more": ("{count} nguồn khác có sự cố", "{count} more in trouble"),
    "wall.sources_none": ("không nguồn nào chạy theo lịch", "no source runs on a schedule"),
    "wall.change_day": ("so với cùng giờ hôm qua", "vs same time yesterday"),
    "wall.change_month": ("so với cùng thời điểm tháng trước", "vs same time last month"),
    "wall.change_day_whole": ("so với hôm qua", "vs yesterday"),
    "wall.change_month_whole": ("so với tháng trước", "vs last month"),
    "wall.change_until": ("Kỳ trước tính đến {when}", "Previous period up to {when}"),
    "wall.change_points": ("{sign}{value} điểm %", "{sign}{value} pts"),
    "wall.no_change": ("không đổi", "no change"),
    "wall.map_title": ("Tỷ lệ đúng hạn tháng này theo đơn vị", "On-time rate this month by unit"),
    "wall.map_inset": ("Đặc khu Hoàng Sa (ô phụ, không theo tỷ lệ)", "Hoàng Sa special zone (inset, not to scale)"),
    "wall.legend_good": ("Tốt ≥ {good}", "Good ≥ {good}"),
    "wall.legend_watch": ("Theo dõi ≥ {watch}", "Watch ≥ {watch}"),
    "wall.legend_bad": ("Kém < {watch}", "Poor < {watch}"),
    "wall.legend_no_data": ("Chưa đủ dữ liệu", "Not enough data"),
    "wall.legend_selected": ("Đơn vị đang xem", "This unit"),
    "wall.status_watch_short": ("Theo dõi", "Watch"),
    "wall.legend_inset": ("Hoàng Sa: ô phụ, không theo tỷ lệ", "Hoàng Sa: inset, not to scale"),
    "wall.best_worst": ("Đơn vị cao nhất và thấp nhất", "Best and worst units"),
    "wall.hotline_by_field": ("Phản ánh chưa trả lời theo lĩnh vực", "Open hotline items by field"),
    "wall.hotline_within": ("Trong hạn", "Within due date"),
    "wall.hotline_overdue": ("Quá hạn", "Overdue"),
    "wall.hotline_none": ("Không có phản ánh nào đang chờ trả lời.", "No hotline item is waiting for an answer."),
    "wall.alerts": ("Cảnh báo", "Alerts"),
    "wall.alerts_none": ("Không có cảnh báo về hồ sơ", "No dossier alerts"),
    "wall.alert_overdue": ("Quá hạn lúc này", "Overdue now"),
    "wall.alert_at_risk": ("Sắp đến hạn tăng cao", "At-risk spike"),
    "wall.alert_stale": ("Nguồn lỗi hoặc chậm cập nhật", "Sources failing or stale"),
    "wall.alert_sources_more": ("+ {n} nguồn", "+ {n} more"),
    "wall.alert_unit": ("{n} đơn vị", "{n} unit"),
    "wall.alert_units": ("{n} đơn vị", "{n} units"),
    "wall.alert_more": (" · + {n} khác", " · + {n} more"),
    "wall.alert_none": ("Không có cảnh báo.", "No alerts."),
    "wall.dossiers_title": ("Hồ sơ quá hạn và sắp đến hạn", "Overdue and at-risk dossiers"),
    "wall.dossier_code": ("Mã hồ sơ", "Dossier"),
    "wall.procedure": ("Thủ tục", "Procedure"),
    "wall.days_late": ("Trễ", "Late"),
    "wall.days_late_value": ("{n} ngày", "{n} d"),
    "wall.due_today": ("hạn hôm nay", "due today"),
    "wall.due_on": ("hạn {day}", "due {day}"),
    "wall.dossiers_none": ("Không có hồ sơ quá hạn hay sắp đến hạn.", "No overdue or at-risk dossier."),
    "wall.list_more": ("+ {n} hồ sơ khác", "+ {n} more"),
    "wall.hotline_more": ("+ {n} phản ánh khác", "+ {n} more"),
    "wall.ranking_none": (
        "Chưa đơn vị nào có đủ hồ sơ đã giải quyết tháng này để xếp hạng.",
        "No unit has resolved enough dossiers this month to be ranked yet.",
    ),
    "wall.fields_more": ("+ {n} lĩnh vực khác: {count} phản ánh", "+ {n} more fields: {count} open"),
    "wall.hotline_title": ("Phản ánh chưa trả lời", "Open hotline items"),
    "wall.ticket": ("Mã", "Ticket"),
    "wall.field": ("Lĩnh vực", "Field"),
    "wall.age": ("Đã chờ", "Waiting"),
    "wall.age_hours": ("{n} giờ", "{n} h"),
    "wall.age_days": ("{n} ngày", "{n} d"),
    "wall.urgency_urgent": ("Khẩn", "Urgent"),
    "wall.urgency_quick": ("Nhanh", "Quick"),
    "wall.urgency_normal": ("Thường", "Normal"),
    "wall.overdue_mark": ("Quá hạn", "Overdue"),
    "wall.rank": ("Hạng {rank}/{total} đúng hạn tháng này", "Rank {rank} of {total}, on time this month"),
    "wall.offline": ("Mất kết nối từ {time}", "Connection lost since {time}"),
    "wall.rotate_empty": ("Danh sách màn hình trống hoặc không hợp lệ.", "The screen list is empty or invalid."),
}


def normalize_lang(value: object) -> Lang:
    """``en`` when asked for English, otherwise Vietnamese (anything unknown falls back to the default)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return "en" if isinstance(value, str) and value.strip().lower().startswith("en") else DEFAULT_LANG


def t(key: str, lang: str = DEFAULT_LANG, **values: object) -> str:
    """The label ``key`` in ``lang``; ``{name}`` placeholders are filled from ``values``."""
    vi, en = _LABELS[key]
    text = en if normalize_lang(lang) == "en" else vi
    return text.format(**values) if values else text


def has_label(key: str) -> bool:
    return key in _LABELS


def _group_thousands(digits: str, separator: str) -> str:
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return separator.join(groups)


def format_number(value: float | int | None, lang: str = DEFAULT_LANG, decimals: int = 0) -> str:
    """12.345 and 98,7 in Vietnamese; 12,345 and 98.7 in English; an em dash when there is no value."""
    if value is None or value != value:  # NaN is the only value not equal to itself
        return "—"
    thousands, decimal = (",", ".") if normalize_lang(lang) == "en" else (".", ",")
    text = f"{abs(float(value)):.{decimals}f}"
    whole, _, fraction = text.partition(".")
    sign = "-" if float(value) < 0 and float(text) != 0 else ""
    grouped = _group_thousands(whole, thousands)
    return f"{sign}{grouped}{decimal}{fraction}" if fraction else f"{sign}{grouped}"


def format_percent(rate: float | None, lang: str = DEFAULT_LANG, decimals: int = 1) -> str:
    """A 0–1 fraction as a percentage: "98,7 %" in Vietnamese (vi-VN puts a space), "98.7%" in English."""
    if rate is None or rate != rate:
        return "—"
    number = format_number(rate * 100, lang, decimals)
    return f"{number}%" if normalize_lang(lang) == "en" else f"{number} %"


def format_data_time(moment: datetime | None, lang: str = DEFAULT_LANG) -> str:
    """Local wall-clock time of ``moment``: 14:32:05 23/11/2026 (vi) or 14:32:05 23 Nov 2026 (en).

    English spells the month: 03/12 reads as 3 December in Vietnam and as March 12 to many English readers.
    """
    if moment is None:
        return t("data_time.none", lang)
    local = moment.astimezone(LOCAL_TZ)
    return f"{local:%H:%M:%S} {format_date(local.date(), lang)}"


def format_minute(moment: datetime, lang: str = DEFAULT_LANG) -> str:
    """Local time of ``moment`` to the minute: 10:00 17/11/2026 (vi) or 10:00 17 Nov 2026 (en)."""
    local = moment.astimezone(LOCAL_TZ)
    return f"{local:%H:%M} {format_date(local.date(), lang)}"


def format_date(day: date, lang: str = DEFAULT_LANG) -> str:
    """23/11/2026 (vi) or 23 Nov 2026 (en: the month spelt, as format_day)."""
    return f"{day.day} {day:%b %Y}" if normalize_lang(lang) == "en" else day.strftime("%d/%m/%Y")


def format_duration(seconds: float | None, lang: str = DEFAULT_LANG) -> str:
    """A rounded-down duration in its two largest units: 45 giây, 12 phút, 3 giờ 5 phút, 2 ngày 4 giờ (45 s, 2 d 4 h)."""
    if seconds is None or seconds != seconds:
        return "—"
    total = max(0, int(seconds))
    if total < 60:
        return t("duration.seconds", lang, n=total)
    if total < 3600:
        return t("duration.minutes", lang, n=total // 60)
    if total < 86400:
        hours, minutes = divmod(total // 60, 60)
        parts = [t("duration.hours", lang, n=hours)] + ([t("duration.minutes", lang, n=minutes)] if minutes else [])
        return " ".join(parts)
    days, hours = divmod(total // 3600, 24)
    parts = [t("duration.days", lang, n=format_number(days, lang))] + ([t("duration.hours", lang, n=hours)] if hours else [])
    return " ".join(parts)


def format_day(day: date, lang: str = DEFAULT_LANG) -> str:
    """A day without its year: 04/12 (vi) or 4 Dec (en, the month spelt, as format_data_time)."""
    return day.strftime("%d/%m") if normalize_lang(lang) == "vi" else f"{day.day} {day:%b}"
