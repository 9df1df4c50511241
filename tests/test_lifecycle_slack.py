"""End to end, Slack: the alert lifecycle through the real service in HTTP mode.

The real slack-bolt app on our HTTP server, the loopback Web API stand-in
(which checks Block Kit limits and records what the app posts), several
loopback outlets, and the pipeline driven as the scheduler drives it
(`poll_once`, the delivery loop, `release_due`) with a clock the tests move.

- follow-ups edit the alert in place (chat.update) and post the new outlets
  in its thread; a button's answer stays in place of the buttons;
- a mute holds alerts for one digest at its end;
- a digest of 60 stories goes out in parts within Slack's 50-block limit;
- a long reply (60 feeds) comes whole.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.release import release_due
from bot.pipeline.poll import poll_once
from tests.support.fake_slack import SlackMessage
from tests.support.newsdesk import SAME_EVENT, Newsdesk, aid_story, make_due
from tests.test_render import slack_unescape
from tests.test_slack_app import ADMIN, NEWS, World, slack_world

pytestmark = pytest.mark.slow
OUTLETS = ("wire", "agency", "desk")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with slack_world(tmp_path) as running:
        yield running


@pytest.fixture
async def desk(world: World) -> Newsdesk:
    """The outlets' feeds on the world's feed server, primed."""
    newsdesk = Newsdesk(world.feeds)
    await newsdesk.add_feeds(world.app.store, *OUTLETS)
    await poll_once(world.app.pipeline)
    return newsdesk


async def publish(world: World, desk: Newsdesk, outlet: str, story: tuple[str, str]) -> str:
    link = desk.publish(outlet, *story, when=world.clock())
    await make_due(world.app.store, world.clock())
    await poll_once(world.app.pipeline)
    return link


async def deliver_until(world: World, check: Callable[[], object], what: str) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while True:
        await world.app.deliverer.deliver_once()
        if check():
            return
        if datetime.now(UTC) > deadline:
            raise AssertionError(f"timed out delivering {what}")


def posted(world: World, channel: str) -> list[SlackMessage]:
    """Top-level messages in the channel, as they stand now."""
    return [m for m in world.api.messages if m.channel == channel and not m.thread_ts]


def thread(world: World, message: SlackMessage) -> list[str]:
    return [
        slack_unescape(m.blocks[0]["text"]["text"])
        for m in world.api.messages
        if m.thread_ts == message.ts
    ]


def mrkdwn(message: SlackMessage) -> str:
    texts = []
    for block in message.blocks:
        if block.get("type") == "section":
            texts.append(block["text"]["text"])
        texts += [e.get("text", "") for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
    return "\n".join(texts)


def has_buttons(message: SlackMessage) -> bool:
    return any(block.get("type") == "actions" for block in message.blocks)


async def test_follow_ups_edit_the_alert_and_post_in_its_thread(
    world: World, desk: Newsdesk
) -> None:
    await world.say("subscribe drone_strike")
    await publish(world, desk, "wire", SAME_EVENT["wire"])
    await deliver_until(world, lambda: world.api.alerts(NEWS), "the alert")
    [alert] = world.api.alerts(NEWS)

    agency = await publish(world, desk, "agency", SAME_EVENT["agency"])
    await deliver_until(world, lambda: thread(world, alert), "the follow-up")
    [now] = posted(world, NEWS)
    assert f"Also reported by: <{agency}|agency> (2 outlets)" in mrkdwn(now)
    assert has_buttons(now)
    [note] = thread(world, alert)
    assert note.startswith("Also reported by 2 outlets now:") and "agency" in note

    assert await world.slack.click(now, "mute", user=ADMIN) == 200
    await world.api.wait_for(lambda: not has_buttons(posted(world, NEWS)[0]))
    await publish(world, desk, "desk", SAME_EVENT["desk"])
    world.clock.offset += timedelta(seconds=61)  # the gap between two follow-ups
    await deliver_until(world, lambda: len(thread(world, alert)) == 2, "the second follow-up")
    [now] = posted(world, NEWS)
    text = mrkdwn(now)
    assert text.startswith(":rotating_light: *URGENT · 3 outlets*")
    assert "(3 outlets)" in text and "muted drone_strike" in text
    assert not has_buttons(now)  # the answer stays in place of the buttons
    assert "desk" in thread(world, alert)[1]
    assert len(posted(world, NEWS)) == 1 and world.api.invalid == []


async def test_a_mute_holds_alerts_for_one_digest(world: World, desk: Newsdesk) -> None:
    await world.say("subscribe aid_package")
    muted = await world.say("mute 2h")
    assert "one digest" in muted.text
    for n in range(3):
        await publish(world, desk, "wire", aid_story(n))
    for _ in range(3):
        await world.app.deliverer.deliver_once()
    assert world.api.alerts(NEWS) == []
    world.clock.offset += timedelta(hours=2, minutes=1)
    await release_due(world.app.store, world.clock())
    await deliver_until(world, lambda: posted(world, NEWS), "the digest")
    [digest] = posted(world, NEWS)
    text = slack_unescape(mrkdwn(digest))
    assert text.startswith("*newswatch digest: 3 stories held while this chat was muted*")
    positions = [text.index(aid_story(n)[0]) for n in range(3)]
    assert positions == sorted(positions) and not has_buttons(digest)


async def test_a_digest_of_sixty_stories_is_split_within_slacks_limits(
    world: World, desk: Newsdesk
) -> None:
    await world.say("subscribe aid_package hourly")
    for n in range(60):
        desk.publish("wire", *aid_story(200 + n), when=world.clock())
    await make_due(world.app.store, world.clock())
    await poll_once(world.app.pipeline)
    world.clock.offset += timedelta(hours=1, minutes=1)
    await release_due(world.app.store, world.clock())
    heading = re.compile(
        r"\*newswatch digest: 60 stories from digest subscriptions\* \(part (\d) of (\d)\)"
    )

    def parts() -> list[re.Match[str]]:
        found = (heading.match(m.blocks[0]["text"]["text"]) for m in posted(world, NEWS))
        return [match for match in found if match]

    await deliver_until(world, lambda: parts() and parts()[-1][1] == parts()[-1][2], "every part")
    assert [m[1] for m in parts()] == ["1", "2"] and world.api.invalid == []
    messages = posted(world, NEWS)
    assert all(len(m.blocks) <= 50 for m in messages)
    text = slack_unescape("\n".join(mrkdwn(m) for m in messages))
    assert all(text.count(aid_story(200 + n)[0]) == 1 for n in range(60))


async def test_a_long_reply_comes_whole(world: World) -> None:
    for n in range(60):
        await world.app.store.add_feed(f"https://feeds{n}.example/news/rss.xml", f"Outlet {n:02d}")
    before = len(world.api.responses)
    await world.say("feeds")
    text = slack_unescape("\n".join(post.text for post in world.api.responses[before:]))
    assert all(f"Outlet {n:02d}" in text for n in range(60))
    assert world.api.invalid == []
