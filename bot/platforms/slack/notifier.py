"""Slack delivery: alerts posted through slack_sdk's `AsyncWebClient`.

`SlackNotifier` renders Block Kit with `bot.platforms.slack.render`, waits for its
`RateLimiter` (keyed by channel), posts with unfurls off, and maps
`SlackApiError` and aiohttp errors to `bot.core.errors` here, where they enter
(table in `bot.delivery.notifier`). slack_sdk's own retries are switched off: the
delivery loop owns retrying. After a 429 the channel is held back for
`Retry-After` seconds.

Message ids are `<channel>:<ts>`: a DM posted to a user id lands in a `D…`
channel, and `chat.update` needs that channel with the timestamp. A follow-up
edits the alert (`chat.update`) and posts the new outlets in its thread
(`chat.postMessage` with `thread_ts`). A digest posts one message per part.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import metrics
from bot.core.errors import (
    ConfigError,
    DeliveryError,
    DestinationGoneError,
    PermanentDeliveryError,
    RateLimitedError,
    RetryableDeliveryError,
)
from bot.core.model import Alert, Destination, Digest, DigestPart, FollowUp
from bot.delivery.ratelimit import RateLimiter
from bot.platforms.render import clean_text
from bot.platforms.slack.render import (
    SLACK_SECTION_LIMIT,
    render_slack,
    render_slack_digest,
    render_slack_thread,
    slack_escape,
)

DEFAULT_API_BASE_URL = "https://slack.com/api/"
_DEFAULT_RETRY_AFTER = 1.0

_GONE = {
    "channel_not_found",
    "is_archived",
    "channel_is_archived",
    "not_in_channel",
    "user_not_found",
    "user_disabled",
    "restricted_action",
    "team_access_not_granted",
}
_TRANSIENT = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
BAD_TOKEN_ERRORS = {
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
}


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After", _DEFAULT_RETRY_AFTER)))
    except (TypeError, ValueError, AttributeError):
        return _DEFAULT_RETRY_AFTER


def map_slack_error(error: SlackApiError, channel: str) -> DeliveryError:
    """Our error for a Slack Web API error answer."""
    response = error.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    code = str(data.get("error", "")) if isinstance(data, dict) else ""
    where = f"slack channel {channel}"
    if status == 429 or code == "ratelimited":
        retry_after = _retry_after(getattr(response, "headers", {}))
        metrics.RATE_LIMITED.labels("slack").inc()
        return RateLimitedError(
            f"{where}: rate limited, retry in {retry_after:g}s", retry_after=retry_after
        )
    if code in _GONE:
        return DestinationGoneError(f"{where}: {code}")
    if status >= 500 or code in _TRANSIENT:
        return RetryableDeliveryError(f"{where}: Slack answered {status} {code}".rstrip())
    if code in BAD_TOKEN_ERRORS:
        return PermanentDeliveryError(
            f"Slack rejected the bot token ({code}): check SLACK_BOT_TOKEN"
        )
    if code == "missing_scope":
        return PermanentDeliveryError("Slack bot token lacks a scope: add chat:write and reinstall")
    return PermanentDeliveryError(f"{where}: Slack refused the message: {code or status}")


def _split_message_id(message_id: str, channel: str) -> tuple[str, str]:
    """(channel, ts) from `<channel>:<ts>` (a bare ts means the destination's channel)."""
    where, _, ts = message_id.rpartition(":")
    return (where or channel), ts


class SlackNotifier:
    """Posts and edits alerts in Slack channels (see module docstring)."""

    platform = "slack"

    def __init__(
        self,
        bot_token: str,
        *,
        base_url: str = DEFAULT_API_BASE_URL,
        limiter: RateLimiter,
        timeout: int = 10,
    ) -> None:
        if not bot_token.strip():
            raise ConfigError("SLACK_BOT_TOKEN is empty: set it to the app's xoxb- bot token")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"SLACK_API_BASE_URL {base_url!r} is not an http(s) URL: "
                f"use e.g. {DEFAULT_API_BASE_URL}"
            )
        self._token, self._base_url, self._timeout = bot_token.strip(), base_url, timeout
        self._limiter = limiter
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None

    def _web_client(self) -> AsyncWebClient:
        """One client and connection pool, made inside the running event loop."""
        if self._client is None:
            self._session = aiohttp.ClientSession()
            self._client = AsyncWebClient(
                token=self._token,
                base_url=self._base_url,
                timeout=self._timeout,
                session=self._session,
                retry_handlers=[],
            )
        return self._client

    async def send(self, destination: Destination, alert: Alert) -> str:
        """Post the alert as Block Kit; returns `<channel>:<ts>`."""
        text, blocks = render_slack(alert)
        return await self._post(destination, text, blocks)

    async def send_digest(self, destination: Destination, digest: Digest, part: int) -> DigestPart:
        """Post one part of the digest (sections, no buttons)."""
        parts = render_slack_digest(digest)
        if part >= len(parts):
            return DigestPart("", len(parts))
        text, blocks = parts[part]
        return DigestPart(await self._post(destination, text, blocks), len(parts))

    async def _post(
        self,
        destination: Destination,
        text: str,
        blocks: list[dict[str, object]],
        thread_ts: str | None = None,
    ) -> str:
        response = await self._call(
            destination.chat_id,
            "chat_postMessage",
            channel=destination.chat_id,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
            link_names=False,
            **({"thread_ts": thread_ts} if thread_ts else {}),
        )
        return f"{response.get('channel') or destination.chat_id}:{response['ts']}"

    async def send_notice(self, destination: Destination, text: str) -> str:
        """Post a plain notice (mrkdwn-escaped: it can ping or link nobody); `<channel>:<ts>`."""
        line = slack_escape(clean_text(text))[:SLACK_SECTION_LIMIT]
        response = await self._call(
            destination.chat_id,
            "chat_postMessage",
            channel=destination.chat_id,
            text=line,
            unfurl_links=False,
            unfurl_media=False,
            link_names=False,
        )
        return f"{response.get('channel') or destination.chat_id}:{response['ts']}"

    async def update(self, destination: Destination, message_id: str, follow_up: FollowUp) -> None:
        """Edit the posted alert (chat.update): sources, urgency, and the buttons or the
        answer that replaced them; then name the new outlets in the alert's thread."""
        channel, ts = _split_message_id(message_id, destination.chat_id)
        text, blocks = render_slack(follow_up.alert, outcome=follow_up.outcome)
        await self._call(
            destination.chat_id, "chat_update", channel=channel, ts=ts, text=text, blocks=blocks
        )
        if follow_up.new_sources:
            text, blocks = render_slack_thread(follow_up.alert, follow_up.new_sources)
            await self._post(Destination(destination.platform, channel), text, blocks, ts)

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._session is not None:
            await self._session.close()
        self._session, self._client = None, None

    async def _call(self, channel: str, method: str, /, **kwargs: Any) -> Any:
        """One rate-limited Web API call with errors mapped; a 429 holds the channel back."""
        await self._limiter.acquire(channel)
        try:
            return await getattr(self._web_client(), method)(**kwargs)
        except SlackApiError as error:
            mapped = map_slack_error(error, channel)
            if isinstance(mapped, RateLimitedError) and mapped.retry_after is not None:
                self._limiter.penalize(channel, mapped.retry_after)
            raise mapped from error
        except (TimeoutError, aiohttp.ClientError) as error:
            detail = f"{type(error).__name__}: {error}"
            raise RetryableDeliveryError(f"slack channel {channel}: {detail}") from error
        except SlackClientError as error:
            raise PermanentDeliveryError(f"slack channel {channel}: {error}") from error
