"""The canonical vocabulary: dossier statuses, channels and the columns of each target table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DossierStatus:
    code: int
    name: str
    label_vi: str
    label_en: str
    accepted: bool  # counts in received / in progress (not registered, not not_accepted)
    ended: bool  # processing has ended; finished_at must be set
    resolved: bool  # counts as resolved (đã giải quyết)


DOSSIER_STATUSES: tuple[DossierStatus, ...] = (
    DossierStatus(1, "registered", "Mới đăng ký", "Registered", False, False, False),
    DossierStatus(2, "accepted", "Được tiếp nhận", "Accepted", True, False, False),
    DossierStatus(3, "not_accepted", "Không được tiếp nhận", "Not accepted", False, False, False),
    DossierStatus(4, "processing", "Đang xử lý", "Processing", True, False, False),
    DossierStatus(5, "supplement_requested", "Yêu cầu bổ sung", "Supplement requested", True, False, False),
    DossierStatus(6, "financial_obligation", "Chờ nghĩa vụ tài chính", "Awaiting financial obligation", True, False, False),
    DossierStatus(7, "withdrawn", "Công dân rút hồ sơ", "Withdrawn", True, True, False),
    DossierStatus(8, "stopped", "Dừng xử lý", "Stopped", True, True, False),
    DossierStatus(9, "resolved", "Đã xử lý xong", "Resolved", True, True, True),
    DossierStatus(10, "returned", "Đã trả kết quả", "Result returned", True, True, True),
)
STATUS_BY_NAME = {status.name: status for status in DOSSIER_STATUSES}
STATUS_BY_CODE = {status.code: status for status in DOSSIER_STATUSES}

NOT_ACCEPTED_STATUSES = tuple(s.name for s in DOSSIER_STATUSES if not s.accepted)
ENDED_STATUSES = tuple(s.name for s in DOSSIER_STATUSES if s.ended)
RESOLVED_STATUSES = tuple(s.name for s in DOSSIER_STATUSES if s.resolved)

DOSSIER_CHANNELS = ("online", "in_person", "postal")
HOTLINE_CHANNELS = ("phone", "web", "app", "zalo", "facebook", "email", "other")
HOTLINE_URGENCIES = ("urgent", "quick", "normal")
HOTLINE_STATUSES = ("new", "processing", "forwarded", "answered", "rejected")
HOTLINE_RATINGS = ("satisfied", "acceptable", "unsatisfied")
UNIT_KINDS = ("phuong", "xa", "dac_khu", "province", "other")

DOSSIER_COLUMNS = (
    "dossier_id", "source", "unit_code", "procedure_code", "sector", "channel", "received_at", "due_at",
    "finished_at", "returned_at", "status", "supplement_count", "paused_seconds", "extended", "paid_online",
    "digitized", "e_result", "is_proactive", "updated_at", "ingested_at",
)  # fmt: skip
HOTLINE_COLUMNS = (
    "ticket_id", "source", "channel", "field", "urgency", "unit_code", "received_at", "forwarded_at", "due_at",
    "answered_at", "status", "published", "rating", "title", "lat", "lon", "updated_at", "ingested_at",
)  # fmt: skip
