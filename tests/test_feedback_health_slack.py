"""End to end against the Slack stand-in: any channel member subscribes the
channel (or only admins, with NEWSWATCH_CHANNEL_SUBSCRIBE=admins), feed-health
notices in SLACK_ADMIN_CHANNEL, and feedback buttons with an apply/skip note."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.pipeline.health import check_feed_health
from bot.pipeline.poll import poll_once
from bot.platforms.slack.app import EVENTS_PATH, start_slack
from bot.service.app import admin_destinations, build_app, health_limits
from bot.service.http import HttpServer
from bot.service.platforms import frontend_deps
from tests.support.fake_slack import FakeSlackApi
from tests.support.feed_server import FeedServer
from tests.support.slack_caller import SlackCaller
from tests.test_feedback_health_telegram import AID_RULES
from tests.test_slack_app import ADMIN, BACKLOG, FEED, MEMBER, NEWS, Clock, World, settings_for

ADMIN_CHANNEL = "CADMINS"


@asynccontextmanager
async def world_with(tmp_path: Path, **settings: Any) -> AsyncIterator[World]:
    """The app in HTTP mode with these settings, its Slack front-end and the fakes."""
    clock = Clock()
    async with FakeSlackApi() as api, FeedServer() as feeds:
        app = await build_app(settings_for(tmp_path, api, **settings), clock=clock)
        try:
            http = HttpServer(app)
            stop = await start_slack(frontend_deps(app, http))
            await http.start("127.0.0.1", 0)
            slack = SlackCaller(api, f"http://127.0.0.1:{http.port}{EVENTS_PATH}")
            try:
                yield World(app, api, slack, feeds, clock)
            finally:
                await stop()
                await http.stop()
        finally:
            await app.close()


# ── who subscribes a channel ───────────────────────────────────────────────


@pytest.mark.slow
async def test_any_member_subscribes_and_unsubscribes_the_channel(tmp_path: Path) -> None:
    async with world_with(tmp_path) as world:
        await world.prime()
        subscribed = await world.say("subscribe drone_strike", user=MEMBER)
        assert subscribed.body["response_type"] == "in_channel"
        assert "subscribed to: drone_strike" in subscribed.text
        await world.poll(BACKLOG, "Drone strike hits fuel depot in Odesa")
        [alert] = world.api.alerts(NEWS)
        assert "Drone strike hits fuel depot" in json.dumps(alert.blocks)
        unsubscribed = await world.say("unsubscribe drone_strike", user=MEMBER)
        assert "unsubscribed from: drone_strike" in unsubscribed.text
        assert await world.app.store.subscriptions(world.destination(NEWS)) == []
        [change, *_] = await world.app.store.history("subscription", f"slack:{NEWS}")
        assert change.actor.startswith(f"slack:{MEMBER}")


@pytest.mark.slow
async def test_admins_only_when_configured(tmp_path: Path) -> None:
    async with world_with(tmp_path, channel_subscribe="admins") as world:
        refused = await world.say("subscribe drone_strike", user=MEMBER)
        assert refused.body["response_type"] == "ephemeral"
        assert "administrators" in refused.text and "nothing was changed" in refused.text
        assert await world.app.store.subscriptions(world.destination(NEWS)) == []
        allowed = await world.say("subscribe drone_strike", user=ADMIN)
        assert "subscribed to: drone_strike" in allowed.text


# ── feed-health notices ────────────────────────────────────────────────────


@pytest.mark.slow
async def test_feed_health_notices_go_to_the_admin_channel_once(tmp_path: Path) -> None:
    async with world_with(
        tmp_path, slack_admin_channel=ADMIN_CHANNEL, feed_failing_after=1
    ) as world:
        app = world.app
        limits, admins = health_limits(app.settings), admin_destinations(app.settings)
        await world.prime()

        async def check() -> None:
            await check_feed_health(app.store, limits, admins, world.clock())
            await app.notices.send_once()

        world.feeds.fail(FEED, status=500)
        for _ in range(3):
            world.clock.offset += timedelta(hours=1)
            await poll_once(app.pipeline)
            await check()
        await world.poll(BACKLOG)
        await check()
        await check()
        texts = world.api.texts(ADMIN_CHANNEL)
        assert len(texts) == 2, texts
        assert texts[0].startswith("newswatch: feed wire (id 1) is failing: 1 checks in a row")
        assert texts[1] == "newswatch: feed wire (id 1) works again (HTTP 200)"


# ── feedback buttons ───────────────────────────────────────────────────────


@pytest.mark.slow
async def test_feedback_buttons_with_a_proposed_change_to_apply(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(AID_RULES, encoding="utf-8")
    async with world_with(tmp_path, rules_file=rules, semantic="on") as world:
        api, slack = world.api, world.slack
        await world.prime()
        await world.say("subscribe aid_package volcano", user=ADMIN)
        await world.poll(BACKLOG, "France announces aid package for Lebanon")
        [alert] = api.alerts(NEWS)
        await world.poll(
            BACKLOG,
            "France announces aid package for Lebanon",
            "Paris announces aid package for Lebanon",
            "France announces an aid package for Lebanon's army",
            "Canada announces aid package for Haiti after the earthquake",
        )
        before = world.app.rulebook.rule("aid_package")
        responses = len(api.responses)
        assert await slack.click(alert, "not_relevant", user=ADMIN) == 200
        await api.wait_for(lambda: len(api.responses) > responses, within=20)
        note = api.responses[-1]
        assert note.body.get("response_type") == "ephemeral", note.text
        assert "would change more than a small share of its matches" in note.text
        assert [b["type"] for b in note.body["blocks"]][-1] == "actions"
        assert world.app.rulebook.rule("aid_package") == before

        assert await slack.click_ephemeral(note, "apply_feedback", user=MEMBER) == 200
        await api.wait_for(lambda: len(api.responses) > responses + 1)
        assert "admins only" in api.responses[-1].text
        assert world.app.rulebook.rule("aid_package") == before

        assert await slack.click_ephemeral(note, "apply_feedback", user=ADMIN) == 200
        await api.wait_for(lambda: len(api.responses) > responses + 2)
        decided = api.responses[-1]
        assert decided.body["replace_original"] is True
        assert "applied: “France announces aid package for Lebanon”" in decided.text
        rule = world.app.rulebook.rule("aid_package")
        assert rule is not None and rule.topic is not None
        assert rule.topic.negatives == ("France announces aid package for Lebanon",)
