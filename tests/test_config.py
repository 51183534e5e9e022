from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_core_module.config import SETTING_NAMES, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_with_an_empty_environment() -> None:
    settings = load_settings({}, env_file=None)
    assert settings == Settings()
    assert settings.database_url == "sqlite://storage/workflow_core.sqlite"
    assert settings.port == 8080 and settings.host == "127.0.0.1"
    assert settings.poll_interval_seconds == 60
    assert settings.default_grace_period_seconds == 15 * 60
    assert settings.min_interval_seconds == 60
    assert settings.max_concurrent_workflows == 10
    assert settings.workflow_timeout_seconds == 3600
    assert settings.workflow_max_retries == 3
    assert settings.max_schedules_per_community == 50
    assert settings.history_retention_days == 30
    assert settings.chat_manager_roles == ("owner", "admin", "moderator")
    assert settings.chat_min_interval_seconds == 300
    assert settings.log_format == "text" and settings.log_level == "INFO"
    assert settings.redis_url == ""


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("PORT=9000\nPOLL_INTERVAL_SECONDS=5\nLOG_FORMAT=json\n")
    settings = load_settings({"PORT": "9100"}, env_file=env)
    assert settings.port == 9100
    assert settings.poll_interval_seconds == 5.0
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("POLL_INTERVAL_SECONDS", "soon", "expected a number"),
        ("POLL_INTERVAL_SECONDS", "0", "must be > 0"),
        ("PORT", "80000", "TCP port"),
        ("MIN_INTERVAL_SECONDS", "1.5", "whole number"),
        ("MAX_CONCURRENT_WORKFLOWS", "0", ">= 1"),
        ("LOG_FORMAT", "xml", "one of json, text"),
        ("LOG_LEVEL", "loud", "one of DEBUG"),
        ("DATABASE_URL", "mysql://x@y/z", "expected sqlite://"),
        ("DATABASE_URL", "postgres://nohost", "expected sqlite://"),
        ("REDIS_URL", "localhost:6379", "redis://"),
        ("CHAT_MESSAGE_URL", "ftp://x", "http(s)://"),
        ("SCHEDULE_GRACE_PERIOD_MINUTES", "nan", "finite"),
    ],
)
def test_a_bad_value_names_the_setting(name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({name: value}, env_file=None)
    message = str(info.value)
    assert name in message and fragment in message
    assert "\n" not in message


def test_every_documented_setting_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    for name in SETTING_NAMES:
        assert f"{name}=" in example, name


def test_start_up_with_a_bad_setting_prints_one_line_and_exits(tmp_path: Path) -> None:
    env = {**os.environ, "POLL_INTERVAL_SECONDS": "often", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "workflow_core_module", "serve"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: invalid setting POLL_INTERVAL_SECONDS: expected a number, got 'often'"]


def test_a_broken_commands_file_stops_start_up_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "commands.yaml").write_text("deploy: {argv: 5}\n")
    env = {**os.environ, "COMMANDS_FILE": str(tmp_path / "commands.yaml"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "workflow_core_module", "serve"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "COMMANDS_FILE" in lines[0] and "deploy" in lines[0]
