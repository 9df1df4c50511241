"""The Telegram chat front-end: python-telegram-bot's `Application`, started with the service.

`start_telegram(app, http)`:

1. registers `TelegramNotifier` as `app.notifiers["telegram"]` (alert delivery);
2. builds an `Application` on TELEGRAM_API_BASE_URL with the update handlers
   of bot.platforms.telegram.frontend (in order per chat, concurrent across
   chats), sharing the notifier's rate limiter;
3. sets the command menu (setMyCommands): the commands everyone may use, and
   in each TELEGRAM_ADMIN_IDS private chat the admin commands as well;
4. receives updates by long polling (getUpdates; updates that waited while
   the bot was down are processed, not dropped) while this instance holds the
   `telegram-poll` lease, so that of several instances on one database only
   one polls (bot.platforms.telegram.poll; the others stand by and take over
   when it stops or dies), or, when
   TELEGRAM_WEBHOOK_URL is set, through a webhook: setWebhook with
   TELEGRAM_WEBHOOK_SECRET, and `POST /telegram/webhook` on our HTTP server,
   which answers 403 to any request whose X-Telegram-Bot-Api-Secret-Token is
   not that secret (compared in constant time) and processes nothing from
   it. Telegram needs HTTPS: put a TLS proxy in front and point the webhook
   URL at that path. A webhook without a secret is refused at start-up.

The returned `stop()` stops receiving (releasing the lease), lets updates in
progress finish and closes connections. It deletes nothing: a webhook stays set so that other
instances, or the next start, keep receiving. (Starting in long-polling mode
does delete a webhook set earlier: Telegram serves getUpdates only without one.)
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from bot.core.errors import ConfigError
from bot.core.settings import Settings
from bot.delivery.ratelimit import telegram_limiter
from bot.platforms.frontend import FrontEndDeps, Handler, Stopper, handler_context
from bot.platforms.telegram.frontend import (
    ChatOrderedProcessor,
    TelegramChatAdmins,
    TelegramFrontEnd,
)
from bot.platforms.telegram.intake import PLATFORM
from bot.platforms.telegram.notifier import TelegramNotifier, bot_urls, map_telegram_error
from bot.platforms.telegram.poll import POLL_LEASE_SECONDS, PollLease
from handlers import COMMANDS

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "channel_post", "callback_query", "my_chat_member")
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
DESCRIPTION_LIMIT = 256
BOOTSTRAP_RETRIES = 3

TelegramApplication = Application[
    ExtBot[None],
    ContextTypes.DEFAULT_TYPE,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    None,
]


# ── settings ───────────────────────────────────────────────────────────────


def bot_token(settings: Settings) -> str:
    """TELEGRAM_BOT_TOKEN, or ConfigError if it is empty."""
    secret = settings.telegram_bot_token
    token = secret.get_secret_value().strip() if secret is not None else ""
    if not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is empty: set it to the token BotFather gave you")
    return token


def webhook_config(settings: Settings) -> tuple[str, str] | None:
    """(URL, secret) when TELEGRAM_WEBHOOK_URL is set, else None (long polling).

    ConfigError if the secret is missing or not one Telegram accepts.
    """
    url = (settings.telegram_webhook_url or "").strip()
    if not url:
        return None
    given = settings.telegram_webhook_secret
    secret = given.get_secret_value().strip() if given is not None else ""
    if not secret:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_URL is set but TELEGRAM_WEBHOOK_SECRET is not: set it to a random "
            "string (e.g. `openssl rand -hex 32`) or unset the URL to use long polling"
        )
    if not SECRET_TOKEN.fullmatch(secret):
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters A-Z, a-z, 0-9, _ or -: "
            "Telegram refuses any other secret"
        )
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"TELEGRAM_WEBHOOK_URL {url!r} is not an http(s) URL")
    return url, secret


# ── the command menu ───────────────────────────────────────────────────────


def _describe(word: str, names: Sequence[str], admin_only: bool) -> str:
    if list(names) == [word]:
        about = COMMANDS[word].summary
    else:
        subs = dict.fromkeys(name.split()[1] for name in names if " " in name)
        about = f"{word} {'/'.join(subs)}"
    suffix = " (admins only)" if admin_only else ""
    return (about[: DESCRIPTION_LIMIT - len(suffix)] + suffix).strip()


def bot_commands(*, admin: bool) -> list[BotCommand]:
    """One menu entry per first command word; admin-only commands only if `admin`."""
    words: dict[str, list[str]] = {}
    for spec in COMMANDS.values():
        if admin or not spec.admin_only:
            words.setdefault(spec.name.split()[0], []).append(spec.name)
    return [
        BotCommand(word, _describe(word, names, all(COMMANDS[n].admin_only for n in names)))
        for word, names in words.items()
        if COMMAND_NAME.fullmatch(word)
    ]


async def register_commands(bot: ExtBot[None], admin_ids: Sequence[str]) -> None:
    """setMyCommands for everyone, and with the admin commands for each admin's chat."""
    fields = {"platform": PLATFORM}
    try:
        await bot.set_my_commands(bot_commands(admin=False))
    except TelegramError as error:
        log.warning("setMyCommands failed: %s", map_telegram_error(error), extra=fields)
    for admin_id in admin_ids:
        try:
            scope = BotCommandScopeChat(int(admin_id))
            await bot.set_my_commands(bot_commands(admin=True), scope=scope)
        except (TelegramError, ValueError) as error:
            log.info(
                "no admin command menu for %s (has the admin opened a chat with the bot?): %s",
                admin_id,
                error,
                extra=fields,
            )


# ── receiving updates ──────────────────────────────────────────────────────


def build_application(token: str, api_base_url: str, *, webhook: bool) -> TelegramApplication:
    """The python-telegram-bot Application: no job queue; no updater in webhook mode."""
    api_url, file_url = bot_urls(api_base_url)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(api_url)
        .base_file_url(file_url)
        .job_queue(None)
        .concurrent_updates(ChatOrderedProcessor())
    )
    if webhook:
        builder = builder.updater(None)
    return builder.build()


def add_handlers(application: TelegramApplication, front: TelegramFrontEnd) -> None:
    """Route each kind of update to the front-end, and every error to its logger."""
    typed = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, front.on_migration))
    application.add_handler(MessageHandler(filters.TEXT & typed, front.on_message))
    application.add_handler(CallbackQueryHandler(front.on_click))
    application.add_handler(ChatMemberHandler(front.on_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_error_handler(front.on_error)


def webhook_handler(application: TelegramApplication, secret: str) -> Handler:
    """`POST /telegram/webhook`: 403 unless the secret header matches; else queue the update."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            fields = {"platform": PLATFORM, "remote": request.remote}
            log.warning("telegram webhook: wrong or missing secret token", extra=fields)
            return web.Response(status=403, text="forbidden")
        if not application.running:
            return web.Response(status=503, text="not running")
        try:
            data = await request.json()
            update = Update.de_json(data, application.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError) as error:
            log.warning("telegram webhook: body is not an update: %s", error)
            update = None
        if update is None:
            return web.Response(status=400, text="not a Telegram update")
        await application.update_queue.put(update)
        return web.Response(text="ok")

    return receive


def _polling_failed(error: TelegramError) -> None:
    fields = {"platform": PLATFORM, "error": type(error).__name__}
    log.warning("telegram getUpdates failed, retrying: %s", map_telegram_error(error), extra=fields)


async def _connect(application: TelegramApplication) -> None:
    """initialize() (getMe), with a bad token reported as the setting to fix."""
    try:
        await application.initialize()
    except TelegramError as error:
        await application.bot.shutdown()  # its connections were opened before getMe failed
        if isinstance(error, InvalidToken):  # whose message quotes the token: leave it out
            raise ConfigError(
                "Telegram rejected TELEGRAM_BOT_TOKEN: use the token BotFather gave you"
            ) from None
        raise map_telegram_error(error) from error


async def _set_webhook(application: TelegramApplication, url: str, secret: str) -> None:
    if urlsplit(url).path.rstrip("/") != WEBHOOK_PATH:
        log.info("TELEGRAM_WEBHOOK_URL %s must reach %s here (via your proxy)", url, WEBHOOK_PATH)
    try:
        await application.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    except TelegramError as error:
        reason = error.message
        raise ConfigError(f"Telegram refused TELEGRAM_WEBHOOK_URL {url}: {reason}") from None


def poll_owner(deps: FrontEndDeps) -> str:
    """Who holds the poll lease: the instance name the pipeline claims feeds with, plus
    a random tag, since that name can repeat (every container's process is pid 1 on
    a shared host network; tests run two front-ends in one process)."""
    return f"{deps.owner}/telegram-{secrets.token_hex(4)}"


def poll_lease(deps: FrontEndDeps, application: TelegramApplication, seconds: float) -> PollLease:
    """The lease that switches the updater's long polling on and off."""
    updater = application.updater
    assert updater is not None  # built with one for long polling

    async def start_polling() -> None:
        if not updater.running:
            await updater.start_polling(
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
                bootstrap_retries=BOOTSTRAP_RETRIES,
                error_callback=_polling_failed,
            )

    async def stop_polling() -> None:
        if updater.running:
            await updater.stop()  # which confirms the updates it fetched

    return PollLease(
        deps.store,
        poll_owner(deps),
        deps.clock,
        start_polling=start_polling,
        stop_polling=stop_polling,
        seconds=seconds,
    )


async def _receive(
    application: TelegramApplication, webhook: tuple[str, str] | None, lease: PollLease | None
) -> None:
    """Set the webhook, or long poll while holding the lease; then process updates."""
    if webhook is not None:
        await _set_webhook(application, *webhook)
    elif lease is not None:
        await lease.start()
    await application.start()


def _stopper(application: TelegramApplication, lease: PollLease | None) -> Stopper:
    async def stop_updater() -> None:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()

    async def stop_application() -> None:
        if application.running:
            await application.stop()

    async def stop() -> None:
        steps: list[Callable[[], Awaitable[None]]] = [stop_updater, stop_application]
        if lease is not None:
            steps.insert(0, lease.close)
        for step in [*steps, application.shutdown]:
            try:
                await step()
            except Exception:  # one failing step must not keep the others from closing
                log.exception("stopping the telegram bot: %s failed", step.__qualname__)

    return stop


async def start_telegram(
    deps: FrontEndDeps, *, poll_lease_seconds: float = POLL_LEASE_SECONDS
) -> Stopper:
    """Register the notifier and start the front-end (see the module docstring).

    `poll_lease_seconds`: how long the poll lease lasts (renewed every third of it).
    """
    settings = deps.settings
    token, webhook = bot_token(settings), webhook_config(settings)
    limiter = telegram_limiter()
    base_url = settings.telegram_api_base_url
    deps.notifiers["telegram"] = TelegramNotifier(token, base_url=base_url, limiter=limiter)
    application = build_application(token, base_url, webhook=webhook is not None)
    admins = TelegramChatAdmins(application.bot)
    front = TelegramFrontEnd(handler_context(deps, admins), application.bot, limiter)
    add_handlers(application, front)
    if webhook is not None:
        deps.routes.add_route("POST", WEBHOOK_PATH, webhook_handler(application, webhook[1]))
    await _connect(application)
    lease = None if webhook else poll_lease(deps, application, poll_lease_seconds)
    try:
        await register_commands(application.bot, settings.telegram_admin_ids)
        await _receive(application, webhook, lease)
    except BaseException:
        await _stopper(application, lease)()
        raise
    mode = "webhook" if lease is None else "long polling"
    if lease is not None and not lease.held:
        mode += " once this instance holds the poll lease"
    log.info("telegram bot @%s receiving by %s", application.bot.username, mode)
    return _stopper(application, lease)
