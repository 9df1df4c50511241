"""Rule commands through `dispatch` on a real store: listing, add/edit/rm/show,
syntax errors, the audit trail, undo, backtests and topic edits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.core.model import Rule, Topic
from tests.test_handlers_env import ADMIN, MEMBER, NOW, Env, env, story

__all__ = ["env"]

ACTOR = f"telegram:{ADMIN} (user{ADMIN})"


def rule_of(env: Env, name: str) -> Rule | None:
    return env.ctx.rulebook.rule(name)


# ── listing and showing ────────────────────────────────────────────────────


async def test_rules_lists_descriptions_and_marks_topic_rules(env: Env) -> None:
    reply = await env.say("rules", user=MEMBER)
    assert reply.text.splitlines() == [
        "2 rules:",
        "• aid_package [topic, inactive] — New aid packages",
        "• drone_strike — Drone and missile strikes",
        "topic rules are inactive here (the semantic tier is not installed); "
        "their queries still match",
        "subscribe with: subscribe <rule…|all>",
    ]


async def test_rules_marks_active_topics_when_the_semantic_tier_runs(env: Env) -> None:
    env.ctx = replace(env.ctx, topics_active=True)
    reply = await env.say("rules", user=MEMBER)
    assert "• aid_package [topic] — New aid packages" in reply.text
    assert "inactive" not in reply.text


async def test_rule_show_gives_query_topic_source_and_subscribers(env: Env) -> None:
    await env.say("subscribe aid_package", user=MEMBER)
    reply = await env.say("rule show aid_package")
    assert reply.code == "aid NEAR/5 (package OR announc*)"
    assert reply.text.splitlines() == [
        "rule aid_package [topic, inactive]",
        "description: New aid packages",
        "from: the rules file",
        "subscribed chats: 1",
        "topic intent: A government announces new aid for another country",
        "topic threshold: 0.5",
        "positive 1: US announces a new military aid package for Ukraine",
    ]


async def test_rule_show_unknown_rule(env: Env) -> None:
    reply = await env.say("rule show nope")
    assert not reply.ok and reply.text == "no rule named 'nope' — `rules` lists the names"


# ── add, edit, remove ──────────────────────────────────────────────────────


async def test_rule_add_with_description_takes_effect_and_is_audited(env: Env) -> None:
    reply = await env.say("rule add ukraine_aid aid NEAR/5 ukraine -- New aid for Ukraine")
    assert reply.ok and reply.code == "aid NEAR/5 ukraine"
    added = Rule("ukraine_aid", "aid NEAR/5 ukraine", "New aid for Ukraine")
    assert rule_of(env, "ukraine_aid") == added
    assert env.rules_changed == [3]
    matched = env.ctx.rulebook.match_story(story("s", "EU aid for Ukraine rises"))
    assert [m.rule for m in matched] == ["ukraine_aid"]
    [change] = await env.store.history("rule", "ukraine_aid")
    assert (change.action, change.actor, change.at, change.before) == ("add", ACTOR, NOW, None)
    assert change.after is not None and change.after["query"] == "aid NEAR/5 ukraine"


@pytest.mark.parametrize("separator", [" -- ", " — "])
async def test_rule_add_accepts_a_phone_s_em_dash(env: Env, separator: str) -> None:
    await env.say(f"rule add ukraine_aid aid NEAR/5 ukraine{separator}Aid")
    assert rule_of(env, "ukraine_aid") == Rule("ukraine_aid", "aid NEAR/5 ukraine", "Aid")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rule add drone_strike drone", "rule 'drone_strike' already exists"),
        ("rule add 9lives cat", "'9lives' is not a rule name"),
        ("rule add " + "x" * 41 + " cat", "at most 40 characters"),
        ("rule edit nope drone", "no rule named 'nope'"),
        ("rule rm nope", "no rule named 'nope'"),
    ],
)
async def test_rule_changes_refused_for_bad_names(env: Env, text: str, message: str) -> None:
    before = await env.dump()
    reply = await env.say(text)
    assert not reply.ok and message in reply.text
    assert await env.dump() == before


@pytest.mark.parametrize(
    ("text", "column", "pointer"),
    [
        ("rule add bad drone strike)", 13, "drone strike)\n            ^"),
        ('rule add bad "drone strike', 1, '"drone strike\n^'),
        ("rule edit drone_strike drone NEAR/x strike", 12, "drone NEAR/x strike\n           ^"),
    ],
)
async def test_a_rule_with_a_syntax_error_gets_column_caret_and_fix(
    env: Env, text: str, column: int, pointer: str
) -> None:
    before = await env.dump()
    reply = await env.say(text)
    assert not reply.ok
    assert f"at column {column}:" in reply.text
    assert "\nfix: " in reply.text
    assert reply.code == pointer
    assert await env.dump() == before


async def test_rule_edit_changes_query_keeps_description_and_topic(env: Env) -> None:
    reply = await env.say('rule edit aid_package aid NEAR/3 ("new package" OR pledge*)')
    assert reply.ok
    edited = rule_of(env, "aid_package")
    assert edited is not None
    assert edited.query == 'aid NEAR/3 ("new package" OR pledge*)'
    assert edited.description == "New aid packages"
    assert edited.topic is not None and edited.topic.threshold == 0.5


async def test_rule_edit_description_only(env: Env) -> None:
    await env.say("rule edit drone_strike -- Strikes by drones")
    assert rule_of(env, "drone_strike") == Rule(
        "drone_strike", "drone NEAR/3 (strike* OR attack*)", "Strikes by drones"
    )


async def test_rule_edit_to_the_same_text_records_nothing(env: Env) -> None:
    reply = await env.say("rule edit drone_strike drone NEAR/3 (strike* OR attack*)")
    assert reply.ok and "nothing changed" in reply.text
    assert await env.store.history("rule", "drone_strike") == []


async def test_rule_rm_removes_a_file_rule_and_keeps_subscriptions(env: Env) -> None:
    await env.say("subscribe drone_strike", user=MEMBER)
    reply = await env.say("rule rm drone_strike")
    assert reply.ok and "1 subscription to it kept for undo" in reply.text
    assert rule_of(env, "drone_strike") is None
    assert await env.store.deleted_rule_names() == {"drone_strike"}
    assert len(await env.store.subscriptions()) == 1
    assert not (await env.say("subscribe drone_strike", user="300")).ok


# ── history and undo ───────────────────────────────────────────────────────


async def test_history_lists_changes_newest_first(env: Env) -> None:
    await env.say("rule edit drone_strike drone NEAR/2 strike")
    env.clock.now += timedelta(minutes=5)
    await env.say("rule edit drone_strike -- Strikes")
    env.clock.now += timedelta(minutes=5)
    await env.say("rule rm drone_strike")
    reply = await env.say("rule history drone_strike")
    assert reply.text.splitlines() == [
        "rule drone_strike, newest first:",
        f"2025-03-10 12:10 UTC  {ACTOR}  removed",
        f"2025-03-10 12:05 UTC  {ACTOR}  edit: description",
        f"2025-03-10 12:00 UTC  {ACTOR}  added",
    ]


async def test_history_of_an_untouched_rule(env: Env) -> None:
    reply = await env.say("rule history drone_strike")
    assert reply.ok and "no recorded changes" in reply.text


async def test_undo_walks_back_an_edit_a_removal_and_an_add(env: Env) -> None:
    original = rule_of(env, "drone_strike")
    await env.say("rule edit drone_strike drone NEAR/2 strike -- Edited")
    edited = rule_of(env, "drone_strike")
    await env.say("rule edit drone_strike drone NEAR/1 strike")
    assert (await env.say("rule undo drone_strike")).ok
    assert rule_of(env, "drone_strike") == edited
    await env.say("rule rm drone_strike")
    reply = await env.say("rule undo drone_strike")
    assert reply.ok and "is back as it was" in reply.text
    assert rule_of(env, "drone_strike") == edited
    await env.say("rule add fresh drone")
    reply = await env.say("rule undo fresh")
    assert "did not exist before, so it is removed" in reply.text
    assert rule_of(env, "fresh") is None
    assert original is not None and original != edited


async def test_undo_of_the_first_chat_edit_restores_the_rules_file_version(env: Env) -> None:
    original = rule_of(env, "drone_strike")
    await env.say("rule edit drone_strike drone")
    reply = await env.say("rule undo drone_strike")
    assert reply.ok and reply.code == "drone NEAR/3 (strike* OR attack*)"
    assert rule_of(env, "drone_strike") == original


async def test_undo_of_removing_a_file_rule_brings_it_back(env: Env) -> None:
    original = rule_of(env, "drone_strike")
    await env.say("rule rm drone_strike")
    await env.say("rule undo drone_strike")
    assert rule_of(env, "drone_strike") == original
    assert await env.store.deleted_rule_names() == set()


async def test_undo_without_history(env: Env) -> None:
    reply = await env.say("rule undo drone_strike")
    assert not reply.ok and "no recorded change to undo" in reply.text


# ── backtest ───────────────────────────────────────────────────────────────


async def _stored_news(env: Env) -> None:
    await env.save_stories(
        story("d1", "Drone strike hits fuel depot"),
        story("d2", "Drone attack on the port repelled", age=timedelta(days=3)),
        story("d3", "Old drone strike report", age=timedelta(days=20)),
        story("a1", "EU unveils aid package for farmers"),
        story("x1", "Drone delivery trial begins"),
    )


async def test_rule_test_counts_matches_with_why_over_the_days(env: Env) -> None:
    await _stored_news(env)
    reply = await env.say("rule test drone_strike")
    lines = reply.text.splitlines()
    assert lines[0] == "rule drone_strike over the last 7 days: 2 of 4 stored stories match"
    assert lines[1].startswith("• Drone strike hits fuel depot (news.example, 2025-03-09) — ")
    assert '"drone"' in lines[1].lower() and "strike" in lines[1].lower()
    assert lines[2].startswith("• Drone attack on the port repelled")
    assert len(lines) == 3
    reply = await env.say("rule test drone_strike 30")
    assert reply.text.startswith("rule drone_strike over the last 30 days: 3 of 5 stored")


async def test_rule_test_a_plain_query(env: Env) -> None:
    await _stored_news(env)
    reply = await env.say("rule test drone 30d")
    assert (
        reply.text.splitlines()[0] == "the query over the last 30 days: 4 of 5 stored stories match"
    )


async def test_rule_test_a_topic_rule_says_only_the_query_was_replayed(env: Env) -> None:
    await _stored_news(env)
    reply = await env.say("rule test aid_package")
    assert "1 of 4 stored stories match" in reply.text
    assert reply.text.endswith("(query tier only: the topic is not replayed here)")


async def test_rule_test_with_a_new_query_shows_what_would_change(env: Env) -> None:
    await _stored_news(env)
    before = await env.dump()
    reply = await env.say("rule test drone_strike drone -attack 30")
    assert reply.text.splitlines() == [
        "rule drone_strike over the last 30 days (5 stored stories): "
        "3 match now, 3 would match the new query",
        "newly matched: 1",
        reply.text.splitlines()[2],
        "no longer matched: 1",
        reply.text.splitlines()[4],
        "nothing saved — apply it with `rule edit drone_strike <query>`",
    ]
    assert reply.text.splitlines()[2].startswith("• Drone delivery trial begins")
    assert reply.text.splitlines()[4].startswith("• Drone attack on the port repelled")
    assert await env.dump() == before


async def test_rule_test_samples_at_most_five(env: Env) -> None:
    await env.save_stories(*(story(f"s{n}", f"Drone strike number {n}") for n in range(8)))
    reply = await env.say("rule test drone_strike")
    lines = reply.text.splitlines()
    assert lines[0].endswith("8 of 8 stored stories match")
    assert len(lines) == 6


async def test_rule_test_a_query_with_a_syntax_error(env: Env) -> None:
    reply = await env.say("rule test drone_strike (drone")
    assert not reply.ok and "rule 'drone_strike'" in reply.text and reply.code.endswith("^")


# ── topic edits ────────────────────────────────────────────────────────────


async def test_topic_edits_create_a_topic_and_are_audited(env: Env) -> None:
    await env.say("rule example add drone_strike negative  Drone light show   at the festival")
    await env.say("rule example add drone_strike positive Drones hit Kyiv overnight")
    await env.say("rule threshold drone_strike 0,6")
    await env.say("rule intent drone_strike A drone attack on a place")
    rule = rule_of(env, "drone_strike")
    assert rule is not None
    assert rule.topic == Topic(
        intent="A drone attack on a place",
        positives=("Drones hit Kyiv overnight",),
        negatives=("Drone light show at the festival",),
        threshold=0.6,
    )
    changes = await env.store.history("rule", "drone_strike")
    assert [c.action for c in changes] == ["edit", "edit", "edit", "add"]
    assert changes[-1].after is not None
    assert changes[-1].after["topic"] == {
        "intent": "Drone and missile strikes",
        "positives": [],
        "negatives": ["Drone light show at the festival"],
        "threshold": 0.5,
    }
    assert changes[0].before is not None
    assert changes[0].before["topic"] == {
        "intent": "Drone and missile strikes",
        "positives": ["Drones hit Kyiv overnight"],
        "negatives": ["Drone light show at the festival"],
        "threshold": 0.6,
    }
    assert len(env.rules_changed) == 4


@pytest.mark.parametrize("which", ["1", "US announces a new  military aid package for Ukraine"])
async def test_rule_example_rm_by_number_or_text(env: Env, which: str) -> None:
    reply = await env.say(f"rule example rm aid_package positive {which}")
    assert reply.ok
    rule = rule_of(env, "aid_package")
    assert rule is not None and rule.topic is not None and rule.topic.positives == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rule example rm aid_package positive 2", "no positive example '2'"),
        ("rule example rm aid_package negative anything", "no negative example"),
        ("rule example add nope positive x", "no rule named 'nope'"),
    ],
)
async def test_topic_edit_errors_change_nothing(env: Env, text: str, message: str) -> None:
    before = await env.dump()
    reply = await env.say(text)
    assert not reply.ok and message in reply.text
    assert await env.dump() == before


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (
            "rule example add aid_package positive "
            "US announces a new military aid package for Ukraine",
            "already has that positive example",
        ),
        ("rule threshold aid_package 0.5", "already 0.5"),
        (
            "rule intent aid_package A government announces new aid for another country",
            "already reads like that",
        ),
    ],
)
async def test_topic_edits_that_change_nothing_record_nothing(
    env: Env, text: str, answer: str
) -> None:
    before = await env.dump()
    reply = await env.say(text)
    assert reply.ok and answer in reply.text
    assert await env.dump() == before


async def test_rule_undo_reverts_a_topic_edit(env: Env) -> None:
    before = rule_of(env, "aid_package")
    await env.say("rule threshold aid_package 0.8")
    await env.say("rule undo aid_package")
    assert rule_of(env, "aid_package") == before
