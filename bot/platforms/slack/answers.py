"""The slack-bolt listeners: people's commands and clicks answered.

Every request is acknowledged at once; the command then runs
(`handlers.dispatch`, which never raises) and the answer goes back:

- `/newswatch …`: through the response_url, only to the user, except a
  successful subscribe, unsubscribe, mute or unmute, which the channel sees;
- an @mention: chat.postMessage in the mention's thread (errors ephemeral);
- a DM: chat.postMessage in the DM;
- an alert's button: through the response_url, the alert kept and its
  buttons replaced by the answer (`replace_original`), or a note only to the
  user who clicked.

Replies are rendered by `bot.platforms.slack.intake` (mrkdwn-escaped, so no
answer can ping or link). Whatever fails while answering is logged with
structured fields and the listener returns; nothing reaches bolt or the app.
Slack redelivers an event whose ack was slow; each event id is answered once.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookResponse

from bot.core.errors import CommandError
from bot.core.model import Destination
from bot.delivery.ratelimit import RateLimiter
from bot.platforms.render import clean_text
from bot.platforms.slack.intake import (
    PLATFORM,
    answered_alert_blocks,
    button_click,
    event_command,
    reply_blocks,
    reply_messages,
    reply_thread,
    shown_in_channel,
    slash_command,
)
from handlers import Command, HandlerContext, Reply, dispatch

log = logging.getLogger(__name__)

SLASH_COMMAND = "/newswatch"
BOT_EVENTS = ("app_mention", "message.im")
"""The Events API subscriptions the listeners answer (`message.im` arrives as `message`)."""
BUTTON_ACTIONS = re.compile(r"^newswatch_")
REMEMBERED_EVENTS = 2048
REMEMBERED_DMS = 10_000


def slack_error_code(error: SlackApiError) -> str:
    """The `error` code of a Slack Web API error answer ("" if it has none)."""
    data = getattr(error.response, "data", None)
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _fields(what: str, chat_id: object, user_id: object) -> dict[str, str]:
    """Structured log fields for one request."""
    return {
        "platform": "slack",
        "slack_request": what,
        "chat_id": str(chat_id or ""),
        "user_id": str(user_id or ""),
    }


class SlackAnswers:
    """Answers slash commands, mentions, DMs and alert buttons (see module docstring)."""

    def __init__(self, ctx: HandlerContext, client: AsyncWebClient, limiter: RateLimiter) -> None:
        self._ctx, self._client, self._limiter = ctx, client, limiter
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        self._dm_owners: dict[str, str] = {}

    def register(self, bolt: AsyncApp) -> None:
        """Attach the listeners to a bolt app."""
        bolt.command(SLASH_COMMAND)(self.on_command)
        bolt.event("app_mention")(self.on_event)
        bolt.event("message")(self.on_event)
        bolt.action(BUTTON_ACTIONS)(self.on_button)

    async def drain(self, grace: float) -> None:
        """Wait up to `grace` seconds for answers still being worked on."""
        pending = [task for task in self._tasks if task is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=grace)

    @asynccontextmanager
    async def _answering(self, what: str, chat_id: object, user_id: object) -> AsyncIterator[None]:
        """Track the answer for `drain`; log, never raise, whatever goes wrong in it."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        except SlackApiError as error:
            log.warning(
                "slack %s: Slack refused the answer (%s)",
                what,
                slack_error_code(error) or error.response.status_code,
                extra=_fields(what, chat_id, user_id),
            )
        except Exception:
            log.exception("slack %s: answering failed", what, extra=_fields(what, chat_id, user_id))
        finally:
            if task is not None:
                self._tasks.discard(task)

    # ── the slash command ──────────────────────────────────────────────────

    async def on_command(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """`/newswatch <words>`: acknowledged at once, answered through the response_url."""
        await ack()
        async with self._answering(SLASH_COMMAND, body.get("channel_id"), body.get("user_id")):
            command = slash_command(body, in_own_dm=await self._in_own_dm(body))
            if command is None:
                return
            reply = await dispatch(self._ctx, command)
            shown = "in_channel" if shown_in_channel(command, reply) else "ephemeral"
            for text, blocks in reply_messages(reply):  # a response_url takes five posts
                answer = await respond(text=text, blocks=blocks, response_type=shown)
                _check_webhook(answer, SLASH_COMMAND, command.chat_id, command.user_id)

    async def _in_own_dm(self, body: dict[str, Any]) -> bool:
        """Whether a slash command came from the user's own DM with the bot."""
        channel, user = str(body.get("channel_id") or ""), str(body.get("user_id") or "")
        return channel.startswith("D") and bool(user) and await self._dm_owner(channel) == user

    async def _dm_owner(self, channel: str) -> str:
        """The user whose DM with the bot `channel` is; "" when it is none (answers cached)."""
        if channel in self._dm_owners:
            return self._dm_owners[channel]
        try:
            answer = await self._client.conversations_info(channel=channel)
        except SlackApiError as error:
            code = slack_error_code(error)
            if code != "channel_not_found":  # e.g. missing_scope: im:read not granted
                log.warning("slack conversations.info %s: %s", channel, code)
                return ""
            owner = ""  # a DM the bot is not part of
        except (aiohttp.ClientError, TimeoutError):
            return ""
        else:
            info = answer.get("channel") or {}
            owner = str(info.get("user") or "") if info.get("is_im") else ""
        if len(self._dm_owners) >= REMEMBERED_DMS:
            self._dm_owners.clear()
        self._dm_owners[channel] = owner
        return owner

    # ── mentions and DMs ───────────────────────────────────────────────────

    async def on_event(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """An @mention or a DM: the same commands, answered with chat.postMessage."""
        if self._already_seen(str(body.get("event_id") or "")):
            return
        command = event_command(event, context.bot_user_id or "")
        if command is None:
            return
        mention = event.get("type") == "app_mention"
        async with self._answering(str(event.get("type")), command.chat_id, command.user_id):
            reply = await dispatch(self._ctx, command)
            await self._post_reply(command, reply, reply_thread(event), private=mention)

    def _already_seen(self, event_id: str) -> bool:
        """Whether this event was delivered before (Slack retries when an ack is slow)."""
        if not event_id:
            return False
        if event_id in self._seen_events:
            return True
        self._seen_events[event_id] = None
        while len(self._seen_events) > REMEMBERED_EVENTS:
            self._seen_events.popitem(last=False)
        return False

    async def _post_reply(
        self, command: Command, reply: Reply, thread_ts: str | None, *, private: bool
    ) -> None:
        """Post the answer in the chat (in as many messages as it takes); only to the
        user when `private` and it is an error or asked to be ephemeral."""
        for text, blocks in reply_messages(reply):
            await self._limiter.acquire(command.chat_id)
            if private and (reply.ephemeral or not reply.ok):
                await self._client.chat_postEphemeral(
                    channel=command.chat_id,
                    user=command.user_id,
                    text=text,
                    blocks=blocks,
                    thread_ts=thread_ts,
                )
                continue
            await self._client.chat_postMessage(
                channel=command.chat_id,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )

    # ── alert buttons ──────────────────────────────────────────────────────

    async def on_button(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """A click on an alert's button: acknowledged at once, answered in place."""
        await ack()
        channel = (body.get("channel") or {}).get("id")
        user = (body.get("user") or {}).get("id")
        async with self._answering("block_actions", channel, user):
            reply = await self._answer_click(body)
            message = body.get("message") or {}
            if reply.replace_original and message.get("blocks"):
                answer = await respond(
                    text=str(message.get("text") or "newswatch alert"),
                    blocks=answered_alert_blocks(message["blocks"], reply),
                    replace_original=True,
                    unfurl_links=False,
                    unfurl_media=False,
                )
                await self._keep_outcome(channel, message, reply)
            else:
                text, blocks = reply_blocks(reply)
                answer = await respond(
                    text=text, blocks=blocks, response_type="ephemeral", replace_original=False
                )
            _check_webhook(answer, "block_actions", channel, user)

    async def _keep_outcome(self, channel: object, message: dict[str, Any], reply: Reply) -> None:
        """Record the answer on the alert, so its follow-up edits keep it (not the buttons)."""
        if channel and message.get("ts"):
            destination = Destination(PLATFORM, str(channel))
            outcome = clean_text(reply.text)
            await self._ctx.store.record_outcome(destination, f"{channel}:{message['ts']}", outcome)

    async def _answer_click(self, body: dict[str, Any]) -> Reply:
        """Run the button's action; a button that is not ours gets an ephemeral note."""
        rules: Iterable[str] = [rule.name for rule in self._ctx.rulebook.rules]
        try:
            click = button_click(body, rules)
        except CommandError as error:
            return Reply(str(error), ok=False, ephemeral=True)
        return await dispatch(self._ctx, click)


def _check_webhook(answer: WebhookResponse, what: str, chat_id: object, user_id: object) -> None:
    """Log a response_url post Slack refused (e.g. expired after 30 minutes)."""
    if answer.status_code != 200:
        log.warning(
            "slack %s: the response_url answered %s %s",
            what,
            answer.status_code,
            answer.body[:200],
            extra=_fields(what, chat_id, user_id),
        )
