"""Turn a raw source row into a canonical dossier or hotline row, or a reason a person understands."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ioc.calendar import WorkingCalendar
from ioc.model import (
    DOSSIER_CHANNELS,
    HOTLINE_CHANNELS,
    HOTLINE_RATINGS,
    HOTLINE_STATUSES,
    HOTLINE_URGENCIES,
    STATUS_BY_CODE,
    STATUS_BY_NAME,
)
from ioc.timeutil import LOCAL_TZ, local_date, local_datetime

MAX_ID_LENGTH = 120
MAX_TITLE_LENGTH = 500
MAX_SMALL_INT = 2_147_483_647  # the store's INTEGER columns (supplement_count) hold no more
# Hotline answer deadlines by urgency, in working days (QĐ 960/QĐ-UBND Đà Nẵng: urgent 1, quick 3; normal 5).
HOTLINE_DUE_WORKING_DAYS = {"urgent": 1, "quick": 3, "normal": 5}
# The field a hotline ticket that names none is counted under.
OTHER_FIELD = "Lĩnh vực khác"
# A due date computed from a working-day count is the end of office hours on that day.
DUE_HOUR_LOCAL = 17


class RowError(ValueError):
    """A row that cannot be stored, with the reason shown in the rejects table ("column: what is wrong").

    ``column`` is the canonical column at fault (None when the reason names its own), so a mapping can point
    to the source column behind it.
    """

    def __init__(self, column: str | None, problem: str) -> None:
        super().__init__(f"{column}: {problem}" if column else problem)
        self.column = column
        self.problem = problem

    def __reduce__(self) -> tuple[type[RowError], tuple[str | None, str]]:
        return RowError, (self.column, self.problem)  # copy and pickle rebuild it from both parts


@dataclass(frozen=True)
class Reference:
    """What normalisation needs to know about the store: units, procedures and the calendar."""

    unit_codes: frozenset[str]
    procedures: Mapping[str, tuple[str, int]]  # procedure_code -> (sector, legal_days)
    calendar: WorkingCalendar
    # match_key of a commune's name or code from before the July 2025 merger -> the units it became part of
    # ("Phường Hải Vân (20194)"): an export still naming it gets a reject reason that says where it went.
    former_units: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# The five Vietnamese tone marks (huyền, sắc, ngã, hỏi, nặng); vowel marks (â, ă, ơ, …) are not among them.
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def match_key(text: str) -> str:
    """How names and values are compared: case-folded, inner whitespace collapsed, tone marks placed alike.

    Old and new spelling put a tone on different vowels ("Hoà"/"Hòa", "Thuỷ"/"Thủy"), so each word's tone
    mark moves to its end before comparing; a different tone still makes a different word.
    """
    words = unicodedata.normalize("NFD", text).casefold().split()
    return " ".join(unicodedata.normalize("NFC", _tone_last(word)) for word in words)


def _tone_last(word: str) -> str:
    return "".join(ch for ch in word if ch not in _TONE_MARKS) + "".join(ch for ch in word if ch in _TONE_MARKS)


_FORMER_PART = re.compile(r"^\s*(?P<name>.+?)\s*\((?P<code>[0-9]+)(?:,[^)]*)?\)\s*$")
_UNIT_PREFIXES = ("Phường ", "Xã ", "Thị trấn ", "Đặc khu ")
MAX_FORMER_TARGETS = 3


def former_unit_index(units: Iterable[tuple[str, str, str | None]]) -> dict[str, tuple[str, ...]]:
    """Reference.former_units from (unit_code, full_name, merged_from) rows.

    merged_from reads "Phường Hòa Hiệp Bắc (20194); Xã Hòa Liên (20296, một phần); …": each former commune is
    found by its full name, its name without "Phường"/"Xã"/…, or its old code when no current unit has that code.
    """
    rows = list(units)
    current_codes = {code for code, _, _ in rows}
    index: dict[str, list[str]] = {}
    for code, full_name, merged_from in rows:
        for part in (merged_from or "").split(";"):
            found = _FORMER_PART.match(part)
            if found is None:
                continue
            name, old_code = found["name"], found["code"]
            keys = {match_key(name), match_key(name.removeprefix(next((p for p in _UNIT_PREFIXES if name.startswith(p)), "")))}
            if old_code not in current_codes:
                keys.add(old_code)
            for key in keys:
                targets = index.setdefault(key, [])
                if f"{full_name} ({code})" not in targets:
                    targets.append(f"{full_name} ({code})")
    # A bare name shared by communes of several provinces would list too many to help.
    return {key: tuple(targets) for key, targets in index.items() if len(targets) <= MAX_FORMER_TARGETS}


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def clean_text(value: Any, limit: int) -> str | None:
    """Untrusted text: NUL and control characters removed, Unicode NFC, cut to ``limit`` characters.

    NFC because a source may send decomposed Vietnamese (legacy converters, macOS): "Hộ tịch" must be one sector
    whichever way its tone marks were written.
    """
    if _blank(value):
        return None
    text = "".join(ch for ch in str(value) if ch in "\n\t" or ch >= " ")
    text = unicodedata.normalize("NFC", text).strip()
    return text[:limit] if text else None


# An ISO 8601 date, with a time or not: the layout parse_timestamp asks for.
_ISO_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$")


def parse_timestamp(value: Any, column: str) -> datetime | None:
    """ISO 8601 (or a datetime); without an offset the time is local Vietnamese time. Returns aware UTC."""
    if _blank(value):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as error:
            if _ISO_SHAPE.match(text):
                # Written right, but no such day or time (31 November, 25:00): the layout is not the problem.
                raise RowError(column, f"'{text[:40]}' is not a real date-time ({error})") from error
            raise RowError(
                column,
                f"'{text[:40]}' is not a date-time (expected ISO 8601, e.g. 2025-07-02T08:30:00; "
                "other layouts such as 02/07/2025 need a mapping's date_formats)",
            ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    if not 1990 <= moment.year <= 2100:
        raise RowError(column, f"{moment.date()} is outside the years 1990-2100")
    return moment.astimezone(UTC)


def parse_bool(value: Any, column: str, default: bool = False) -> bool:
    if _blank(value):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "t", "y"}:
        return True
    if text in {"false", "0", "no", "f", "n"}:
        return False
    raise RowError(column, f"'{text[:20]}' is not true/false/1/0")


def parse_int(value: Any, column: str, default: int = 0, minimum: int = 0, maximum: int = 2**63 - 1) -> int:
    if _blank(value):
        return default
    try:
        number = int(float(str(value).strip()))
    except ValueError as error:
        raise RowError(column, f"'{str(value)[:20]}' is not a whole number") from error
    if number < minimum:
        raise RowError(column, f"{number} is below {minimum}")
    if number > maximum:
        raise RowError(column, f"{number} is above {maximum:,}")
    return number


def parse_choice(value: Any, column: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    if _blank(value):
        return default
    text = str(value).strip()
    if text.lower() not in choices:
        raise RowError(column, f"'{text[:30]}' is not one of {', '.join(choices)}")
    return text.lower()


def parse_dossier_status(value: Any) -> str:
    if _blank(value):
        raise RowError("status", "missing")
    text = str(value).strip().lower()
    if text in STATUS_BY_NAME:
        return text
    try:
        return STATUS_BY_CODE[int(float(text))].name
    except (ValueError, KeyError):
        raise RowError("status", f"'{text[:30]}' is neither a status name nor a code 1-10") from None


def _required_id(row: Mapping[str, Any], column: str) -> str:
    value = clean_text(row.get(column), MAX_ID_LENGTH + 1)
    if value is None:
        raise RowError(column, "missing")
    if len(value) > MAX_ID_LENGTH:
        raise RowError(column, f"longer than {MAX_ID_LENGTH} characters")
    return value


def _unit(row: Mapping[str, Any], reference: Reference) -> str:
    unit_code = _required_id(row, "unit_code")
    if unit_code not in reference.unit_codes:
        became = reference.former_units.get(match_key(unit_code), ())
        hint = ""
        if len(became) == 1:
            hint = f"; since 1 July 2025 it is part of {became[0]}: map it there"
        elif became:
            hint = f"; since 1 July 2025 its area is split between {', '.join(became)}: map each row to its new unit"
        raise RowError("unit_code", f"'{unit_code}' is not a known unit{hint}")
    return unit_code


def due_from_working_days(received_at: datetime, working_days: int, calendar: WorkingCalendar) -> datetime:
    """The due instant: ``working_days`` working days after the received date, at the end of office hours."""
    try:
        due_day = calendar.add_working_days(local_date(received_at), working_days)
    except ValueError as error:
        raise RowError("due_at", f"cannot be computed from the working-day calendar ({error})") from error
    return local_datetime(due_day, DUE_HOUR_LOCAL)


def normalize_dossier(row: Mapping[str, Any], reference: Reference, source: str, ingested_at: datetime) -> dict[str, Any]:
    """A canonical ``dossiers`` row, or RowError."""
    dossier_id = _required_id(row, "dossier_id")
    unit_code = _unit(row, reference)
    status = parse_dossier_status(row.get("status"))
    received_at = parse_timestamp(row.get("received_at"), "received_at")
    if received_at is None:
        raise RowError("received_at", "missing")
    finished_at = parse_timestamp(row.get("finished_at"), "finished_at")
    returned_at = parse_timestamp(row.get("returned_at"), "returned_at")
    status_info = STATUS_BY_NAME[status]
    if status_info.ended and finished_at is None:
        raise RowError("finished_at", f"missing for a dossier whose status is {status}")
    if not status_info.ended and finished_at is not None:
        raise RowError("finished_at", f"set, but status {status} means processing has not ended")
    if finished_at is not None and finished_at < received_at:
        raise RowError("finished_at", "before received_at")
    if returned_at is not None and returned_at < received_at:
        raise RowError("returned_at", "before received_at")
    if returned_at is not None and finished_at is not None and returned_at < finished_at:
        raise RowError("returned_at", "before finished_at (a result is returned after processing ends)")
    procedure_code = clean_text(row.get("procedure_code"), MAX_ID_LENGTH + 1)
    if procedure_code is not None and len(procedure_code) > MAX_ID_LENGTH:
        # Cut, it would be a code no procedure has: refused like an over-long id.
        raise RowError("procedure_code", f"longer than {MAX_ID_LENGTH} characters")
    procedure = reference.procedures.get(procedure_code) if procedure_code else None
    sector = clean_text(row.get("sector"), 200) or (procedure[0] if procedure else None)
    due_at = parse_timestamp(row.get("due_at"), "due_at")
    if due_at is None and procedure is not None:
        due_at = due_from_working_days(received_at, procedure[1], reference.calendar)
    if due_at is not None and due_at < received_at and local_date(due_at) < local_date(received_at):
        raise RowError("due_at", "before received_at")
    updated_at = parse_timestamp(row.get("updated_at"), "updated_at") or ingested_at
    return {
        "dossier_id": dossier_id,
        "source": clean_text(row.get("source"), 100) or source,
        "unit_code": unit_code,
        "procedure_code": procedure_code,
        "sector": sector,
        "channel": parse_choice(row.get("channel"), "channel", DOSSIER_CHANNELS, default="in_person"),
        "received_at": received_at,
        "due_at": due_at,
        "finished_at": finished_at,
        "returned_at": returned_at,
        "status": status,
        "supplement_count": parse_int(row.get("supplement_count"), "supplement_count", maximum=MAX_SMALL_INT),
        "paused_seconds": parse_int(row.get("paused_seconds"), "paused_seconds"),
        "extended": parse_bool(row.get("extended"), "extended"),
        "paid_online": parse_bool(row.get("paid_online"), "paid_online"),
        "digitized": parse_bool(row.get("digitized"), "digitized"),
        "e_result": parse_bool(row.get("e_result"), "e_result"),
        "is_proactive": parse_bool(row.get("is_proactive"), "is_proactive"),
        "updated_at": updated_at,
        "ingested_at": ingested_at,
    }


def _coordinate(value: Any, column: str, limit: float) -> float | None:
    if _blank(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowError(column, f"'{str(value)[:20]}' is not a number") from None
    if not -limit <= number <= limit:
        raise RowError(column, f"{number} is out of range")
    return number


def normalize_hotline(row: Mapping[str, Any], reference: Reference, source: str, ingested_at: datetime) -> dict[str, Any]:
    """A canonical ``hotline_tickets`` row, or RowError."""
    ticket_id = _required_id(row, "ticket_id")
    unit_code = _unit(row, reference)
    status = parse_choice(row.get("status"), "status", HOTLINE_STATUSES)
    if status is None:
        raise RowError("status", "missing")
    received_at = parse_timestamp(row.get("received_at"), "received_at")
    if received_at is None:
        raise RowError("received_at", "missing")
    answered_at = parse_timestamp(row.get("answered_at"), "answered_at")
    if status == "answered" and answered_at is None:
        raise RowError("answered_at", "missing for an answered ticket")
    if status in ("new", "processing", "forwarded") and answered_at is not None:
        raise RowError("answered_at", f"set, but the ticket is still {status}")
    if answered_at is not None and answered_at < received_at:
        raise RowError("answered_at", "before received_at")
    urgency = parse_choice(row.get("urgency"), "urgency", HOTLINE_URGENCIES, default="normal") or "normal"
    due_at = parse_timestamp(row.get("due_at"), "due_at")
    if due_at is None:
        due_at = due_from_working_days(received_at, HOTLINE_DUE_WORKING_DAYS[urgency], reference.calendar)
    return {
        "ticket_id": ticket_id,
        "source": clean_text(row.get("source"), 100) or source,
        "channel": parse_choice(row.get("channel"), "channel", HOTLINE_CHANNELS, default="other"),
        "field": clean_text(row.get("field"), 200) or OTHER_FIELD,
        "urgency": urgency,
        "unit_code": unit_code,
        "received_at": received_at,
        "forwarded_at": parse_timestamp(row.get("forwarded_at"), "forwarded_at"),
        "due_at": due_at,
        "answered_at": answered_at,
        "status": status,
        "published": parse_bool(row.get("published"), "published"),
        "rating": parse_choice(row.get("rating"), "rating", HOTLINE_RATINGS),
        "title": clean_text(row.get("title"), MAX_TITLE_LENGTH),
        "lat": _coordinate(row.get("lat"), "lat", 90),
        "lon": _coordinate(row.get("lon"), "lon", 180),
        "updated_at": parse_timestamp(row.get("updated_at"), "updated_at") or ingested_at,
        "ingested_at": ingested_at,
    }


Normalizer = Callable[[Mapping[str, Any], Reference, str, datetime], dict[str, Any]]
