"""The buttons under an alert, through `dispatch` on a real store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.model import Destination
from handlers import ButtonAction, ChatKind
from tests.test_handlers_env import ADMIN, GROUP, MEMBER, NOW, Env, env, story

__all__ = ["env"]

GROUP_CHAT = Destination("telegram", GROUP)


async def _alerted(env: Env) -> None:
    await env.say("subscribe drone_strike aid_package", chat=GROUP, kind=ChatKind.GROUP)
    await env.save_stories(story("s1", "Drone light show strikes a chord"))


async def test_mute_button_mutes_that_rule_here_for_24_hours(env: Env) -> None:
    await _alerted(env)
    reply = await env.click(ButtonAction.MUTE, "drone_strike", "s1")
    assert reply.ok and reply.replace_original
    assert "muted drone_strike here until 2025-03-11 12:00 UTC" in reply.text
    assert await env.store.destinations_for(["drone_strike"], NOW) == []
    assert await env.store.destinations_for(["aid_package"], NOW) == [GROUP_CHAT]
    later = NOW + timedelta(hours=24)
    assert await env.store.destinations_for(["drone_strike"], later) == [GROUP_CHAT]


async def test_unsubscribe_button_unsubscribes_the_chat_from_that_rule(env: Env) -> None:
    await _alerted(env)
    reply = await env.click(ButtonAction.UNSUBSCRIBE, "drone_strike", "s1")
    assert reply.ok and reply.replace_original
    assert [s.rule for s in await env.store.subscriptions(GROUP_CHAT)] == ["aid_package"]
    again = await env.click(ButtonAction.UNSUBSCRIBE, "drone_strike", "s1")
    assert again.ok and "no longer subscribed" in again.text


async def test_unsubscribe_button_on_an_all_rules_chat_explains(env: Env) -> None:
    await env.say("subscribe all", chat=GROUP, kind=ChatKind.GROUP)
    before = await env.dump()
    reply = await env.click(ButtonAction.UNSUBSCRIBE, "drone_strike", "s1")
    assert not reply.ok and reply.ephemeral and "gets every rule" in reply.text
    assert await env.dump() == before


@pytest.mark.parametrize("action", [ButtonAction.MUTE, ButtonAction.UNSUBSCRIBE])
async def test_a_plain_group_member_cannot_mute_or_unsubscribe(
    env: Env, action: ButtonAction
) -> None:
    await _alerted(env)
    before = await env.dump()
    reply = await env.click(action, "drone_strike", "s1", user=MEMBER)
    assert not reply.ok and reply.ephemeral and "administrators" in reply.text
    assert await env.dump() == before


async def test_a_group_administrator_may_use_the_buttons(env: Env) -> None:
    await _alerted(env)
    env.chat_admins.admins.add((GROUP, MEMBER))
    assert (await env.click(ButtonAction.MUTE, "drone_strike", "s1", user=MEMBER)).ok


async def test_not_relevant_from_an_admin_becomes_a_negative_example(env: Env) -> None:
    await _alerted(env)
    reply = await env.click(ButtonAction.NOT_RELEVANT, "drone_strike", "s1")
    assert reply.ok and reply.replace_original
    rule = env.ctx.rulebook.rule("drone_strike")
    assert rule is not None and rule.topic is not None
    assert rule.topic.negatives == ("Drone light show strikes a chord",)
    assert rule.topic.intent == "Drone and missile strikes"
    [feedback] = await env.store.history("feedback", "drone_strike")
    assert (feedback.action, feedback.actor) == ("not_relevant", f"telegram:{ADMIN} (user{ADMIN})")
    assert feedback.after == {
        "story_key": "s1",
        "title": "Drone light show strikes a chord",
        "url": "https://news.example/s1?utm_source=feed",
        "applied": True,
    }
    [edit] = await env.store.history("rule", "drone_strike")
    assert edit.after is not None
    assert edit.after["topic"] == {
        "intent": "Drone and missile strikes",
        "positives": [],
        "negatives": ["Drone light show strikes a chord"],
        "threshold": 0.5,
    }
    history = (await env.say("rule history drone_strike")).text
    assert "not relevant: Drone light show strikes a chord" in history


async def test_not_relevant_twice_adds_the_example_once(env: Env) -> None:
    await _alerted(env)
    await env.click(ButtonAction.NOT_RELEVANT, "drone_strike", "s1")
    await env.click(ButtonAction.NOT_RELEVANT, "drone_strike", "s1")
    rule = env.ctx.rulebook.rule("drone_strike")
    assert rule is not None and rule.topic is not None and len(rule.topic.negatives) == 1
    assert len(await env.store.history("rule", "drone_strike")) == 1
    assert len(await env.store.history("feedback", "drone_strike")) == 2


async def test_not_relevant_from_a_member_is_recorded_for_the_admins_only(env: Env) -> None:
    await _alerted(env)
    rule_before = env.ctx.rulebook.rule("drone_strike")
    reply = await env.click(ButtonAction.NOT_RELEVANT, "drone_strike", "s1", user=MEMBER)
    assert reply.ok and "for the admins" in reply.text
    assert env.ctx.rulebook.rule("drone_strike") == rule_before
    [feedback] = await env.store.history("feedback", "drone_strike")
    assert feedback.after is not None and feedback.after["applied"] is False
    assert await env.store.history("rule", "drone_strike") == []


@pytest.mark.parametrize(
    ("rule", "story_key", "message"),
    [
        ("no_such_rule", "s1", "no rule named 'no_such_rule'"),
        ("drone_strike", "gone", "no longer stored"),
    ],
)
async def test_not_relevant_for_a_missing_rule_or_story(
    env: Env, rule: str, story_key: str, message: str
) -> None:
    await _alerted(env)
    before = await env.dump()
    reply = await env.click(ButtonAction.NOT_RELEVANT, rule, story_key)
    assert not reply.ok and message in reply.text
    assert await env.dump() == before


async def test_an_unknown_button_action_is_refused(env: Env) -> None:
    reply = await env.click("explode", "drone_strike", "s1")  # type: ignore[arg-type]
    assert not reply.ok and "unknown button action 'explode'" in reply.text
