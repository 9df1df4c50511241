"""The Slack front-end: start-up, HTTP mode and Socket Mode (slack-bolt).

`start_slack(deps)` registers the `SlackNotifier` that delivers alerts
and starts a slack-bolt `AsyncApp` whose listeners (`SlackAnswers`, in
`bot.platforms.slack.answers`) run the chat commands:

- HTTP mode (no SLACK_APP_TOKEN): Slack POSTs events, the `/newswatch`
  command and button clicks to `/slack/events` on our HttpServer, through
  bolt's aiohttp adapter. bolt checks every request's signature (HMAC-SHA256
  of `v0:{timestamp}:{body}` with SLACK_SIGNING_SECRET, timestamp within five
  minutes, constant-time compare); a bad or stale one is answered 401 and
  nothing runs. bolt also answers the Events API `url_verification`.
  SLACK_SIGNING_SECRET is required here.
- Socket Mode (SLACK_APP_TOKEN, `xapp-…`): bolt's aiohttp
  `AsyncSocketModeHandler` connects out over a websocket, so no public URL is
  needed. The connection runs in the background (`connect_async`, closed with
  `close_async`); slack_sdk reconnects by itself.

Every Web API call, bolt's included, goes to SLACK_API_BASE_URL. A token that
Slack refuses stops start-up with a one-line ConfigError; an unreachable Slack
does not (answers resume when it is back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.errors import ConfigError
from bot.core.settings import Settings
from bot.delivery.ratelimit import slack_limiter
from bot.platforms.frontend import FrontEndDeps, Handler, NoChatAdmins, Stopper, handler_context
from bot.platforms.slack.answers import BOT_EVENTS, SLASH_COMMAND, SlackAnswers, slack_error_code
from bot.platforms.slack.notifier import BAD_TOKEN_ERRORS, SlackNotifier

log = logging.getLogger(__name__)


EVENTS_PATH = "/slack/events"
"""Events, the slash command and interactivity all arrive here in HTTP mode."""
BOT_SCOPES = {
    "chat:write": "post alerts and answers",
    "chat:write.public": "post alerts to public channels the bot was not invited to",
    "commands": f"the {SLASH_COMMAND} slash command",
    "app_mentions:read": "app_mention events: commands addressed to the bot in channels",
    "im:history": "message.im events: commands sent to the bot in a DM",
    "im:read": "conversations.info: tell a user's DM with the bot from a DM between two people",
}
"""The bot token scopes the code needs, and why (config/slack-manifest.yaml asks for these)."""
DRAIN_SECONDS = 10.0

__all__ = ["BOT_EVENTS", "BOT_SCOPES", "EVENTS_PATH", "SLASH_COMMAND", "start_slack"]


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """The Slack settings the front-end runs on, checked by `slack_config`."""

    bot_token: str
    signing_secret: str
    app_token: str
    base_url: str

    @property
    def socket_mode(self) -> bool:
        """Socket Mode when an app-level token is configured, else HTTP mode."""
        return bool(self.app_token)


def _reveal(secret: SecretStr | None) -> str:
    return secret.get_secret_value().strip() if secret is not None else ""


def slack_config(settings: Settings) -> SlackConfig:
    """The Slack settings; ConfigError if the chosen mode cannot work."""
    config = SlackConfig(
        bot_token=_reveal(settings.slack_bot_token),
        signing_secret=_reveal(settings.slack_signing_secret),
        app_token=_reveal(settings.slack_app_token),
        base_url=settings.slack_api_base_url,
    )
    if config.app_token and not config.app_token.startswith("xapp-"):
        raise ConfigError(
            "SLACK_APP_TOKEN is not an app-level token: use the xapp-… token with "
            "connections:write for Socket Mode, or unset it for HTTP mode"
        )
    if not config.socket_mode and not config.signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: Slack's HTTP mode needs it to check requests "
            "(app settings → Basic Information → Signing Secret), or set SLACK_APP_TOKEN "
            "for Socket Mode"
        )
    return config


def web_client(config: SlackConfig, session: aiohttp.ClientSession) -> AsyncWebClient:
    """The client bolt and the answers use: SLACK_API_BASE_URL, 429s retried twice."""
    return AsyncWebClient(
        token=config.bot_token,
        base_url=config.base_url,
        session=session,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


async def check_bot_token(client: AsyncWebClient) -> None:
    """Refuse a bot token Slack rejects; warn about missing scopes; go on if Slack is away."""
    try:
        answer = await client.auth_test()
    except SlackApiError as error:
        code = slack_error_code(error)
        if code in BAD_TOKEN_ERRORS:
            raise ConfigError(
                f"Slack refused SLACK_BOT_TOKEN ({code}): use the app's xoxb-… bot token"
            ) from None
        log.warning("slack auth.test failed (%s); starting anyway", code or error)
        return
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("Slack is unreachable (%s); starting anyway", type(error).__name__)
        return
    headers = {str(k).lower(): str(v) for k, v in (answer.headers or {}).items()}
    granted = {s.strip() for s in headers.get("x-oauth-scopes", "").split(",") if s.strip()}
    missing = sorted(set(BOT_SCOPES) - granted) if granted else []
    if missing:
        log.warning(
            "the Slack bot token lacks the scopes %s: add them (config/slack-manifest.yaml) "
            "and reinstall the app",
            ", ".join(missing),
        )


def build_bolt_app(client: AsyncWebClient, config: SlackConfig) -> AsyncApp:
    """slack-bolt's app on our client, single workspace, with its signature checks on.

    Socket Mode requests carry no signature and bolt does not check them.
    """
    return AsyncApp(
        name="newswatch",
        client=client,
        signing_secret=config.signing_secret,
        request_verification_enabled=True,
    )


def events_endpoint(bolt: AsyncApp) -> Handler:
    """The aiohttp handler for `/slack/events`: bolt verifies the request and dispatches it."""

    async def slack_events(request: web.Request) -> web.StreamResponse:
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not (stamp.isascii() and stamp.isdigit()):
            # Unsigned for sure; bolt would fail on int() and answer 500.
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = await to_bolt_request(request)
        except UnicodeDecodeError:
            return web.json_response({"error": "the body is not UTF-8"}, status=400)
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    return slack_events


@dataclass
class SocketConnection:
    """A Socket Mode connection running in the background."""

    handler: AsyncSocketModeHandler
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop connecting and close the websocket and its session."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.handler.close_async()  # type: ignore[no-untyped-call]


async def open_socket_url(client: AsyncWebClient, app_token: str) -> str | None:
    """A websocket URL from apps.connections.open; ConfigError if the app token is refused.

    None when Slack is unreachable or busy: slack_sdk asks again when it connects.
    """
    try:
        answer = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as error:
        code = slack_error_code(error)
        if code in BAD_TOKEN_ERRORS:
            raise ConfigError(
                f"Slack refused SLACK_APP_TOKEN ({code}): use an app-level xapp-… token with "
                "connections:write, and turn Socket Mode on in the app settings"
            ) from None
        log.warning("slack apps.connections.open failed (%s); retrying in the background", code)
        return None
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("Slack is unreachable (%s); Socket Mode keeps trying", type(error).__name__)
        return None
    return str(answer.get("url") or "") or None


async def start_socket_mode(bolt: AsyncApp, app_token: str) -> SocketConnection:
    """Connect to Slack over a websocket (aiohttp transport) without blocking start-up.

    apps.connections.open is asked once here, so a refused token stops
    start-up; the handler then uses that URL, and the connection (with every
    reconnect, which slack_sdk retries forever) runs as a background task.
    """
    handler = AsyncSocketModeHandler(bolt, app_token=app_token)
    try:
        handler.client.wss_uri = await open_socket_url(bolt.client, app_token)
    except BaseException:
        await handler.close_async()  # type: ignore[no-untyped-call]
        raise
    task = asyncio.create_task(
        handler.connect_async(),  # type: ignore[no-untyped-call]
        name="slack-socket-mode",
    )
    return SocketConnection(handler, task)


async def start_slack(deps: FrontEndDeps) -> Stopper:
    """Register the Slack notifier and start answering people; returns the stop function.

    Call before the HTTP server starts (HTTP mode adds its route). Raises ConfigError
    (one line) when the settings cannot work.
    """
    config = slack_config(deps.settings)
    limiter = slack_limiter()
    notifier = SlackNotifier(config.bot_token, base_url=config.base_url, limiter=limiter)
    session = aiohttp.ClientSession()
    try:
        client = web_client(config, session)
        await check_bot_token(client)
        bolt = build_bolt_app(client, config)
        members = deps.settings.channel_subscribe == "members"
        ctx = handler_context(deps, NoChatAdmins(), members_manage_chats=members)
        answers = SlackAnswers(ctx, client, limiter)
        answers.register(bolt)
        socket = await start_socket_mode(bolt, config.app_token) if config.socket_mode else None
    except BaseException:
        await session.close()
        raise
    if socket is None:
        deps.routes.add_route("POST", EVENTS_PATH, events_endpoint(bolt))
    deps.notifiers["slack"] = notifier
    log.info("slack front-end started in %s", "Socket Mode" if socket else "HTTP mode")

    async def stop() -> None:
        if socket is not None:
            await socket.stop()
        await answers.drain(DRAIN_SECONDS)
        await session.close()

    return stop
