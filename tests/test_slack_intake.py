"""Slack payloads in, Block Kit out (bot.platforms.slack.intake): table tests.

The same code runs end to end against the loopback Slack in tests/test_slack_app.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.platforms.render import rule_ref
from bot.platforms.slack.intake import (
    SECTION_LIMIT,
    answered_alert_blocks,
    button_click,
    command_text,
    event_command,
    reply_blocks,
    shown_in_channel,
    slash_command,
)
from bot.platforms.slack.render import render_slack
from handlers import ButtonAction, ChatKind, Command, Reply
from tests.test_render import make_alert, slack_unescape


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("<@U0000BOT> subscribe drone_strike", "subscribe drone_strike"),
        ("<@U0000BOT|newswatch>   help\u00a0rule add", "help rule add"),
        ("feed add <https://example.com/rss.xml>", "feed add https://example.com/rss.xml"),
        (
            "feed add <https://x.example/a?b=1&amp;c=2|x.example/a>",
            "feed add https://x.example/a?b=1&c=2",
        ),
        ('rule add x "fish &amp; chips" &lt;3', 'rule add x "fish & chips" <3'),
        ("ask <@U123|ana> in <#C1|general> <!here>", "ask @U123 in #C1 @here"),
        ("&amp;lt;", "&lt;"),
    ],
)
def test_command_text_unwraps_slack_markup(typed: str, words: str) -> None:
    assert command_text(typed, "U0000BOT") == words


DM_EVENT = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "text": "hi"}


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ({"type": "app_mention", "channel": "C1", "user": "U1", "text": "help"}, ChatKind.GROUP),
        ({"type": "app_mention", "channel": "G1", "user": "U1", "text": "help"}, ChatKind.GROUP),
        (
            {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1"},
            ChatKind.PRIVATE,
        ),
        ({"type": "message", "channel_type": "mpim", "channel": "G1", "user": "U1"}, None),
        ({"type": "message", "channel_type": "channel", "channel": "C1", "user": "U1"}, None),
        (
            {
                "type": "message",
                "channel_type": "im",
                "channel": "D1",
                "user": "U1",
                "subtype": "x",
            },
            None,
        ),
        ({"type": "message", "channel_type": "im", "channel": "D1", "bot_id": "B1"}, None),
        ({"type": "reaction_added", "channel": "C1", "user": "U1"}, None),
    ],
)
def test_which_events_are_commands_and_where(event: dict[str, Any], kind: ChatKind | None) -> None:
    command = event_command(event, "U0000BOT")
    assert (command.chat_kind if command else None) == kind


def test_slash_command_kinds() -> None:
    body = {"channel_id": "G1", "user_id": "U1", "user_name": "ana", "text": "help"}
    group = Command("slack", "G1", "U1", "ana", ChatKind.GROUP, "help")
    assert slash_command(body, in_own_dm=False) == group
    own_dm = slash_command({**body, "channel_id": "D1"}, in_own_dm=True)
    assert own_dm is not None and own_dm.chat_kind == ChatKind.PRIVATE
    assert slash_command({"text": "help"}, in_own_dm=False) is None


def test_button_click_resolves_a_long_rule_name() -> None:
    long_name = "r_" + "x" * 60
    value = json.dumps({"rule": rule_ref(long_name), "story": "story-1"})
    body = {
        "actions": [{"action_id": "newswatch_mute", "value": value}],
        "channel": {"id": "D9"},
        "user": {"id": "U1", "username": "ana"},
    }
    click = button_click(body, ["drone_strike", long_name])
    assert (click.rule, click.action) == (long_name, ButtonAction.MUTE)
    assert click.chat_kind == ChatKind.PRIVATE
    assert (click.story_key, click.user_name) == ("story-1", "ana")


def test_replies_are_escaped_and_split_to_fit() -> None:
    long = "\n".join(f"line {n} <!channel> & <@U1>" for n in range(400))
    text, blocks = reply_blocks(Reply(long, code="query `x`\n  ^"))
    sections = [b["text"]["text"] for b in blocks]
    assert len(sections) > 2 and all(0 < len(s) <= SECTION_LIMIT for s in sections)
    assert not any(ping in s for s in sections for ping in ("<!channel>", "<@U1>"))
    assert sections[-1] == "```\nquery ˋxˋ\n  ^\n```"
    assert slack_unescape("\n".join(sections[:-1])) == long
    assert len(text) <= 3000 and "<!channel>" not in text
    assert reply_blocks(Reply(""))[1] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "done", "verbatim": True}}
    ]


def test_an_answered_alert_keeps_the_alert_and_drops_the_buttons() -> None:
    _, blocks = render_slack(make_alert())
    answered = answered_alert_blocks(blocks, Reply("ana muted <x> here"))
    assert answered[:-1] == [b for b in blocks if b["type"] != "actions"]
    assert answered[-1]["elements"][0]["text"] == "ana muted &lt;x&gt; here"


@pytest.mark.parametrize(
    ("text", "reply", "public"),
    [
        ("subscribe drone_strike", Reply("subscribed"), True),
        ("unsubscribe all", Reply("unsubscribed"), True),
        ("mute 2h", Reply("muted"), True),
        ("subscribe nope", Reply("no rule named nope", ok=False), False),
        ("help", Reply("commands:"), False),
        ("status", Reply("feeds: 1"), False),
        ("subscriptions", Reply("subscribed to: x"), False),
        ("subscribe x", Reply("x", ephemeral=True), False),
    ],
)
def test_which_slash_answers_the_channel_sees(text: str, reply: Reply, public: bool) -> None:
    command = Command("slack", "C1", "U1", "ana", ChatKind.GROUP, text)
    assert shown_in_channel(command, reply) is public
