"""The one settings object: parsed and validated once at start-up, then passed explicitly.

Sources, highest priority first: explicit overrides (tests, the demo), environment
variables, the optional YAML file named by `NEWSWATCH_CONFIG` (keys are the field
names below, e.g. `poll_interval: 120`), then defaults. This is the only module
that reads the environment.

Every setting, its environment variable, default and meaning is in the
README's settings table, the one place they are documented;
tests/test_settings_docs.py fails when the table and this class disagree, or
when a setting is read by nothing. `config/newswatch.example.yaml` shows the
YAML form of each.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from bot.core.errors import ConfigError
from bot.core.files import ensure_directory, read_text
from bot.core.resources import package_path
from bot.core.yamlsafe import describe_value, load_yaml

PACKAGED_CONFIG_DIR = package_path("config")

_yaml_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "newswatch_yaml_file", default=None
)


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


IdList = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings):
    """Every tunable of newswatch, validated. Documented in the README's settings table."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    database_url: str | None = Field(None, validation_alias=_env("NEWSWATCH_DATABASE_URL"))
    data_dir: Path = Field(Path("data"), validation_alias=_env("NEWSWATCH_DATA_DIR"))
    poll_interval: float = Field(60.0, gt=0, validation_alias=_env("NEWSWATCH_POLL_INTERVAL"))
    allow_private_networks: bool = Field(
        False, validation_alias=_env("NEWSWATCH_ALLOW_PRIVATE_NETWORKS")
    )
    rules_file: Path = Field(
        PACKAGED_CONFIG_DIR / "rules.yaml", validation_alias=_env("NEWSWATCH_RULES_FILE")
    )
    feeds_file: Path | None = Field(
        PACKAGED_CONFIG_DIR / "feeds.yaml", validation_alias=_env("NEWSWATCH_FEEDS_FILE")
    )
    backfill: int = Field(0, ge=0, validation_alias=_env("NEWSWATCH_BACKFILL"))
    http_host: str = Field("127.0.0.1", validation_alias=_env("NEWSWATCH_HTTP_HOST"))
    http_port: int = Field(8080, ge=0, le=65535, validation_alias=_env("NEWSWATCH_HTTP_PORT"))
    fulltext: bool = Field(False, validation_alias=_env("NEWSWATCH_FULLTEXT"))
    log_level: str = Field("INFO", validation_alias=_env("NEWSWATCH_LOG_LEVEL"))
    semantic: Literal["auto", "on", "off"] = Field(
        "auto", validation_alias=_env("NEWSWATCH_SEMANTIC")
    )
    public_url: str | None = Field(None, validation_alias=_env("NEWSWATCH_PUBLIC_URL"))

    # fetching
    per_host_concurrency: int = Field(2, ge=1, validation_alias=_env("NEWSWATCH_PER_HOST"))
    per_host_spacing: float = Field(
        0.25, ge=0, le=60, validation_alias=_env("NEWSWATCH_PER_HOST_SPACING")
    )
    fetch_concurrency: int = Field(50, ge=1, validation_alias=_env("NEWSWATCH_FETCH_CONCURRENCY"))
    fetch_timeout: float = Field(
        20.0, gt=0, le=20, validation_alias=_env("NEWSWATCH_FETCH_TIMEOUT")
    )
    max_feed_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, validation_alias=_env("NEWSWATCH_MAX_FEED_BYTES")
    )

    # delivery
    max_delivery_attempts: int = Field(8, ge=1, validation_alias=_env("NEWSWATCH_MAX_ATTEMPTS"))
    lease_seconds: float = Field(
        120.0, ge=10, le=3600, validation_alias=_env("NEWSWATCH_LEASE_SECONDS")
    )

    # retention, chat policy and feed-health notices
    retention_days: int = Field(30, ge=3, validation_alias=_env("NEWSWATCH_RETENTION_DAYS"))
    channel_subscribe: Literal["members", "admins"] = Field(
        "members", validation_alias=_env("NEWSWATCH_CHANNEL_SUBSCRIBE")
    )
    feed_failing_after: int = Field(3, ge=1, validation_alias=_env("NEWSWATCH_FEED_FAILING_AFTER"))
    feed_quiet_factor: float = Field(
        10.0, ge=2, validation_alias=_env("NEWSWATCH_FEED_QUIET_FACTOR")
    )
    feed_quiet_hours: float = Field(72.0, gt=0, validation_alias=_env("NEWSWATCH_FEED_QUIET_HOURS"))

    # the alert lifecycle: urgency (defaults measured in benchmarks/urgency.md), follow-ups
    urgent_publishers: int = Field(
        3, ge=2, le=100, validation_alias=_env("NEWSWATCH_URGENT_PUBLISHERS")
    )
    urgent_minutes: float = Field(
        180.0, gt=0, le=48 * 60, validation_alias=_env("NEWSWATCH_URGENT_MINUTES")
    )
    followup_gap: float = Field(
        60.0, ge=0, le=3600, validation_alias=_env("NEWSWATCH_FOLLOWUP_GAP")
    )

    # optional LLM confirmation of topic matches (rules with `llm_check: true`)
    llm_url: str | None = Field(None, validation_alias=_env("NEWSWATCH_LLM_URL"))
    llm_model: str = Field("default", validation_alias=_env("NEWSWATCH_LLM_MODEL"))
    llm_api_key: SecretStr | None = Field(None, validation_alias=_env("NEWSWATCH_LLM_API_KEY"))
    llm_timeout: float = Field(10.0, gt=0, le=120, validation_alias=_env("NEWSWATCH_LLM_TIMEOUT"))

    # Telegram
    telegram_bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_api_base_url: str = Field(
        "https://api.telegram.org", validation_alias=_env("TELEGRAM_API_BASE_URL")
    )
    telegram_webhook_url: str | None = Field(None, validation_alias=_env("TELEGRAM_WEBHOOK_URL"))
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("TELEGRAM_WEBHOOK_SECRET")
    )
    telegram_admin_ids: IdList = Field((), validation_alias=_env("TELEGRAM_ADMIN_IDS"))

    # Slack
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_base_url: str = Field(
        "https://slack.com/api/", validation_alias=_env("SLACK_API_BASE_URL")
    )
    slack_admin_ids: IdList = Field((), validation_alias=_env("SLACK_ADMIN_IDS"))
    slack_admin_channel: str | None = Field(None, validation_alias=_env("SLACK_ADMIN_CHANNEL"))

    @field_validator("telegram_admin_ids", "slack_admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, int):
            return (str(value),)
        if isinstance(value, list | tuple):
            return tuple(str(v) for v in value)
        return value

    @field_validator("telegram_api_base_url", "slack_api_base_url", "llm_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """Where WebSub hubs reach this server's `/websub/…` callbacks."""
        if value is None:
            return None
        parsed = urlsplit(value.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(
                "must be the http(s) URL at which hubs reach this server's HTTP port,"
                " e.g. https://newswatch.example.org"
            )
        if parsed.query or parsed.fragment:
            raise ValueError("must not have a query or fragment (callbacks go under its path)")
        return value.strip().rstrip("/")

    @field_validator(
        "feeds_file",
        "database_url",
        "public_url",
        "llm_url",
        "telegram_webhook_url",
        "slack_admin_channel",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """`NEWSWATCH_FEEDS_FILE=` (empty) means no file, not the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("lease_seconds")
    @classmethod
    def _lease_outlasts_a_fetch(cls, value: float, info: ValidationInfo) -> float:
        """A feed's lease must outlast its fetch, or a second instance would poll it too."""
        fetch_timeout = info.data.get("fetch_timeout")
        if fetch_timeout is not None and value <= fetch_timeout:
            raise ValueError(f"must be longer than the fetch timeout ({fetch_timeout:g} s)")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_path = _yaml_file.get()
        if yaml_path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_path))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'newswatch.db').resolve()}"

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None


ENV_NAMES: dict[str, str] = {
    name: str(field.validation_alias.choices[0])
    for name, field in Settings.model_fields.items()
    if isinstance(field.validation_alias, AliasChoices)
}


def ensure_data_dir(settings: Settings) -> None:
    """Create the data directory if needed; PathError (one line, exit code 2) if it cannot be."""
    ensure_directory(settings.data_dir, "the data directory", set_by="NEWSWATCH_DATA_DIR")


def load_settings(
    *, config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build and validate the settings; raise ConfigError listing every bad field.

    `config_file` (or `NEWSWATCH_CONFIG`) names an optional YAML file.
    """
    path = config_file or _config_path_from_env()
    if path is not None:
        _check_yaml_file(path)
    token = _yaml_file.set(path)
    try:
        return Settings(**dict(overrides or {}))
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err)) from None
    finally:
        _yaml_file.reset(token)


def _config_path_from_env() -> Path | None:
    value = os.environ.get("NEWSWATCH_CONFIG", "").strip()
    return Path(value) if value else None


def _check_yaml_file(path: Path) -> None:
    text = read_text(path, "the config file", set_by="NEWSWATCH_CONFIG or --config")
    try:
        data = load_yaml(text)
    except yaml.YAMLError as err:
        reason = str(err).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid YAML: {reason}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of setting: value")


def describe_validation_error(err: ValidationError) -> str:
    """One message naming each bad setting (by its environment variable) and the fix."""
    problems = []
    for error in err.errors():
        loc = str(error["loc"][0]) if error["loc"] else "?"
        name = ENV_NAMES.get(loc, loc)
        if error["type"] == "extra_forbidden":
            problems.append(f"{name}: unknown setting — check the spelling (see README)")
            continue
        value = error.get("input")
        shown = (
            ""
            if _is_secret(name.lower()) or isinstance(value, dict)
            else f" (got {describe_value(value)})"
        )
        problems.append(f"{name}: {error['msg'].lower()}{shown}")
    return "invalid settings: " + "; ".join(problems)


def _is_secret(field_name: str) -> bool:
    return field_name.endswith(("token", "secret"))
