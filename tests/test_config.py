"""Settings: every one is documented in the README, and environment variables override defaults."""

from __future__ import annotations

import pytest

from ioc.config import PROJECT_ROOT, SETTINGS, Config


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    undocumented = [s.env_var for s in SETTINGS if f"`{s.env_var}`" not in readme]
    assert undocumented == []
    assert all(s.help.strip() for s in SETTINGS)


def test_environment_overrides_defaults_with_the_right_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_PORT", "9000")
    monkeypatch.setenv("IOC_SIMULATOR_ENABLED", "false")
    config = Config.load()
    assert config.port == 9000
    assert config.simulator_enabled is False
    assert Config.load(port=9100).port == 9100


def test_a_malformed_environment_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_PORT", "eighty")
    with pytest.raises(SystemExit, match="IOC_PORT"):
        Config.load()
