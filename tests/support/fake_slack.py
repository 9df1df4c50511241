"""A loopback stand-in for Slack (aiohttp.web on 127.0.0.1): the Web API, and
the Slack side of an app's HTTP mode, response_urls and Socket Mode.

Serves `/api/<method>` for auth.test, chat.postMessage, chat.update,
chat.postEphemeral, conversations.info (`ims` maps the bot's DM channels to
their user) and apps.connections.open (with the `app_token`), with form or
JSON bodies and a Bearer token check, and behaves like Slack where it matters:

- errors are HTTP 200 with `{"ok": false, "error": "<code>"}`: `not_authed`,
  `invalid_auth`, `channel_not_found`, `is_archived`, `not_in_channel`,
  `no_text`, `invalid_blocks` (section text over 3000, button value over 2000,
  button text over 75, more than 50 blocks), `message_not_found`;
- more than one message per channel per `per_channel_interval` seconds is
  HTTP 429 with a `Retry-After` header and `{"ok": false, "error": "ratelimited"}`;
- `fail_next` injects 5xx answers.

Accepted messages are recorded in `messages` (as they stand now: chat.update
changes them, as Slack does), edits in `updates`, ephemeral messages in
`ephemerals`, response_url posts in `responses` (one with `replace_original`
also edits the clicked message, as Slack does).

`new_hook` makes a response_url (tests.support.slack_caller uses it when it
calls the app as Slack). For Socket Mode, apps.connections.open points at the
fake's websocket: `socket_send` pushes an envelope to the connected app and
`socket_acks` holds the app's acks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from aiohttp import web

Params = dict[str, Any]


class SlackError(Exception):
    """An error answer: the `error` code, HTTP status and extra headers."""

    def __init__(self, code: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.code, self.status, self.headers = code, status, headers or {}


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """A message the fake accepted (chat.postMessage) or edited (chat.update)."""

    channel: str
    ts: str
    text: str
    blocks: list[Any]
    unfurl_links: Any
    unfurl_media: Any
    at: float
    thread_ts: str | None = None
    user: str | None = None
    """For ephemeral messages: who sees it."""


@dataclass(frozen=True, slots=True)
class HookPost:
    """One post to a response_url: for a slash command (`ts` None) or a click on message `ts`."""

    channel: str
    user: str
    ts: str | None
    body: Params

    @property
    def text(self) -> str:
        """The section texts of the post, joined by newlines."""
        return "\n".join(str(b["text"]["text"]) for b in self.body.get("blocks") or [])


def _text_length(obj: Any) -> int:
    return len(str((obj or {}).get("text", "")))


def _block_problem(block: Params) -> str | None:
    """What is wrong with one block, as Slack's `invalid_blocks` would say, or None."""
    kind = block.get("type")
    if kind == "section" and not 0 < _text_length(block.get("text")) <= 3000:
        return "section text must be 1-3000 characters"
    if kind == "context" and not 0 < len(block.get("elements", [])) <= 10:
        return "context must have 1-10 elements"
    for element in block.get("elements", []) if kind == "actions" else []:
        if len(str(element.get("value", ""))) > 2000:
            return "button value must be at most 2000 characters"
        if not 0 < _text_length(element.get("text")) <= 75:
            return "button text must be 1-75 characters"
        if len(str(element.get("action_id", ""))) > 255:
            return "action_id must be at most 255 characters"
    return None


class FakeSlackApi:
    """The Slack Web API on loopback: see the module docstring. Use `async with`."""

    def __init__(
        self,
        token: str = "xoxb-test-token",
        *,
        signing_secret: str = "test-signing-secret",
        app_token: str = "xapp-1-test-token",
        per_channel_interval: float = 1.0,
        tolerance: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token, self.signing_secret, self.app_token = token, signing_secret, app_token
        self.per_channel_interval, self.tolerance, self._clock = (
            per_channel_interval,
            tolerance,
            clock,
        )
        self.missing_channels: set[str] = set()
        self.archived_channels: set[str] = set()
        self.outside_channels: set[str] = set()
        self.messages: list[SlackMessage] = []
        self.updates: list[SlackMessage] = []
        self.ephemerals: list[SlackMessage] = []
        self.responses: list[HookPost] = []
        self.ims: dict[str, str] = {}
        self.scopes: tuple[str, ...] = ()
        self.socket_acks: list[Params] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._hooks: dict[str, tuple[str, str, str | None]] = {}
        self._ids = itertools.count(1)
        self.rate_limited = 0
        self.invalid: list[str] = []
        self._last_post: dict[str, float] = {}
        self._failures: list[int] = []
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        """Listen on a free loopback port; returns the API base URL (SLACK_API_BASE_URL)."""
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)
        app.router.add_post("/hooks/{hook}", self._hook)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.root = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self.base_url = f"{self.root}/api/"
        return self.base_url

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeSlackApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def fail_next(self, count: int, *, status: int = 500) -> None:
        """Answer the next `count` chat calls with HTTP `status` and an HTML body."""
        self._failures.extend([status] * count)

    def texts(self, channel: str) -> list[str]:
        """The section text of each message posted to one channel."""
        return [str(m.blocks[0]["text"]["text"]) for m in self.messages if m.channel == channel]

    def alerts(self, channel: str) -> list[SlackMessage]:
        """The messages in a channel that carry the alert buttons, as they stand now."""
        return [
            m
            for m in self.messages
            if m.channel == channel and any(b.get("type") == "actions" for b in m.blocks)
        ]

    async def wait_for(self, condition: Callable[[], object], within: float = 5.0) -> None:
        """Wait until `condition()` is true (the app answers after it has acked)."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the app's answer")
            await asyncio.sleep(0.01)

    async def _handle(self, request: web.Request) -> web.Response:
        params = await _read_params(request)
        method = request.match_info["method"]
        handlers = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "conversations.info": self._conversation_info,
            "apps.connections.open": self._open_connection,
        }
        handler = handlers.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        try:
            app_level = method == "apps.connections.open"
            self._check_token(request, params, self.app_token if app_level else self.token)
            if method.startswith("chat.") and self._failures:
                status = self._failures.pop(0)
                return web.Response(
                    status=status, text="<html>upstream error</html>", content_type="text/html"
                )
            scopes = {"X-OAuth-Scopes": ",".join(self.scopes)} if self.scopes else {}
            return web.json_response({"ok": True, **handler(params)}, headers=scopes)
        except SlackError as error:
            body = {"ok": False, "error": error.code}
            return web.json_response(body, status=error.status, headers=error.headers)

    def _check_token(self, request: web.Request, params: Params, expected: str) -> None:
        header = request.headers.get("Authorization", "")
        token = (
            header.removeprefix("Bearer ") if header.startswith("Bearer ") else params.get("token")
        )
        if not token:
            raise SlackError("not_authed")
        if token != expected:
            raise SlackError("invalid_auth")

    def _auth_test(self, params: Params) -> Params:
        return {
            "url": "https://newswatch-test.slack.com/",
            "team": "newswatch test",
            "user": "newswatch",
            "team_id": "T0000TEST",
            "user_id": "U0000BOT",
            "bot_id": "B0000BOT",
        }

    def _channel(self, params: Params) -> str:
        channel = str(params.get("channel", ""))
        if not channel or channel in self.missing_channels:
            raise SlackError("channel_not_found")
        if channel in self.archived_channels:
            raise SlackError("is_archived")
        if channel in self.outside_channels:
            raise SlackError("not_in_channel")
        return channel

    def _content(self, params: Params) -> tuple[str, list[Any]]:
        text, blocks = str(params.get("text") or ""), params.get("blocks") or []
        if not text and not blocks:
            raise SlackError("no_text")
        problems = [p for p in map(_block_problem, blocks) if p] if len(blocks) <= 50 else ["50"]
        if problems:
            self.invalid.append(problems[0])
            raise SlackError("invalid_blocks")
        return text, list(blocks)

    def _take_rate_slot(self, channel: str) -> None:
        now = self._clock()
        last = self._last_post.get(channel)
        if last is not None and now - last < self.per_channel_interval - self.tolerance:
            self.rate_limited += 1
            wait = max(1, math.ceil(last + self.per_channel_interval - now))
            raise SlackError("ratelimited", 429, {"Retry-After": str(wait)})
        self._last_post[channel] = now

    def _post_message(self, params: Params) -> Params:
        channel = self._channel(params)
        text, blocks = self._content(params)
        self._take_rate_slot(channel)
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        self.messages.append(self._record(params, channel, ts, text, blocks))
        return {"channel": channel, "ts": ts, "message": {"text": text, "blocks": blocks}}

    def _update(self, params: Params) -> Params:
        channel = self._channel(params)
        ts = str(params.get("ts", ""))
        if not any(m.channel == channel and m.ts == ts for m in self.messages):
            raise SlackError("message_not_found")
        text, blocks = self._content(params)
        self._take_rate_slot(channel)
        self.updates.append(self._record(params, channel, ts, text, blocks))
        for n, message in enumerate(self.messages):
            if (message.channel, message.ts) == (channel, ts):
                self.messages[n] = replace(message, text=text, blocks=blocks)
        return {"channel": channel, "ts": ts, "text": text}

    def _record(
        self, params: Params, channel: str, ts: str, text: str, blocks: list[Any]
    ) -> SlackMessage:
        unfurl_links, unfurl_media = params.get("unfurl_links"), params.get("unfurl_media")
        thread = str(params["thread_ts"]) if params.get("thread_ts") else None
        user = str(params["user"]) if params.get("user") else None
        at = self._clock()
        return SlackMessage(channel, ts, text, blocks, unfurl_links, unfurl_media, at, thread, user)

    def _post_ephemeral(self, params: Params) -> Params:
        channel = self._channel(params)
        text, blocks = self._content(params)
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        self.ephemerals.append(self._record(params, channel, ts, text, blocks))
        return {"message_ts": ts}

    def _conversation_info(self, params: Params) -> Params:
        channel = self._channel(params)
        if channel in self.ims:
            return {"channel": {"id": channel, "is_im": True, "user": self.ims[channel]}}
        if channel.startswith("D"):
            raise SlackError("channel_not_found")  # a DM the bot is not part of
        return {"channel": {"id": channel, "is_channel": True, "is_member": True}}

    def _open_connection(self, params: Params) -> Params:
        return {"url": f"ws://{self.root.removeprefix('http://')}/socket"}

    # ── response_url ───────────────────────────────────────────────────────

    def new_hook(self, channel: str, user: str, ts: str | None) -> str:
        hook = f"H{next(self._ids)}"
        self._hooks[hook] = (channel, user, ts)
        return f"{self.root}/hooks/{hook}"

    async def _hook(self, request: web.Request) -> web.Response:
        if request.match_info["hook"] not in self._hooks:
            return web.Response(status=404, text="expired_url")
        channel, user, ts = self._hooks[request.match_info["hook"]]
        body: Params = await request.json()
        try:
            text, blocks = self._content(body)
        except SlackError as error:
            return web.Response(status=400, text=error.code)
        self.responses.append(HookPost(channel, user, ts, body))
        if body.get("replace_original") and ts is not None:
            for n, message in enumerate(self.messages):
                if (message.channel, message.ts) == (channel, ts):
                    self.messages[n] = replace(message, text=text, blocks=blocks)
                    self.updates.append(self.messages[n])
        return web.Response(text="ok")

    # ── Socket Mode ────────────────────────────────────────────────────────

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for frame in socket:
            if frame.type == aiohttp.WSMsgType.TEXT:
                self.socket_acks.append(json.loads(frame.data))
        self._sockets.remove(socket)
        return socket

    async def socket_send(self, kind: str, payload: Params) -> str:
        """Push an envelope (`slash_commands`, `events_api`, `interactive`) to the app."""
        await self.wait_for(lambda: bool(self._sockets))
        envelope_id = f"envelope-{next(self._ids)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        await self._sockets[-1].send_json(envelope)
        return envelope_id


async def _read_params(request: web.Request) -> Params:
    """Query (GET), JSON or form body; a form's `blocks` is a JSON string, as Slack accepts it."""
    if request.method == "GET":
        params: Params = dict(request.query)
    elif request.content_type == "application/json":
        params = await request.json()
    else:
        form = await request.post()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
    if isinstance(params.get("blocks"), str):
        params["blocks"] = json.loads(params["blocks"])
    return params
