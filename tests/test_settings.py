"""Settings: environment, YAML file, defaults, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.core.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "NEWSWATCH_CONFIG",
        "NEWSWATCH_POLL_INTERVAL",
        "TELEGRAM_ADMIN_IDS",
        "NEWSWATCH_DATABASE_URL",
        "NEWSWATCH_DATA_DIR",
        "TELEGRAM_BOT_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.poll_interval == 60
    assert settings.allow_private_networks is False
    assert settings.telegram_api_base_url == "https://api.telegram.org"
    assert settings.slack_api_base_url == "https://slack.com/api/"
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("/newswatch.db")
    assert settings.rules_file.name == "rules.yaml" and settings.rules_file.is_file()
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)


def test_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_POLL_INTERVAL", "0.5")
    monkeypatch.setenv("TELEGRAM_ADMIN_IDS", "11, 22,,33")
    monkeypatch.setenv("NEWSWATCH_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    settings = load_settings()
    assert settings.poll_interval == 0.5
    assert settings.telegram_admin_ids == ("11", "22", "33")
    assert settings.allow_private_networks is True
    assert settings.telegram_enabled and not settings.slack_enabled


def test_yaml_file_below_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "newswatch.yaml"
    config.write_text("poll_interval: 120\nslack_admin_ids: [U1, U2]\nbackfill: 5\n")
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(config))
    monkeypatch.setenv("NEWSWATCH_POLL_INTERVAL", "90")
    settings = load_settings()
    assert settings.poll_interval == 90
    assert settings.slack_admin_ids == ("U1", "U2")
    assert settings.backfill == 5


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"NEWSWATCH_POLL_INTERVAL": "0"},
            "NEWSWATCH_POLL_INTERVAL: input should be greater than 0",
        ),
        (
            {"NEWSWATCH_POLL_INTERVAL": "soon"},
            "NEWSWATCH_POLL_INTERVAL: input should be a valid number",
        ),
        (
            {"NEWSWATCH_HTTP_PORT": "99999"},
            "NEWSWATCH_HTTP_PORT: input should be less than or equal to 65535",
        ),
        (
            {"TELEGRAM_API_BASE_URL": "api.telegram.org"},
            "TELEGRAM_API_BASE_URL: value error, must start with http",
        ),
        (
            {"NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "perhaps"},
            "NEWSWATCH_ALLOW_PRIVATE_NETWORKS: input should be a valid boolean",
        ),
        (
            {"NEWSWATCH_LEASE_SECONDS": "5"},
            "NEWSWATCH_LEASE_SECONDS: input should be greater than or equal to 10",
        ),
        (
            {"NEWSWATCH_LEASE_SECONDS": "15"},
            "NEWSWATCH_LEASE_SECONDS: value error, must be longer than the fetch timeout (20 s)",
        ),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message


def test_a_lease_longer_than_a_fetch_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_FETCH_TIMEOUT", "5")
    monkeypatch.setenv("NEWSWATCH_LEASE_SECONDS", "10")
    assert load_settings().lease_seconds == 10.0


def test_every_bad_field_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_POLL_INTERVAL", "-1")
    monkeypatch.setenv("NEWSWATCH_HTTP_PORT", "x")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "NEWSWATCH_POLL_INTERVAL" in message and "NEWSWATCH_HTTP_PORT" in message


def test_secret_values_are_not_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("telegram_bot_token: [not, a, string]\n")
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(config))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "TELEGRAM_BOT_TOKEN" in message and "not" not in message.split(":", 2)[-1]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("pol_interval: 3\n", "pol_interval: unknown setting"),
        ("- just\n- a list\n", "must be a mapping"),
        ("poll_interval: [\n", "is not valid YAML"),
    ],
)
def test_bad_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, expected: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(content)
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(config))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert expected in str(raised.value)


def test_missing_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value) == (
        f"cannot read the config file {tmp_path / 'nope.yaml'}: no such file or directory"
        " — check the path (set by NEWSWATCH_CONFIG or --config)"
    )


def test_empty_optional_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_FEEDS_FILE", "")
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", " ")
    settings = load_settings()
    assert settings.feeds_file is None and settings.database_url is None
