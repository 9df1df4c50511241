"""End to end against the Telegram stand-in: feedback clicks, feed-health notices
to the admins, and retention — the service's own parts (`build_app`, the
front-end, `poll_once`, the delivery loop, the notice sender, the health check
and `prune_store`, as the scheduler runs them) on SQLite, with a loopback feed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from bot.core.model import Destination
from bot.pipeline.health import check_feed_health
from bot.platforms.telegram.render import parse_telegram_callback
from bot.service.app import admin_destinations, health_limits, prune_store
from tests.support.fake_telegram import FakeTelegramApi, PostedMessage
from tests.support.feed_server import FeedServer
from tests.test_telegram_bot import (
    ADMIN,
    Service,
    buttons,
    edited,
    shown,
    start_service,
    stop_service,
    wait_for,
)

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

AID_RULES = """\
rules:
  - name: aid_package
    description: New aid packages
    query: aid NEAR/5 (package OR announc*)
    topic:
      intent: A government announces new aid for another country
      positives: [US announces a new military aid package for Ukraine]
      threshold: 0.45
  - name: volcano
    description: Eruptions
    query: volcano* NEAR/3 erupt*
"""


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramApi]:
    async with FakeTelegramApi() as fake:
        yield fake


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest.fixture
async def aid_service(
    tmp_path: Path, api: FakeTelegramApi, feeds: FeedServer
) -> AsyncIterator[Service]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(AID_RULES, encoding="utf-8")
    running = await start_service(tmp_path, api, feeds, rules_file=rules, semantic="on")
    try:
        yield running
    finally:
        await stop_service(running)


async def click(service: Service, chat: int, message: PostedMessage, action: str) -> None:
    """Press the button of `action` under `message` as the chat's own user."""
    [data] = [d for _, d in buttons(message) if parse_telegram_callback(d).action == action]
    service.api.push_update(service.api.click_update(chat, message.message_id, chat, data))


# ── feedback ───────────────────────────────────────────────────────────────


@pytest.mark.slow
async def test_feedback_on_a_rule_without_a_topic_is_recorded_and_changes_nothing(
    aid_service: Service,
) -> None:
    service = aid_service
    await service.say(ADMIN, "/subscribe volcano")
    await service.publish("Volcano erupts on a remote island")
    await service.deliver_until(lambda: service.alerts(ADMIN), "the volcano alert")
    [alert] = service.alerts(ADMIN)
    assert [label for label, _ in buttons(alert)][2:] == ["Not relevant", "More like this"]
    await click(service, ADMIN, alert, "not_relevant")
    outcome = await wait_for(partial(edited, service.api, ADMIN), "the outcome on the alert")
    last = shown(outcome).splitlines()[-1]
    assert "the rule has no topic with positive examples" in last
    assert "matches as before" in last
    assert service.app.rulebook.rule("volcano") is not None
    assert service.app.rulebook.rule("volcano").topic is None  # type: ignore[union-attr]
    listed = await service.say(ADMIN, "/rule feedback volcano")
    assert "1 click (1 not relevant, 0 more like this)" in listed
    assert "not relevant · recorded (the rule has no topic" in listed


@pytest.mark.slow
async def test_a_larger_change_is_shown_with_apply_and_skip_buttons(aid_service: Service) -> None:
    service, api = aid_service, aid_service.api
    await service.say(ADMIN, "/subscribe aid_package")
    await service.publish("France announces aid package for Lebanon")
    await service.deliver_until(lambda: service.alerts(ADMIN), "the aid alert")
    [france] = service.alerts(ADMIN)
    await service.publish(  # stored too (as later reports of the story, or alerts)
        "Germany announces new aid package for Sudan",
        "Italy announces aid package for Lebanon",
        "EU announces new aid package for Moldova",
    )
    before = service.app.rulebook.rule("aid_package")
    await click(service, ADMIN, france, "not_relevant")
    proposal = await wait_for(
        lambda: next((m for m in service.alerts(ADMIN) if "Apply" in str(m.reply_markup)), None),
        "the proposed change",
    )
    text = shown(proposal)
    assert "would change more than a small share of its matches" in text
    assert "nothing changes until you apply it" in text
    assert "• Italy announces aid package for Lebanon (wire, " in text
    assert proposal.reply_to == france.message_id
    assert [label for label, _ in buttons(proposal)] == ["Apply", "Skip"]
    assert service.app.rulebook.rule("aid_package") == before

    member = 4711  # not an admin: the button refuses and changes nothing
    [apply] = [d for label, d in buttons(proposal) if label == "Apply"]
    api.push_update(api.click_update(ADMIN, proposal.message_id, member, apply))
    await wait_for(lambda: any("admins only" in a["text"] for a in api.callback_answers), "no")
    assert service.app.rulebook.rule("aid_package") == before

    api.push_update(api.click_update(ADMIN, proposal.message_id, ADMIN, apply))
    decided = await wait_for(
        lambda: next((e for e in api.edits if e.message_id == proposal.message_id), None),
        "the decision on the proposal",
    )
    assert decided.reply_markup is None
    assert "applied: “France announces aid package for Lebanon”" in shown(decided)
    rule = service.app.rulebook.rule("aid_package")
    assert rule is not None and rule.topic is not None
    assert rule.topic.negatives == ("France announces aid package for Lebanon",)
    listed = await service.say(ADMIN, "/rule feedback aid_package")
    assert "1 applied, 0 waiting for a decision" in listed


# ── feed-health notices ────────────────────────────────────────────────────


@pytest.mark.slow
async def test_a_failing_feed_tells_the_admin_once_and_once_when_it_recovers(
    tmp_path: Path, api: FakeTelegramApi, feeds: FeedServer
) -> None:
    service = await start_service(tmp_path, api, feeds, feed_failing_after=2)
    try:
        app = service.app
        limits, admins = health_limits(app.settings), admin_destinations(app.settings)
        assert admins == [Destination("telegram", str(ADMIN))]

        async def check_and_send() -> None:
            await check_feed_health(app.store, limits, admins, service.clock())
            await app.notices.send_once()

        def notices() -> list[str]:
            return [shown(m) for m in api.messages if m.chat_id == ADMIN and not m.reply_markup]

        feeds.fail("/wire.xml", status=503)
        await service.publish()
        await check_and_send()
        api.fail_next(1, status=429)  # the first try is flood-limited: retried, not lost
        await service.publish()
        await check_and_send()
        assert notices() == []
        assert await app.store.feed_alarms() == {(1, "failing")}
        service.clock.offset += timedelta(seconds=2)
        await check_and_send()
        [failing] = notices()
        assert failing.startswith("newswatch: feed wire (id 1) is failing: 2 checks in a row")
        assert "503" in failing
        for _ in range(3):  # still failing: nothing more
            await service.publish()
            await check_and_send()
        assert len(notices()) == 1

        service.newsroom.serve()  # the feed is back
        await service.publish()
        await check_and_send()
        await check_and_send()
        assert notices()[1:] == ["newswatch: feed wire (id 1) works again (HTTP 200)"]
    finally:
        await stop_service(service)


@pytest.mark.slow
async def test_a_feed_gone_quiet_tells_the_admin(
    tmp_path: Path, api: FakeTelegramApi, feeds: FeedServer
) -> None:
    service = await start_service(tmp_path, api, feeds, feed_quiet_hours=24)
    try:
        app = service.app
        limits, admins = health_limits(app.settings), admin_destinations(app.settings)
        for n in range(4):  # an item every hour
            service.newsroom.add(f"Council news {n}", service.clock() + timedelta(hours=n - 4))
        await service.publish()

        async def check_and_send() -> list[str]:
            raised = await check_feed_health(app.store, limits, admins, service.clock())
            await app.notices.send_once()
            return raised

        assert await check_and_send() == []
        service.clock.offset += timedelta(days=2)  # 200s, same items
        await service.publish()
        [quiet] = await check_and_send()
        assert quiet.startswith("newswatch: feed wire (id 1) has had no new item for 3 days")
        assert "usually one every 1 h" in quiet
        assert await check_and_send() == []
        await service.publish("Council approves the budget")
        assert await check_and_send() == ["newswatch: feed wire (id 1) has new items again"]
        texts = [shown(m) for m in api.messages if m.chat_id == ADMIN]
        assert texts == [quiet, "newswatch: feed wire (id 1) has new items again"]
    finally:
        await stop_service(service)


# ── retention ──────────────────────────────────────────────────────────────


@pytest.mark.slow
async def test_pruning_keeps_what_the_feed_still_carries_so_nothing_alerts_twice(
    tmp_path: Path, api: FakeTelegramApi, feeds: FeedServer
) -> None:
    service = await start_service(tmp_path, api, feeds, retention_days=30)
    try:
        store = service.app.store
        await service.say(501, "/subscribe drone_strike")
        await service.publish("Drone strike hits fuel depot", "Drone attack hits a port")
        await service.deliver_until(lambda: len(service.alerts(501)) == 2, "two alerts")
        for _ in range(5):  # 35 days on: the feed lists its items at every poll
            service.clock.offset += timedelta(days=7)
            await service.publish()
        service.newsroom.items.pop()  # the port story leaves the feed
        service.newsroom.serve()
        for _ in range(5):
            service.clock.offset += timedelta(days=7)
            await service.publish()
        report = await prune_store(store, service.app.settings, service.clock())
        assert report.outbox_rows == 2  # both alerts were sent weeks ago
        assert report.stories == 1  # the story the feed no longer lists
        stored = {
            s.title for s in await store.recent_stories(service.clock() - timedelta(days=400))
        }
        assert stored == {"Markets open higher on Monday", "Drone strike hits fuel depot"}

        await service.publish()  # the kept story is still known: no second alert
        for _ in range(3):
            await service.app.deliverer.deliver_once()
        assert len(service.alerts(501)) == 2
        assert await store.outbox_pending() == 0
    finally:
        await stop_service(service)


@pytest.mark.slow
async def test_a_feed_down_longer_than_the_retention_does_not_alert_again(
    tmp_path: Path, api: FakeTelegramApi, feeds: FeedServer
) -> None:
    service = await start_service(tmp_path, api, feeds, retention_days=30)
    try:
        await service.say(501, "/subscribe drone_strike")
        await service.publish("Drone strike hits fuel depot")
        await service.deliver_until(lambda: service.alerts(501), "the alert")
        feeds.fail("/wire.xml", status=503)
        for _ in range(8):  # 56 days down
            service.clock.offset += timedelta(days=7)
            await service.publish()
        report = await prune_store(service.app.store, service.app.settings, service.clock())
        assert report.stories == 0  # what the feed listed last is kept for its return
        service.newsroom.serve()  # back, with the same items
        await service.publish()
        for _ in range(3):
            await service.app.deliverer.deliver_once()
        assert len(service.alerts(501)) == 1
    finally:
        await stop_service(service)
