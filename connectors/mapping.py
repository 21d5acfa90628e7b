"""Declarative mappings (TOML) that turn any source's rows into canonical-named rows for the normalisers.

A mapping file says which canonical table a source feeds and how to build each canonical column
from the source's columns and values. The mapped row then goes through the same normaliser
(``ioc.canonical``) and the same writer (``connectors.base.ingest_batches``) as every other
connector, so merge by key, rejects with reasons and the cursor behave identically.

Format (every key but ``target`` and ``[columns]`` is optional; see ``mappings/README.md``)::

    name = "nyc311"                       # connector name in rejects / ingest_runs: "import:nyc311"
    target = "hotline"                    # "dossiers" or "hotline"
    source = "nyc311"                     # value of the canonical `source` column
    timezone = "America/New_York"         # zone of naive date-times (default Asia/Ho_Chi_Minh)
    date_formats = ["%m/%d/%Y %I:%M:%S %p"]  # strptime formats tried in order; ISO 8601 always accepted
    personal = ["Incident Address"]       # source columns dropped on read: never stored, not even in rejects
    sheet = "Sheet1"                      # XLSX: worksheet (default the first)
    delimiter = ","                       # CSV: field separator (default: guessed from the header, , ; tab)

    [columns]                             # canonical column = rule
    ticket_id = "Unique Key"              # a source column
    urgency = { value = "normal" }        # a constant
    title = { join = ["Complaint Type", "Descriptor"], separator = " / " }   # non-empty parts joined
    field = { first = ["Complaint Type", "Descriptor"] }                     # the first non-empty
    unit_code = { column = "service_code", pattern = "^([^:]+):", default = "Other" }
    answered_at = { column = "updated_datetime", when = { status = "closed" } }
    due_at = { column = "Due", format = "%d/%m/%Y" }     # a date format for this column only
    lat = { column = "Latitude", round = 3, null_if = ["39"] }

    [values.status]                       # source value -> canonical value, per canonical column
    Closed = "answered"
    "*" = "processing"                    # anything else (without "*", unmatched values pass through)

    [units]
    by = "register"                       # "code" (default), "name" (Vietnamese unit names), "register"
    code_prefix = "EXT-NYC"               # register: unit_code = prefix + "-" + slug(value), e.g. EXT-NYC-NYPD
    label = "NYC 311"                     # register: full_name = "<value> (<label>)"

Only the source columns a rule reads are kept in a row (and so in ``rejects.raw_row``); columns
listed in ``personal`` may not be read by any rule, so they never leave the reader.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import TARGETS, Batch, Target
from ioc.canonical import Reference, RowError, match_key, parse_bool, parse_choice, parse_dossier_status
from ioc.model import (
    DOSSIER_CHANNELS,
    HOTLINE_CHANNELS,
    HOTLINE_RATINGS,
    HOTLINE_STATUSES,
    HOTLINE_URGENCIES,
    STATUS_BY_CODE,
    STATUS_BY_NAME,
)

if TYPE_CHECKING:
    from ioc.db import Database

# Keys a reader adds to each raw row: where the row was in the file, and why it cannot be read at all.
ROW_LINE = "_line"
ROW_PROBLEM = "_problem"
ROW_FILE = "_file"  # the file a row was read from: a reject names the file and the line to correct
ROW_METADATA = (ROW_LINE, ROW_PROBLEM, ROW_FILE)


@dataclass(frozen=True)
class UncomputedFormula:
    """A spreadsheet cell holding a formula whose result was never saved (a file a program wrote, not a spreadsheet app).

    The reader cannot know the value, so a row that reads such a cell is rejected, never taken as blank.
    """

    coordinate: str  # "C4"
    formula: str  # "=B4*2"

    def __str__(self) -> str:
        return self.formula


def flag_uncomputed(row: dict[str, Any]) -> dict[str, Any]:
    """Mark ``row`` (already cut to the columns that are read) as unreadable when one of its cells is an UncomputedFormula."""
    cells = [f"{column} ({value.coordinate})" for column, value in row.items() if isinstance(value, UncomputedFormula)]
    if cells and not row.get(ROW_PROBLEM):
        row[ROW_PROBLEM] = (
            f"line {row.get(ROW_LINE)}: {', '.join(cells)} holds a formula whose result was never saved (the file was "
            "written by a program, not saved by a spreadsheet); open it in Excel or LibreOffice, save it and send it again"
        )
    return row


TIMESTAMP_COLUMNS = frozenset(
    {"received_at", "due_at", "finished_at", "returned_at", "forwarded_at", "answered_at", "updated_at"}
)
NUMBER_COLUMNS = frozenset({"lat", "lon", "supplement_count", "paused_seconds"})
REQUIRED = {
    "dossiers": ("dossier_id", "unit_code", "status", "received_at"),
    "hotline": ("ticket_id", "unit_code", "status", "received_at"),
}
UNIT_MODES = ("code", "name", "register")
TOP_LEVEL_KEYS = frozenset(
    {"name", "target", "source", "timezone", "date_formats", "personal", "sheet", "delimiter", "columns", "values", "units"}
)
RULE_KEYS = frozenset(
    {"column", "value", "join", "first", "separator", "pattern", "format", "round", "null_if", "default", "when"}
)
UNIT_KEYS = frozenset({"by", "code_prefix", "label"})
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
MAX_SLUG = 40
MAX_UNIT_NAME = 200
DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


class MappingError(ValueError):
    """A mapping file that cannot be used, with what to fix."""


def nfc(text: str) -> str:
    """Unicode NFC: legacy Vietnamese encodings and macOS produce decomposed tone marks."""
    return unicodedata.normalize("NFC", text)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or (isinstance(value, float) and value != value)


def slug(value: str) -> str:
    """A stable ASCII code part for a name: 'Solid Waste' -> 'SOLID-WASTE', 'Đà Nẵng' -> 'DA-NANG'."""
    text = nfc(value).replace("đ", "d").replace("Đ", "D")
    ascii_text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    code = re.sub(r"[^A-Z0-9]+", "-", ascii_text.upper()).strip("-")
    if not code or len(code) > MAX_SLUG or not code.isascii():
        # Too long or nothing left: keep a readable prefix and make it unique with a hash of the full value.
        digest = hashlib.sha1(nfc(value).encode()).hexdigest()[:8].upper()
        code = f"{code[: MAX_SLUG - 9]}-{digest}".strip("-")
    return code


@dataclass(frozen=True)
class ColumnRule:
    """How one canonical column is built from a source row."""

    canonical: str
    kind: str  # "column" | "value" | "join" | "first"
    columns: tuple[str, ...] = ()
    constant: str | None = None
    separator: str = " "
    pattern: re.Pattern[str] | None = None
    formats: tuple[str, ...] = ()
    round_to: int | None = None
    null_if: frozenset[str] = frozenset()
    default: str | None = None
    when: tuple[tuple[str, frozenset[str]], ...] = ()

    @property
    def reads(self) -> tuple[str, ...]:
        """Every source column this rule looks at."""
        return self.columns + tuple(column for column, _ in self.when)

    def raw_value(self, row: Mapping[str, Any]) -> Any:
        for column, accepted in self.when:
            condition = row.get(column)
            if _blank(condition) or match_key(str(condition)) not in accepted:
                return None
        value: Any
        if self.kind == "value":
            value = self.constant
        elif self.kind == "column":
            value = row.get(self.columns[0])
        elif self.kind == "first":
            value = next((row.get(c) for c in self.columns if not _blank(row.get(c))), None)
        else:
            parts = [str(row.get(c)).strip() for c in self.columns if not _blank(row.get(c))]
            value = self.separator.join(parts) if parts else None
        if isinstance(value, str):
            value = nfc(value)
        if _blank(value) or (self.null_if and str(value).strip() in self.null_if):
            value = None
        if value is not None and self.pattern is not None:
            found = self.pattern.search(str(value))
            value = (found.group(1) if found.groups() else found.group(0)) if found else None
        return self.default if _blank(value) else value


@dataclass(frozen=True)
class UnitRule:
    by: str = "code"
    code_prefix: str = "EXT"
    label: str = ""


@dataclass
class RowLog:
    """What happened to each row a mapped batch normalised: for the small report next to a dropped file."""

    valid: int = 0
    rejected: list[tuple[Any, str]] = field(default_factory=list)  # (line, reason)

    def reasons(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, reason in self.rejected:
            counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: -item[1]))


def guarded_target(
    base: Target,
    prepare: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
    log: RowLog | None = None,
    explain: Callable[[RowError], str] | None = None,
) -> Target:
    """``base`` whose normaliser first rejects rows the reader flagged, then maps them, and logs the outcome.

    ``explain`` rewrites a reject reason (SourceMapping.name_source_column: which source column it came from).
    """

    def normalize(raw: Mapping[str, Any], reference: Reference, source: str, ingested_at: datetime) -> dict[str, Any]:
        try:
            problem = raw.get(ROW_PROBLEM)
            if problem:
                raise RowError(None, str(problem))
            row = prepare(raw) if prepare is not None else raw
            result = base.normalize(row, reference, source, ingested_at)
        except RowError as error:
            reason = explain(error) if explain is not None else str(error)
            if log is not None:
                log.rejected.append((raw.get(ROW_LINE), reason))
            if reason != str(error):
                raise RowError(None, reason) from error
            raise
        if log is not None:
            log.valid += 1
        return result

    # The SQL fast path reads canonical cells; with a prepare step or a log it would bypass them, so it is
    # only kept for the plain guard (canonical files).
    fast = base.normalize_staged if prepare is None and log is None else None
    return dataclasses.replace(base, normalize=normalize, normalize_staged=fast)


@dataclass(frozen=True)
class SourceMapping:
    """A loaded mapping file: build canonical rows from source rows, and the batches to write them."""

    name: str
    target: Target
    rules: Mapping[str, ColumnRule]
    values: Mapping[str, Mapping[str, str]]
    units: UnitRule = UnitRule()
    source: str | None = None
    timezone: tzinfo = DEFAULT_ZONE
    date_formats: tuple[str, ...] = ()
    personal: frozenset[str] = frozenset()
    sheet: str | None = None
    delimiter: str | None = None

    @property
    def connector_name(self) -> str:
        return f"import:{self.name}"

    @property
    def reads(self) -> tuple[str, ...]:
        """Every source column the mapping reads, in rule order, each once."""
        seen: dict[str, None] = {}
        for rule in self.rules.values():
            for column in rule.reads:
                seen.setdefault(column, None)
        return tuple(seen)

    def required_columns(self) -> dict[str, tuple[str, ...]]:
        """Canonical column -> source columns of which at least one must be in a file's header."""
        needed: dict[str, tuple[str, ...]] = {}
        for canonical in REQUIRED[self.target.name]:
            rule = self.rules[canonical]
            if rule.kind != "value" and rule.default is None:
                needed[canonical] = rule.columns
        return needed

    def strip(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Only the columns the mapping reads (dotted paths reach into nested JSON); personal ones never."""
        row: dict[str, Any] = {key: record[key] for key in ROW_METADATA if key in record}
        for column in self.reads:
            row[column] = _lookup(record, column)
        # Rounded columns (coordinates) are rounded here already, so not even a reject keeps the precise value.
        for rule in self.rules.values():
            if rule.round_to is not None and rule.kind == "column":
                value: Any = row.get(rule.columns[0])
                # Not a number: left as it is, and the normaliser's reject says so.
                if _blank(value) or str(value).strip() in rule.null_if:
                    row[rule.columns[0]] = None
                    continue
                with contextlib.suppress(TypeError, ValueError):
                    row[rule.columns[0]] = round(float(value), rule.round_to)
        return flag_uncomputed(row)

    def _value_map(self, canonical: str, value: Any) -> Any:
        table = self.values.get(canonical)
        if not table or value is None:
            return value
        text = str(value).strip()
        if text in table:
            return table[text]
        key = match_key(text)
        if key in table:
            return table[key]
        return table.get("*", value)

    def unit_value(self, row: Mapping[str, Any]) -> Any:
        """The unit as the source names it, after the value map."""
        return self._value_map("unit_code", self.rules["unit_code"].raw_value(row))

    def register_code(self, value: Any) -> str:
        return f"{self.units.code_prefix}-{slug(str(value))}"

    def to_canonical(self, row: Mapping[str, Any], unit_names: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The canonical-named row for the normaliser, or RowError naming the canonical and the source column."""
        out = {canonical: self.canonical_value(row, canonical, unit_names) for canonical in self.rules}
        if self.source and not out.get("source"):
            out["source"] = self.source
        return out

    def name_source_column(self, error: RowError) -> str:
        """ "status: 'X' is not one of …" from the normaliser becomes "status (Trạng thái): …": the column to look at."""
        rule = self.rules.get(error.column) if error.column else None
        if rule is None or not rule.columns:
            return str(error)
        return f"{error.column} ({rule.columns[0]}): {error.problem}"

    def canonical_value(self, row: Mapping[str, Any], canonical: str, unit_names: Mapping[str, str] | None = None) -> Any:
        """One canonical column of ``row`` (None when the mapping has no rule for it), or RowError."""
        rule = self.rules.get(canonical)
        if rule is None:
            return None
        value = self._value_map(canonical, rule.raw_value(row))
        if value is None:
            return None
        where = f"{canonical} ({rule.columns[0]})" if rule.columns else canonical
        if canonical in TIMESTAMP_COLUMNS:
            value = self._timestamp(value, rule, where)
        elif rule.round_to is not None:
            value = _rounded(value, rule.round_to, where)
        elif canonical == "unit_code":
            value = self._unit_code(value, unit_names)
        return value if isinstance(value, datetime | float | int) else str(value)

    def _unit_code(self, value: Any, unit_names: Mapping[str, str] | None) -> str:
        text = str(value).strip()
        if self.units.by == "register":
            return self.register_code(text)
        if self.units.by == "name" and unit_names is not None:
            # An unknown name passes through unchanged, so the reject says which name was not found.
            return unit_names.get(match_key(text), text)
        return text

    def _timestamp(self, value: Any, rule: ColumnRule, where: str) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            moment = self._parse_text_time(str(value).strip(), rule.formats or self.date_formats, where)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.timezone)
        return moment

    @staticmethod
    def _parse_text_time(text: str, formats: Sequence[str], where: str) -> datetime:
        first_problem = ""
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt)
            except ValueError as error:
                if not first_problem and not str(error).startswith(("time data", "unconverted data")):
                    first_problem = str(error)  # e.g. "day is out of range for month": the date is impossible
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as error:
            if not first_problem and not formats and "out of range" in str(error):
                first_problem = str(error)
        expected = " or ".join([*formats, "ISO 8601"])
        if first_problem:
            raise RowError(None, f"{where}: '{text[:40]}' is not a real date ({first_problem})")
        raise RowError(None, f"{where}: '{text[:40]}' is not a date-time (expected {expected})")

    # -- batches -------------------------------------------------------------------------------

    def unit_names(self, db: Database) -> dict[str, str]:
        """Unit name and full name (NFC, case-folded) -> unit_code, for ``by = "name"``."""
        names: dict[str, str] = {}
        for code, name, full_name in db.execute("SELECT unit_code, name, full_name FROM units"):
            for text in (name, full_name, code):
                if text:
                    names.setdefault(match_key(str(text)), code)
        return names

    def units_for(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
        """The units these rows name, as ``Batch.units`` (kind 'other', a stable generated code), each once."""
        wanted: dict[str, str] = {}
        for row in rows:
            if row.get(ROW_PROBLEM):
                continue
            value = self.unit_value(row)
            if not _blank(value):
                name = " ".join(str(value).split())[:MAX_UNIT_NAME]
                wanted.setdefault(self.register_code(value), name)
        label = self.units.label or self.name
        return [
            {"unit_code": code, "name": name, "full_name": f"{name} ({label})", "name_en": name} for code, name in wanted.items()
        ]

    def batch(
        self, db: Database | None, records: Sequence[Mapping[str, Any]], cursor: str | None = None, log: RowLog | None = None
    ) -> Batch:
        """A batch for ``ingest_batches``: personal and unread columns gone, rows mapped on write.

        Registered units travel in ``Batch.units`` and are inserted in the batch's own transaction;
        ``db`` is only read, for ``by = "name"`` (the units' names).
        """
        rows = [self.strip(record) for record in records]
        if self.units.by == "name" and db is None:
            raise ValueError(f"mapping {self.name} looks units up by name: pass the store")
        names = self.unit_names(db) if self.units.by == "name" and db is not None else None
        units = self.units_for(rows) if self.units.by == "register" else []
        target = guarded_target(self.target, lambda row: self.to_canonical(row, names), log, self.name_source_column)
        return Batch(target, rows, cursor, units)


def _lookup(record: Mapping[str, Any], column: str) -> Any:
    if column in record:
        return record[column]
    node: Any = record
    for part in column.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return None if isinstance(node, Mapping | list) else node


def _rounded(value: Any, digits: int, where: str) -> float:
    try:
        return round(float(value), digits)
    except (TypeError, ValueError):
        raise RowError(None, f"{where}: '{str(value)[:20]}' is not a number") from None


# -- loading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """The closed set of values a canonical column takes: the normaliser's own parser judges, ``allowed`` names them."""

    parse: Callable[[str], object]
    allowed: str


def _choice(column: str, choices: tuple[str, ...]) -> Vocabulary:
    return Vocabulary(lambda text: parse_choice(text, column, choices), ", ".join(choices))


def _boolean(column: str) -> Vocabulary:
    return Vocabulary(lambda text: parse_bool(text, column), "true, false, yes, no, 1, 0")


# A value map or constant onto anything else would reject every row it touches, so it is refused when the mapping
# loads. The normaliser's parsers judge, so both accept the same values (in any case; a dossier status also as a code).
CLOSED_VOCABULARIES: dict[str, dict[str, Vocabulary]] = {
    "dossiers": {
        "status": Vocabulary(
            parse_dossier_status, f"{', '.join(STATUS_BY_NAME)} (or a code {min(STATUS_BY_CODE)}-{max(STATUS_BY_CODE)})"
        ),
        "channel": _choice("channel", DOSSIER_CHANNELS),
        **{column: _boolean(column) for column in ("extended", "paid_online", "digitized", "e_result", "is_proactive")},
    },
    "hotline": {
        "status": _choice("status", HOTLINE_STATUSES),
        "channel": _choice("channel", HOTLINE_CHANNELS),
        "urgency": _choice("urgency", HOTLINE_URGENCIES),
        "rating": _choice("rating", HOTLINE_RATINGS),
        "published": _boolean("published"),
    },
}


def load_mapping(path: str | Path) -> SourceMapping:
    """Read and check a mapping file; MappingError says what is wrong, starting with the file's name."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise MappingError(f"cannot read mapping {path}: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise MappingError(f"{path.name} is not valid TOML: {error}") from error
    try:
        return parse_mapping(data, default_name=path.stem)
    except MappingError as error:
        if str(error).startswith(path.name):
            raise
        raise MappingError(f"{path.name}: {error}") from None


def parse_mapping(data: Mapping[str, Any], default_name: str = "mapping") -> SourceMapping:
    """A SourceMapping from the parsed TOML table; MappingError says what to fix."""
    _refuse_unknown(data, TOP_LEVEL_KEYS, "unknown keys")
    target = _target(data)
    allowed = set(target.columns) - {"ingested_at"}
    columns = data.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        raise MappingError("[columns] is missing: say which source column feeds each canonical column")
    rules = {nfc(str(canonical)): _rule(str(canonical), spec, allowed) for canonical, spec in columns.items()}
    missing = [c for c in REQUIRED[target.name] if c not in rules]
    if missing:
        raise MappingError(f"[columns] lacks {', '.join(missing)}, which every {target.name} row needs")
    values = _value_maps(data.get("values"), target.name, allowed)
    units = _units(_table(data.get("units"), "[units]"), default_name)
    personal = frozenset(nfc(column).strip() for column in _texts(data.get("personal"), "personal"))
    read = {column for rule in rules.values() for column in rule.reads}
    leaked = sorted(personal & read)
    if leaked:
        raise MappingError(f"columns marked personal are also read by a rule: {', '.join(leaked)}")
    try:
        zone: tzinfo = ZoneInfo(str(data.get("timezone", DEFAULT_TIMEZONE)))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise MappingError(f"timezone {data.get('timezone')!r} is not a known IANA time zone") from error
    delimiter = data.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise MappingError("delimiter must be one character")
    mapping = SourceMapping(
        name=str(data.get("name") or default_name),
        target=target,
        rules=rules,
        values=values,
        units=units,
        source=str(data["source"]) if data.get("source") else None,
        timezone=zone,
        date_formats=tuple(_date_format(text, "date_formats") for text in _texts(data.get("date_formats"), "date_formats")),
        personal=personal,
        sheet=str(data["sheet"]) if data.get("sheet") else None,
        delimiter=delimiter,
    )
    _check_constants(mapping)
    return mapping


def _refuse_unknown(given: Iterable[str], allowed: frozenset[str], what: str) -> None:
    """MappingError listing the allowed keys, and the one probably meant, when ``given`` holds any other."""
    unknown = sorted(set(given) - allowed)
    if not unknown:
        return
    guesses = [f"{close[0]!r} for {key!r}" for key in unknown if (close := difflib.get_close_matches(key, sorted(allowed), n=1))]
    hint = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
    raise MappingError(f"{what} {unknown}{hint}; allowed: {sorted(allowed)}")


def _target(data: Mapping[str, Any]) -> Target:
    choices = " or ".join(f'"{name}"' for name in sorted(TARGETS))
    if not data:
        raise MappingError(f"the mapping is empty: it needs at least target = {choices} and a [columns] table")
    if "target" not in data:
        raise MappingError(f"target is missing: say which table the mapping feeds, target = {choices}")
    name = data["target"]
    if not isinstance(name, str) or name not in TARGETS:
        raise MappingError(f"target must be one of {', '.join(sorted(TARGETS))}, not {name!r}")
    return TARGETS[name]


def _table(spec: Any, where: str) -> Mapping[str, Any]:
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise MappingError(f"{where} must be a table, not {spec!r}")
    return spec


def _texts(spec: Any, where: str) -> tuple[str, ...]:
    """A list of strings (numbers are taken as written).

    A single string is accepted as a list of one rather than refused: it cannot mean anything else (iterating it
    would give its characters), and a column's ``format`` has always accepted one.
    """
    if spec is None:
        return ()
    if isinstance(spec, str):
        return (spec,)
    if isinstance(spec, list) and all(isinstance(item, str | int | float) for item in spec):
        return tuple(str(item) for item in spec)
    raise MappingError(f'{where} must be a list of strings such as ["..."], not {spec!r}')


def _date_format(text: str, where: str) -> str:
    """``text`` if strptime can use it; otherwise MappingError naming it, as every date would be rejected."""
    directives = re.findall(r"%(.?)", text.replace("%%", ""))
    if not directives:
        raise MappingError(f'{where}: {text!r} has no % directive; strptime formats look like "%d/%m/%Y %H:%M"')
    try:
        # strptime compiles the format before matching it: failing only to match "" means the format is sound.
        datetime.strptime("", text)
    except ValueError as error:
        if not str(error).startswith("time data"):
            raise MappingError(f"{where}: {text!r} is not a usable date format ({error})") from None
    except re.error:
        # Each directive becomes a named group of a regular expression, so one read twice cannot compile.
        repeated = [f"%{directive}" for directive in dict.fromkeys(directives) if directives.count(directive) > 1]
        detail = f"used more than once: {', '.join(repeated)}" if repeated else "two directives read the same field"
        raise MappingError(f"{where}: {text!r} is not a usable date format ({detail})") from None
    return text


def _value_maps(spec: Any, target: str, allowed: set[str]) -> dict[str, dict[str, str]]:
    """The [values.<column>] tables, keyed exactly and by ``match_key``; values outside a closed vocabulary refused."""
    values: dict[str, dict[str, str]] = {}
    for canonical, table in _table(spec, "[values]").items():
        if canonical not in allowed:
            raise MappingError(f"[values.{canonical}]: '{canonical}' is not a canonical {target} column")
        if not isinstance(table, Mapping):
            raise MappingError(f"[values.{canonical}] must be a table of source value = canonical value")
        entries: dict[str, str] = {}
        for source_value, canonical_value in table.items():
            where = f'[values.{canonical}] {_toml_key(str(source_value))} = "{canonical_value}"'
            if isinstance(canonical_value, Mapping | list):
                raise MappingError(f"{where}: give one canonical value")
            _check_canonical_value(target, canonical, str(canonical_value), where)
            entries[nfc(str(source_value)).strip()] = str(canonical_value)
            entries.setdefault(match_key(str(source_value)), str(canonical_value))
        values[canonical] = entries
    return values


def _check_constants(mapping: SourceMapping) -> None:
    """Constants and defaults, after the value map, must be canonical too: they reach every row the rule fills."""
    for canonical, rule in mapping.rules.items():
        if rule.kind == "value" and rule.constant is not None:
            where = f'[columns] {canonical} = {{ value = "{rule.constant}" }}'
            _check_canonical_value(mapping.target.name, canonical, mapping._value_map(canonical, rule.constant), where)
        if rule.default is not None:
            where = f'[columns] {canonical}.default = "{rule.default}"'
            _check_canonical_value(mapping.target.name, canonical, mapping._value_map(canonical, rule.default), where)


def _check_canonical_value(target: str, canonical: str, value: str, where: str) -> None:
    """MappingError when ``value`` is outside the column's closed vocabulary; free-text columns take anything."""
    vocabulary = CLOSED_VOCABULARIES[target].get(canonical)
    if vocabulary is None:
        return
    text = value.strip()
    if not text and canonical in REQUIRED[target]:
        raise MappingError(f"{where}: an empty {canonical}, but every {target} row needs one; allowed: {vocabulary.allowed}")
    if not text:
        return  # the normaliser's default (or no value) for an optional column
    try:
        vocabulary.parse(text)
    except RowError:
        raise MappingError(
            f"{where}: '{text}' is not an accepted {canonical} for {target}; allowed: {vocabulary.allowed}"
        ) from None


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f'"{key}"'


def _units(spec: Mapping[str, Any], default_name: str) -> UnitRule:
    _refuse_unknown(spec, UNIT_KEYS, "[units]: unknown keys")
    by = str(spec.get("by", "code"))
    if by not in UNIT_MODES:
        raise MappingError(f"[units] by must be one of {', '.join(UNIT_MODES)}, not {by!r}")
    prefix = str(spec.get("code_prefix") or f"EXT-{slug(default_name)}")
    if not re.fullmatch(r"[A-Z0-9-]{1,30}", prefix):
        raise MappingError(f"[units] code_prefix {prefix!r} must be 1-30 of A-Z, 0-9 and '-'")
    return UnitRule(by=by, code_prefix=prefix, label=str(spec.get("label") or ""))


def _names(spec: Any, what: str) -> tuple[str, ...]:
    if isinstance(spec, str):
        return (nfc(spec).strip(),)
    if isinstance(spec, list) and spec and all(isinstance(item, str) for item in spec):
        return tuple(nfc(item).strip() for item in spec)
    raise MappingError(f"{what} must be a column name or a list of column names")


def _rule(canonical: str, spec: Any, allowed: set[str]) -> ColumnRule:
    if canonical not in allowed:
        raise MappingError(f"[columns] {canonical}: not a canonical column; use one of {', '.join(sorted(allowed))}")
    if isinstance(spec, str):
        return ColumnRule(canonical, "column", columns=_names(spec, canonical))
    if not isinstance(spec, Mapping):
        raise MappingError(f'[columns] {canonical}: give a column name or a table such as {{ column = "..." }}')
    _refuse_unknown(spec, RULE_KEYS, f"[columns] {canonical}: unknown options")
    kinds = [kind for kind in ("column", "value", "join", "first") if kind in spec]
    if len(kinds) != 1:
        raise MappingError(f"[columns] {canonical}: give exactly one of column, value, join, first")
    kind = kinds[0]
    columns = () if kind == "value" else _names(spec[kind], f"[columns] {canonical}.{kind}")
    if kind == "column" and len(columns) != 1:
        raise MappingError(f"[columns] {canonical}.column must be one column name (use first or join for several)")
    pattern = None
    if "pattern" in spec:
        try:
            pattern = re.compile(str(spec["pattern"]))
        except re.error as error:
            raise MappingError(f"[columns] {canonical}.pattern is not a regular expression: {error}") from error
    formats = tuple(
        _date_format(text, f"[columns] {canonical}.format")
        for text in _texts(spec.get("format"), f"[columns] {canonical}.format")
    )
    when = spec.get("when") or {}
    if not isinstance(when, Mapping):
        raise MappingError(f"[columns] {canonical}.when must be a table of source column = value or [values]")
    round_to = spec.get("round")
    if round_to is not None and (not isinstance(round_to, int) or not 0 <= round_to <= 8):
        raise MappingError(f"[columns] {canonical}.round must be a whole number of decimals 0-8")
    return ColumnRule(
        canonical,
        kind,
        columns=columns,
        constant=None if kind != "value" else str(spec["value"]),
        separator=str(spec.get("separator", " ")),
        pattern=pattern,
        formats=formats,
        round_to=round_to,
        null_if=frozenset(text.strip() for text in _texts(spec.get("null_if"), f"[columns] {canonical}.null_if")),
        default=None if spec.get("default") is None else str(spec["default"]),
        when=tuple(
            (
                nfc(str(column)).strip(),
                frozenset(match_key(str(v)) for v in (accepted if isinstance(accepted, list) else [accepted])),
            )
            for column, accepted in when.items()
        ),
    )
