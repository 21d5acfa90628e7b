"""Sources declared in one TOML file (config/sources.toml): kind, interval, options; secrets only from the environment."""

from __future__ import annotations

import difflib
import os
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Connector, RetryPolicy
from ioc.config import PROJECT_ROOT, default_of

if TYPE_CHECKING:
    from connectors.mapping import SourceMapping
    from ioc.db import Database

DEFAULT_SOURCES_FILE = Path(default_of("sources_file"))
DEFAULT_INTERVAL_SECONDS = 300
# An option whose name ends in this holds the NAME of an environment variable, never the secret itself.
SECRET_SUFFIX = "_env"
# Option names that must never carry a literal secret in the file.
SECRET_NAMES = frozenset({"password", "api_key", "token", "secret"})


class SourceConfigError(ValueError):
    """A sources file that cannot be used, with what to fix."""


@dataclass(frozen=True)
class SourceConfig:
    """One ``[sources.NAME]`` table: its kind, interval, retry policy and kind-specific options (secrets resolved)."""

    name: str
    kind: str
    interval_seconds: int
    retry: RetryPolicy
    options: Mapping[str, Any] = field(default_factory=dict)

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def require(self, key: str) -> Any:
        value = self.options.get(key)
        if value is None or value == "":
            raise self.problem(f"option '{key}' is required")
        return value

    def problem(self, text: str) -> SourceConfigError:
        """An error about this source, prefixed the way every source error is, so the user sees which table to fix."""
        return SourceConfigError(f"source '{self.name}' (kind {self.kind}): {text}")


def load_sources(path: str | Path = DEFAULT_SOURCES_FILE, environ: Mapping[str, str] | None = None) -> dict[str, SourceConfig]:
    """Every source of the file, with ``*_env`` options replaced by their environment values."""
    return parse_sources(_read_toml(Path(path)), os.environ if environ is None else environ)


@dataclass(frozen=True)
class SourcesFile:
    """A sources file read source by source: the usable sources, and what to fix in each table that is not."""

    path: Path
    sources: dict[str, SourceConfig]
    problems: dict[str, str]
    # Every table's interval as declared (the default where it is missing or invalid), so a source set
    # apart still has an expected interval and shows as stale rather than fine.
    intervals: dict[str, int]


def read_sources_file(path: str | Path, environ: Mapping[str, str] | None = None) -> SourcesFile:
    """Like ``load_sources``, but a bad table (or a missing secret) sets that source apart instead of failing the file.

    Raises SourceConfigError only when the file itself is unusable: missing, unreadable, not TOML, no sources.
    """
    path = Path(path)
    tables = _tables(_read_toml(path))
    environ = os.environ if environ is None else environ
    sources: dict[str, SourceConfig] = {}
    problems: dict[str, str] = {}
    intervals: dict[str, int] = {}
    for name, spec in tables.items():
        declared = spec.get("interval_seconds") if isinstance(spec, Mapping) else None
        if isinstance(declared, int) and not isinstance(declared, bool) and declared >= 1:
            intervals[name] = declared
        else:
            intervals[name] = DEFAULT_INTERVAL_SECONDS
        try:
            sources[name] = _source(name, spec, environ)
        except SourceConfigError as error:
            problems[name] = str(error)
    return SourcesFile(path, sources, problems, intervals)


def parse_sources(data: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, SourceConfig]:
    return {name: _source(name, spec, environ) for name, spec in _tables(data).items()}


def _read_toml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise SourceConfigError(f"sources file {path} is a directory, not a file (give the sources TOML file itself)")
    if not path.is_file():
        raise SourceConfigError(f"sources file {path} not found (copy config/sources.example.toml to start one)")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SourceConfigError(f"sources file {path}: {error}") from error
    except UnicodeDecodeError as error:
        raise SourceConfigError(f"sources file {path} is not UTF-8 text ({error.reason} at byte {error.start})") from error
    except OSError as error:
        raise SourceConfigError(f"sources file {path} cannot be read: {error.strerror or error}") from error


def _tables(data: Mapping[str, Any]) -> Mapping[str, Any]:
    tables = data.get("sources")
    if not isinstance(tables, Mapping) or not tables:
        raise SourceConfigError("the sources file has no [sources.NAME] table")
    return tables


def _source(name: str, spec: Any, environ: Mapping[str, str]) -> SourceConfig:
    if not isinstance(spec, Mapping):
        raise SourceConfigError(f"[sources.{name}] must be a table")
    options = dict(spec)
    kind = options.pop("kind", None)
    if kind not in CONNECTOR_KINDS:
        kinds = ", ".join(sorted(CONNECTOR_KINDS))
        if kind is None:
            raise SourceConfigError(f"source '{name}': needs kind = \"…\", one of {kinds}")
        raise SourceConfigError(f"source '{name}': kind must be one of {kinds} (got {kind!r})")
    interval = options.pop("interval_seconds", DEFAULT_INTERVAL_SECONDS)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise SourceConfigError(f"source '{name}': interval_seconds must be a whole number of seconds ≥ 1")
    retry = _retry(name, options.pop("retry", {}))
    _check_option_names(name, kind, options)
    resolved = resolve_secrets(name, options, environ)
    _check_option_values(name, kind, resolved)
    return SourceConfig(name, kind, interval, retry, resolved)


def _retry(name: str, spec: Any) -> RetryPolicy:
    if not isinstance(spec, Mapping):
        raise SourceConfigError(f"source '{name}': [retry] must be a table")
    unknown = set(spec) - set(RETRY_OPTIONS)
    if unknown:
        raise SourceConfigError(
            f"source '{name}': unknown retry option(s) {', '.join(sorted(unknown))}; allowed: {', '.join(RETRY_OPTIONS)}"
        )
    for option, check in RETRY_OPTIONS.items():
        problem = check(spec[option]) if option in spec else None
        if problem is not None:
            raise SourceConfigError(f"source '{name}': retry {option} {problem}")
    return RetryPolicy(
        attempts=int(spec.get("attempts", 4)),
        base_delay=float(spec.get("base_delay_seconds", 1.0)),
        factor=float(spec.get("factor", 2.0)),
        max_delay=float(spec.get("max_delay_seconds", 60.0)),
    )


def _check_option_names(name: str, kind: str, options: Mapping[str, Any]) -> None:
    """Refuse options the kind does not read: a typo would otherwise fall back to the default without a word."""
    allowed = KIND_OPTIONS[kind]
    # password_env = "VAR" is the option password, read from the environment.
    unknown = {key for key in options if key.removesuffix(SECRET_SUFFIX) not in allowed}
    if unknown:
        written = sorted(f"{key}{SECRET_SUFFIX}" if key in SECRET_NAMES else key for key in allowed)
        guesses = [
            f"{close[0]} for {key}"
            for key in sorted(unknown)
            if (close := difflib.get_close_matches(key, written, n=1, cutoff=0.7))
        ]
        raise SourceConfigError(
            f"source '{name}' (kind {kind}): unknown option(s) {', '.join(sorted(unknown))}; allowed: {', '.join(written)}"
            + (f"; did you mean {', '.join(guesses)}?" if guesses else "")
        )


def _check_option_values(name: str, kind: str, options: Mapping[str, Any]) -> None:
    for key, value in options.items():
        problem = KIND_OPTIONS[kind][key](value)
        if problem is not None:
            raise SourceConfigError(f"source '{name}' (kind {kind}): {key} {problem}")


def resolve_secrets(name: str, options: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``password_env = "VAR"`` becomes ``password = <value of VAR>``; a missing variable is an error naming it."""
    resolved: dict[str, Any] = {}
    for key, value in options.items():
        if key in SECRET_NAMES:
            raise SourceConfigError(
                f"source '{name}': '{key}' may not be written in the sources file; "
                f'set {key}{SECRET_SUFFIX} = "IOC_SRC_{name.upper()}_{key.upper()}" and export that variable'
            )
        if key.endswith(SECRET_SUFFIX):
            variable = str(value)
            secret = environ.get(variable)
            if secret is None or secret == "":
                state = "is not set" if secret is None else "is set but empty"
                raise SourceConfigError(
                    f"source '{name}': environment variable {variable} {state} (named by {key} in the sources file)"
                )
            resolved[key.removesuffix(SECRET_SUFFIX)] = secret
        else:
            resolved[key] = value
    return resolved


def _simulator(db: Database, config: SourceConfig) -> Connector:
    from connectors.simulator import Simulator, other_sources_in

    others = other_sources_in(db)
    if others is not None:
        raise config.problem(
            f"not started: the store holds rows of other sources ({others}), and the simulator's made-up dossiers and "
            "tickets for the same communes would count in their figures. Delete this table (or set "
            "IOC_SIMULATOR_ENABLED=false), or give a demo a store of its own (IOC_DB_PATH, or --db)"
        )
    # Always known as "simulator" (its rows' source, its cursor): the scheduler keeps one, and runs it first.
    return Simulator.from_store(
        db,
        seed=int(config.option("seed", 42)),
        backfill_days=int(config.option("backfill_days", 120)),
        interval_seconds=config.interval_seconds,
    )


def _sql(db: Database, config: SourceConfig) -> Connector:
    from connectors.sql import SqlConnector

    return SqlConnector.from_config(config)


def _open311(db: Database, config: SourceConfig) -> Connector:
    from connectors.open311 import Open311Connector

    return Open311Connector.from_config(config)


def _json_http(db: Database, config: SourceConfig) -> Connector:
    from connectors.json_http import JsonHttpConnector

    return JsonHttpConnector.from_config(db, config)


def _file_drop(db: Database, config: SourceConfig) -> Connector:
    from connectors.files import FileDropConnector

    mapping, target = config.option("mapping"), config.option("target")
    if (mapping is None) == (target is None):
        raise config.problem(
            "give either 'mapping' (a mapping file) or 'target' "
            "(dossiers or hotline, for files whose header uses the canonical column names)"
        )
    loaded = load_source_mapping(config) if mapping is not None else None
    try:
        return FileDropConnector(
            project_path(config.require("folder")),
            loaded,
            target=target,
            db=db,
            name=config.name,
            interval_seconds=config.interval_seconds,
            settle_seconds=float(config.option("settle_seconds", 5.0)),
        )
    except ValueError as error:
        raise config.problem(str(error)) from error


def load_source_mapping(config: SourceConfig) -> SourceMapping:
    """The mapping file a source's ``mapping`` option names; a SourceConfigError names the source and the file's problem."""
    from connectors.mapping import MappingError, load_mapping

    path = project_path(config.require("mapping"))
    if not path.is_file():
        where = "is a directory, not a mapping file" if path.is_dir() else "not found"
        raise config.problem(f"mapping file {path} {where}")
    try:
        return load_mapping(path)
    except MappingError as error:
        # The mapping's errors start with its file name; the full path says which file that is.
        raise config.problem(f"mapping {path.parent}/{error}") from error


def project_path(value: Any) -> Path:
    """A path from the sources file: relative paths are relative to the project root."""
    path = Path(str(value))
    return path if path.is_absolute() else PROJECT_ROOT / path


# What is wrong with an option's value (the phrase after its name), or None when it is fine.
OptionCheck = Callable[[Any], str | None]


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be text in quotes, not {value!r}"


def _table(value: Any) -> str | None:
    return None if isinstance(value, Mapping) else "must be a table ([sources.NAME.OPTION] or { key = value, … })"


def _table_of_text(value: Any) -> str | None:
    if not isinstance(value, Mapping) or not all(isinstance(item, str) for item in value.values()):
        return 'must be a table of key = "text"'
    return None


def _table_of_tables(value: Any) -> str | None:
    if not isinstance(value, Mapping) or not all(isinstance(item, Mapping) for item in value.values()):
        return "must hold one table per column ([sources.NAME.values.COLUMN])"
    return None


def _whole_number(minimum: int | None = None) -> OptionCheck:
    bound = "" if minimum is None else f" ≥ {minimum}"

    def check(value: Any) -> str | None:
        # TOML true/false are Python bools, which are ints: never a count.
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            return f"must be a whole number{bound}, not {value!r}"
        return None

    return check


def _number(minimum: float, *, above: bool = False) -> OptionCheck:
    """A number ≥ minimum (> minimum with ``above``): timeouts and waits, where 0 or less cannot work."""
    bound = f"> {minimum:g}" if above else f"≥ {minimum:g}"

    def check(value: Any) -> str | None:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or value < minimum or (above and value == minimum):
            return f"must be a number {bound}, not {value!r}"
        return None

    return check


def _web_url(credentials_hint: str) -> OptionCheck:
    """An http(s) address with a host and no user:password@ (never echoed: it may hold a password)."""

    def check(value: Any) -> str | None:
        example = "(e.g. https://api.example.gov.vn/v2)"
        if not isinstance(value, str):
            return f"must be an http:// or https:// address in quotes {example}"
        try:
            parts = urllib.parse.urlsplit(value.strip())
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            return f"is not a web address {example}"
        if "@" in parts.netloc:
            # The file, the console, ingest_runs.error and /health would all show the password.
            return f"must not carry a user name or password (user:password@host): {credentials_hint}"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"must be an http:// or https:// address with a host name {example}"
        return None

    return check


POSITIVE_SECONDS = _number(0, above=True)
RETRY_OPTIONS: dict[str, OptionCheck] = {
    "attempts": _whole_number(1),
    "base_delay_seconds": _number(0),
    "factor": _number(1),
    "max_delay_seconds": _number(0),
}
# Every option each kind reads, with what it accepts; anything else in a table is refused at load time.
# Secrets appear under their option name (password), written in the file as password_env.
KIND_OPTIONS: dict[str, dict[str, OptionCheck]] = {
    "simulator": {"seed": _whole_number(), "backfill_days": _whole_number(0)},
    "sql": {
        "url": _text,
        "password": _text,
        "schema": _text,
        "table": _text,
        "columns": _table_of_text,
        "values": _table_of_tables,
        "history": _table_of_text,
        "page_size": _whole_number(1),
        "lookback_seconds": _whole_number(0),
        "timeout_seconds": POSITIVE_SECONDS,
        "timezone": _text,
        "source": _text,
    },
    "open311": {
        "base_url": _web_url("remove them from the URL: the Open311 connector reads public endpoints and sends no login"),
        "source": _text,
        "jurisdiction_id": _text,
        "page_size": _whole_number(1),
        "backfill_days": _whole_number(0),
        "lookback_days": _whole_number(0),
        "lookback_seconds": _whole_number(0),
        "timezone": _text,
        "window_days": _whole_number(1),
        "timeout_seconds": POSITIVE_SECONDS,
        "unit_prefix": _text,
        "unit_label": _text,
        "status_map": _table_of_text,
        "channel": _text,
        "coordinate_digits": _whole_number(0),
    },
    "json_http": {
        "url": _web_url(
            'write the user name as username = "…" and the password as password_env = "VARIABLE" '
            "(or a bearer token as token_env), then export that variable"
        ),
        "mapping": _text,
        "params": _table,
        "records_path": _text,
        "cursor_param": _text,
        "cursor_format": _text,
        "pagination": _text,
        "page_param": _text,
        "page_size_param": _text,
        "page_size": _whole_number(1),
        "first_page": _whole_number(0),
        "next_path": _text,
        "lookback_seconds": _whole_number(0),
        "username": _text,
        "password": _text,
        "token": _text,
        "user_agent": _text,
        "timeout_seconds": POSITIVE_SECONDS,
    },
    "file_drop": {"folder": _text, "mapping": _text, "target": _text, "settle_seconds": _number(0)},
}

# Each kind builds its connector from a SourceConfig.
CONNECTOR_KINDS: dict[str, Callable[[Database, SourceConfig], Connector]] = {
    "simulator": _simulator,
    "sql": _sql,
    "open311": _open311,
    "json_http": _json_http,
    "file_drop": _file_drop,
}


def build_connector(db: Database, config: SourceConfig) -> Connector:
    """The connector a source declares; every kind but the simulator is named after the source (cursor and health per source).

    The simulator keeps its fixed name, under which its cursor and sample history are stored.
    An option a connector refuses (a ValueError) becomes a SourceConfigError naming the source.
    """
    try:
        return CONNECTOR_KINDS[config.kind](db, config)
    except SourceConfigError:
        raise
    except ValueError as error:
        raise config.problem(str(error)) from error
