"""Entity commands through `dispatch` on a real store: list, add (audited, live), remove."""

from __future__ import annotations

from bot.core.model import Rule
from tests.test_handlers_env import ADMIN, MEMBER, NOW, Env, env, story

__all__ = ["env"]

ACTOR = f"telegram:{ADMIN} (user{ADMIN})"


async def test_entities_lists_every_class(env: Env) -> None:
    reply = await env.say("entities", user=MEMBER)
    lines = reply.text.splitlines()
    assert lines[0].endswith("entity classes (use them in queries as @name):")
    assert any(line.startswith("• @country: ") for line in lines)
    assert any(line.startswith("• @money: ") for line in lines)


async def test_an_added_name_matches_at_once_and_is_audited(env: Env) -> None:
    await env.say("rule add breakaway (@country) NEAR/3 ~vote")
    assert env.ctx.rulebook.match_story(story("s1", "Somaliland votes for a president")) == []
    reply = await env.say("entity add country Somaliland")
    assert reply.ok, reply.text
    assert "undo with `entity rm country Somaliland`" in reply.text
    matched = env.ctx.rulebook.match_story(story("s2", "Somaliland votes for a president"))
    assert [(m.rule, m.why) for m in matched] == [
        ("breakaway", 'title: @country: Somaliland, "votes"')
    ]
    [change] = await env.store.history("entity", "country")
    assert (change.action, change.actor, change.at) == ("add", ACTOR, NOW)
    assert change.after == {"class": "country", "name": "Somaliland", "entity": "Somaliland"}
    listed = await env.say("entities country", user=MEMBER)
    assert "• Somaliland" in listed.text


async def test_a_name_can_stand_for_another_entity(env: Env) -> None:
    env.ctx.rulebook.compile([Rule("us_word", "@us NEAR/2 ~warn")])
    reply = await env.say("entity add @us Secretary Rubio = US secretary of state")
    assert reply.ok and "(for US secretary of state)" in reply.text
    [entry] = await env.store.list_entity_names()
    assert (entry.entity_class, entry.name, entry.entity) == (
        "us",
        "Secretary Rubio",
        "US secretary of state",
    )


async def test_removing_a_name_undoes_it(env: Env) -> None:
    await env.say("rule add breakaway (@country) NEAR/3 ~vote")
    await env.say("entity add country Somaliland")
    reply = await env.say("entity rm country Somaliland")
    assert reply.ok and reply.text == "@country no longer matches 'Somaliland'"
    assert env.ctx.rulebook.match_story(story("s3", "Somaliland votes again")) == []
    again = await env.say("entity rm country Somaliland")
    assert not again.ok and "no added name 'Somaliland' in @country" in again.text


async def test_bad_entity_commands_say_why(env: Env) -> None:
    unknown = await env.say("entity add planets Mars")
    assert not unknown.ok and unknown.text.startswith("no entity class @planets")
    money = await env.say("entity add money doubloons")
    assert not money.ok and "@money is a pattern and takes no names" in money.text
    empty = await env.say("entity add country ???")
    assert not empty.ok and "has no letters or digits" in empty.text
    twice = await env.say("entity add country Belgium")
    assert twice.ok
    duplicate = await env.say("entity add country Belgium")
    assert not duplicate.ok and "already has 'Belgium'" in duplicate.text


async def test_only_admins_change_entity_classes(env: Env) -> None:
    reply = await env.say("entity add country Somaliland", user=MEMBER)
    assert not reply.ok
    assert await env.store.list_entity_names() == []


async def test_a_word_class_takes_a_query_term_audited_and_live(env: Env) -> None:
    await env.say("rule add meddling @us BEFORE/8 @wrongdoing")
    assert env.ctx.rulebook.match_story(story("w1", "US accused of gaslighting Europe")) == []
    reply = await env.say("entity add wrongdoing ~gaslight")
    assert reply.ok, reply.text
    assert (
        reply.text
        == "@wrongdoing now matches ~gaslight; undo with `entity rm wrongdoing ~gaslight`"
    )
    matched = env.ctx.rulebook.match_story(story("w2", "US accused of gaslighting Europe"))
    assert [(m.rule, m.why) for m in matched] == [
        ("meddling", "title: @us: US, @wrongdoing: gaslighting")
    ]
    [change] = await env.store.history("entity", "wrongdoing")
    assert (change.action, change.actor) == ("add", ACTOR)
    listed = await env.say("entities wrongdoing", user=MEMBER)
    assert "added by admins: ~gaslight" in listed.text
    removed = await env.say("entity rm wrongdoing ~gaslight")
    assert removed.ok and removed.text == "@wrongdoing no longer matches '~gaslight'"


async def test_a_word_class_refuses_what_is_not_one_term(env: Env) -> None:
    for bad in ("a OR b", "title:drone", "@wrongdoing", "@nosuch"):
        reply = await env.say(f"entity add wrongdoing {bad}")
        assert not reply.ok and "does not work in @wrongdoing" in reply.text, (bad, reply.text)
    assert await env.store.list_entity_names() == []
