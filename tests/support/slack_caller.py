"""Slack's side of an app's HTTP mode, on loopback: signed requests to `/slack/events`.

`SlackCaller(api, events_url)` posts what Slack would — a slash command, an
`app_mention`, a DM (`message.im`), a click on an alert's button — signed
with the fake's `signing_secret` (`v0=` HMAC-SHA256 of `v0:{ts}:{body}`).
Each slash command and click carries a fresh response_url on the
`FakeSlackApi`, which records what the app posts there. `signed_post` takes
another secret, timestamp or signature to forge a request.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.support.fake_slack import FakeSlackApi, HookPost, Params, SlackMessage


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: `v0=` + HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackCaller:
    """Calls the app at `events_url` as Slack does (see module docstring)."""

    def __init__(self, api: FakeSlackApi, events_url: str) -> None:
        self.api, self.events_url = api, events_url
        self._ids = itertools.count(1)

    async def signed_post(
        self,
        body: bytes,
        content_type: str,
        *,
        secret: str | None = None,
        timestamp: int | str | None = None,
        signature: str | None = None,
    ) -> tuple[int, str]:
        """POST `body` to `events_url`, signed (or signed with another secret or time)."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or sign(secret or self.api.signing_secret, stamp, body),
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.events_url, data=body, headers=headers) as response,
        ):
            return response.status, await response.text()

    def slash_body(self, text: str, *, user: str, channel: str, user_name: str = "") -> bytes:
        """The form Slack posts for `/newswatch <text>`, with a fresh response_url."""
        form = {
            "token": "legacy-verification-token",
            "team_id": "T0000TEST",
            "team_domain": "newswatch-test",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "news",
            "user_id": user,
            "user_name": user_name or user.lower(),
            "command": "/newswatch",
            "text": text,
            "api_app_id": "A0000APP",
            "response_url": self.api.new_hook(channel, user, None),
            "trigger_id": f"{next(self._ids)}.trigger",
        }
        return urlencode(form).encode()

    async def slash(self, text: str, *, user: str, channel: str, **how: Any) -> int:
        """Type `/newswatch <text>` as `user` in `channel`; returns the app's HTTP status."""
        status, _ = await self.signed_post(
            self.slash_body(text, user=user, channel=channel),
            "application/x-www-form-urlencoded",
            **how,
        )
        return status

    def event_body(self, event: Params) -> bytes:
        """An Events API `event_callback` envelope around `event`."""
        envelope = {
            "token": "legacy-verification-token",
            "team_id": "T0000TEST",
            "api_app_id": "A0000APP",
            "event": {"event_ts": event.get("ts"), **event},
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0000TEST", "user_id": "U0000BOT", "is_bot": True}],
        }
        return json.dumps(envelope).encode()

    async def send_event(self, event: Params) -> int:
        """Deliver one event to the app; returns its HTTP status."""
        status, _ = await self.signed_post(self.event_body(event), "application/json")
        return status

    def _message_event(self, kind: str, text: str, user: str, channel: str) -> Params:
        ts = f"{int(time.time())}.{next(self._ids):06d}"
        return {"type": kind, "user": user, "text": text, "ts": ts, "channel": channel}

    async def mention(self, text: str, *, user: str, channel: str) -> str:
        """`<@U0000BOT> <text>` in a channel (an `app_mention` event); returns its ts."""
        event = self._message_event("app_mention", f"<@U0000BOT> {text}", user, channel)
        assert await self.send_event(event) == 200
        return str(event["ts"])

    def dm_event(self, text: str, *, user: str, channel: str) -> Params:
        """A message to the bot in its DM `channel` with `user` (`message.im`)."""
        return {**self._message_event("message", text, user, channel), "channel_type": "im"}

    async def dm(self, text: str, *, user: str, channel: str) -> str:
        """Send `dm_event` to the app; returns the message's ts."""
        event = self.dm_event(text, user=user, channel=channel)
        assert await self.send_event(event) == 200
        return str(event["ts"])

    async def click(self, message: SlackMessage, action: str, *, user: str) -> int:
        """Click the alert button `newswatch_<action>` on `message` as `user`."""
        button = _button(message.blocks, action)
        payload = self._click_payload(user, message.channel, button)
        payload["container"] = {"type": "message", "message_ts": message.ts}
        payload["message"] = {
            "type": "message",
            "user": "U0000BOT",
            "ts": message.ts,
            "text": message.text,
            "blocks": message.blocks,
        }
        payload["response_url"] = self.api.new_hook(message.channel, user, message.ts)
        return await self._post_click(payload)

    async def click_ephemeral(self, post: HookPost, action: str, *, user: str) -> int:
        """Click `newswatch_<action>` on an ephemeral answer (a response_url post), as
        Slack sends it: the container says so and the message itself is left out."""
        button = _button(post.body.get("blocks") or [], action)
        payload = self._click_payload(user, post.channel, button)
        payload["container"] = {"type": "message", "message_ts": "1.2", "is_ephemeral": True}
        payload["response_url"] = self.api.new_hook(post.channel, user, None)
        return await self._post_click(payload)

    def _click_payload(self, user: str, channel: str, button: Params) -> Params:
        return {
            "type": "block_actions",
            "team": {"id": "T0000TEST", "domain": "newswatch-test"},
            "user": {"id": user, "username": user.lower(), "name": user.lower()},
            "api_app_id": "A0000APP",
            "token": "legacy-verification-token",
            "trigger_id": f"{next(self._ids)}.trigger",
            "channel": {"id": channel, "name": "news"},
            "actions": [{**button, "block_id": "newswatch_alert_actions", "action_ts": "1"}],
        }

    async def _post_click(self, payload: Params) -> int:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        status, _ = await self.signed_post(body, "application/x-www-form-urlencoded")
        return status


def _button(blocks: list[Any], action: str) -> Params:
    """The one button `newswatch_<action>` in `blocks`."""
    [button] = [
        element
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"] == f"newswatch_{action}"
    ]
    return dict(button)
