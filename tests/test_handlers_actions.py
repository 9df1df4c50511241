"""The buttons under an alert, through `dispatch` on a real store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.model import Destination
from handlers import ButtonAction, ChatKind
from tests.test_handlers_env import GROUP, MEMBER, NOW, Env, env, story

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


async def test_an_unknown_button_action_is_refused(env: Env) -> None:
    reply = await env.click("explode", "drone_strike", "s1")  # type: ignore[arg-type]
    assert not reply.ok and "unknown button action 'explode'" in reply.text
