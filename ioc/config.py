"""Every setting of the IOC in one declarative table, with defaults that run embedded."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_TIMEZONE = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default, type and the help a newcomer reads."""

    name: str
    default: Any
    help: str

    @property
    def env_var(self) -> str:
        return "IOC_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("db_path", str(PROJECT_ROOT / "data" / "ioc.duckdb"), "DuckDB store file; created on first start."),
    Setting("host", "127.0.0.1", "Address the web server listens on."),
    Setting("port", 8050, "Port the web server listens on."),
    Setting("city_name", "Đà Nẵng", "Name of the city shown in headers."),
    Setting(
        "sources_file",
        str(PROJECT_ROOT / "config" / "sources.toml"),
        "Sources the scheduler runs (TOML, see connectors/README.md). Without this file the app runs on the simulator.",
    ),
    Setting(
        "simulator_enabled",
        True,
        "Run the built-in simulator (live demo data). With a sources file, its simulator table runs only if this is true.",
    ),
    Setting("simulator_seed", 42, "Seed of the simulator without a sources file: the same seed gives the same data."),
    Setting("simulator_interval_seconds", 5, "Seconds between two simulator runs without a sources file."),
    Setting("simulator_backfill_days", 120, "Days of history the simulator writes into an empty store without a sources file."),
    Setting("refresh_interval_ms", 3000, "How often browsers ask whether the data changed."),
    Setting("stale_after_factor", 3, "A source is stale after this many missed intervals."),
)

_SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def default_of(name: str) -> Any:
    """The default of the setting ``name`` (before any environment variable)."""
    return _SETTINGS_BY_NAME[name].default


def _coerce(raw: str, default: Any) -> Any:
    """Parse an environment string into the type of the setting's default."""
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"expected true/false, got {raw!r}")
    if isinstance(default, int):
        return int(raw)
    return raw


@dataclass
class Config:
    """Resolved settings: defaults, then IOC_* environment variables, then explicit overrides."""

    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, **overrides: Any) -> Config:
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = os.environ.get(setting.env_var)
            if raw is None:
                values[setting.name] = setting.default
                continue
            try:
                values[setting.name] = _coerce(raw, setting.default)
            except ValueError as error:
                raise SystemExit(f"Setting {setting.env_var}: {error}") from error
        for name, value in overrides.items():
            if name not in _SETTINGS_BY_NAME:
                raise KeyError(f"unknown setting {name!r}")
            if value is not None:
                values[name] = value
        return cls(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError as error:
            raise AttributeError(name) from error
