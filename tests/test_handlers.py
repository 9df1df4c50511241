"""Chat commands through `dispatch`, on a real store: help and errors,
subscriptions and mutes, status, and who may do what."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.core.model import ALL_RULES, Destination, FeedState, Subscription
from handlers import COMMANDS, ChatKind, Reply
from handlers.dispatch import GENERIC_FAILURE
from tests.store_samples import new_story
from tests.test_handlers_env import ADMIN, GROUP, MEMBER, NOW, Env, env

__all__ = ["env"]


def dest(chat: str) -> Destination:
    return Destination("telegram", chat)


# ── help and errors ────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("text", "user", "ok", "expected", "absent"),
    [
        ("help", MEMBER, True, ["subscribe <rule…|all>", "mute <duration>"], ["rule add"]),
        ("help", ADMIN, True, ["rule add <name> <query>", "feed rm"], []),
        ("/help", MEMBER, True, ["commands:"], []),
        ("help@newswatch_bot", MEMBER, True, ["commands:"], []),
        ("help rule add", MEMBER, True, ["(admins only)", "example: rule add ukraine_aid"], []),
        ("help frobnicate", MEMBER, False, ["no command 'frobnicate'", "commands:"], []),
        ("frobnicate now", MEMBER, False, ["unknown command 'frobnicate'", "subscribe"], []),
        ("rule frob x", ADMIN, False, ["unknown command 'rule frob'", "rule add"], []),
        ("", MEMBER, True, ["commands:"], []),
    ],
)
async def test_help_and_unknown_commands(
    env: Env, text: str, user: str, ok: bool, expected: list[str], absent: list[str]
) -> None:
    reply = await env.say(text, user=user)
    assert reply.ok is ok
    for part in expected:
        assert part in reply.text
    for part in absent:
        assert part not in reply.text


def test_every_command_has_usage_example_and_summary() -> None:
    for name, spec in COMMANDS.items():
        assert spec.name == name
        assert spec.example.startswith(name.split()[0]), name
        assert spec.usage and spec.summary


@pytest.mark.parametrize(
    ("text", "problem", "example"),
    [
        ("subscribe", "name at least one rule", "subscribe drone_strike aid_package"),
        ("subscribe Drone!", "'Drone!' is not a rule name", "subscribe drone_strike"),
        ("mute", "say for how long", "example: mute 2h"),
        ("mute soon", "'soon' is not a duration", "example: mute 2h"),
        ("mute 0m", "longer than zero", "example: mute 2h"),
        ("mute 400d", "at most a year", "example: mute 2h"),
        ("unmute now", "unmute takes no arguments", "example: unmute"),
        ("rule add", "the rule name is missing", "example: rule add ukraine_aid"),
        ("rule add ukraine_aid", "the query is missing", "example: rule add ukraine_aid"),
        ("rule edit drone_strike", "give the new query", "example: rule edit"),
        ("rule threshold drone_strike 1.5", "between 0 and 1", "example: rule threshold"),
        ("rule threshold drone_strike high", "'high' is not a number", "rule threshold"),
        ("rule example add drone_strike maybe x", "positive or negative", "rule example add"),
        ("rule test drone_strike 400", "days must be between 1 and 90", "rule test"),
        ("feed add ftp://x.example/rss", "is not an http(s) URL", "example: feed add https://"),
        ("feed rm", "say which feed", "example: feed rm 3"),
        ("rule history a b", "name one rule", "example: rule history drone_strike"),
    ],
)
async def test_bad_arguments_say_what_is_wrong_and_show_an_example(
    env: Env, text: str, problem: str, example: str
) -> None:
    before = await env.dump()
    reply = await env.say(text)
    assert not reply.ok
    assert problem in reply.text
    assert "usage: " in reply.text and example in reply.text
    assert await env.dump() == before


async def test_unexpected_errors_are_logged_and_answered_generically(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    async def failing_service_hook() -> None:
        raise RuntimeError("index rebuild crashed")

    env.ctx = replace(env.ctx, on_rules_changed=failing_service_hook)
    reply = await env.say("rule add ukraine_aid aid NEAR/5 ukraine")
    assert reply == Reply(GENERIC_FAILURE, ok=False)
    assert "chat command failed" in caplog.text and "index rebuild crashed" in caplog.text


# ── subscriptions ──────────────────────────────────────────────────────────


async def test_subscribe_unsubscribe_and_list(env: Env) -> None:
    reply = await env.say("subscribe drone_strike aid_package", user=MEMBER)
    assert reply.ok and reply.text == "subscribed to: drone_strike, aid_package"
    reply = await env.say("subscribe drone_strike", user=MEMBER)
    assert reply.text == "already subscribed to: drone_strike"
    assert (await env.say("subscriptions", user=MEMBER)).text == (
        "subscribed to: drone_strike, aid_package"
    )
    reply = await env.say("unsubscribe aid_package drone_strike", user=MEMBER)
    assert reply.text == "unsubscribed from: drone_strike, aid_package"
    reply = await env.say("subscriptions", user=MEMBER)
    assert "no subscriptions" in reply.text


async def test_subscribe_all_and_unsubscribe_all(env: Env) -> None:
    assert (await env.say("subscribe ALL", user=MEMBER)).text == "subscribed to: all rules"
    subs = await env.store.subscriptions(dest(MEMBER))
    assert [s.rule for s in subs] == [ALL_RULES]
    reply = await env.say("unsubscribe drone_strike", user=MEMBER)
    assert "not subscribed to: drone_strike" in reply.text
    assert "this chat gets every rule" in reply.text
    assert (await env.say("unsubscribe all", user=MEMBER)).text == "unsubscribed from: all rules"
    assert await env.store.subscriptions(dest(MEMBER)) == []


async def test_subscribing_to_an_unknown_rule_changes_nothing(env: Env) -> None:
    before = await env.dump()
    reply = await env.say("subscribe drone_strike no_such_rule", user=MEMBER)
    assert not reply.ok
    assert "no rule named no_such_rule" in reply.text and "`rules`" in reply.text
    assert await env.dump() == before


async def test_subscription_changes_are_audited(env: Env) -> None:
    await env.say("subscribe drone_strike", user=MEMBER)
    await env.say("mute 2h", user=MEMBER)
    changes = await env.store.history("subscription", f"telegram:{MEMBER}")
    assert [(c.action, c.actor) for c in changes] == [
        ("mute", f"telegram:{MEMBER} (user{MEMBER})"),
        ("subscribe", f"telegram:{MEMBER} (user{MEMBER})"),
    ]
    assert changes[1].after == {"rules": ["drone_strike"]}


@pytest.mark.parametrize(
    ("spoken", "length"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(minutes=90)),
    ],
)
async def test_mute_holds_alerts_until_the_time_and_unmute_resumes(
    env: Env, spoken: str, length: timedelta
) -> None:
    await env.say("subscribe drone_strike", user=MEMBER)
    reply = await env.say(f"mute {spoken}", user=MEMBER)
    until = NOW + length
    assert reply.ok and until.strftime("%Y-%m-%d %H:%M UTC") in reply.text
    assert await env.store.destinations_for(["drone_strike"], NOW) == []
    assert await env.store.destinations_for(["drone_strike"], until) == [dest(MEMBER)]
    assert "muted until" in (await env.say("subscriptions", user=MEMBER)).text
    assert (await env.say("unmute", user=MEMBER)).ok
    assert await env.store.destinations_for(["drone_strike"], NOW) == [dest(MEMBER)]


async def test_mute_without_subscriptions_says_so(env: Env) -> None:
    reply = await env.say("mute 1h", user=MEMBER)
    assert not reply.ok and "no subscriptions" in reply.text


async def test_unmute_also_lifts_rule_mutes(env: Env) -> None:
    await env.say("subscribe drone_strike", user=MEMBER)
    await env.store.mute_rule(dest(MEMBER), "drone_strike", NOW + timedelta(hours=5))
    assert "rule drone_strike muted until" in (await env.say("subscriptions", user=MEMBER)).text
    reply = await env.say("unmute", user=MEMBER)
    assert "drone_strike" in reply.text
    assert await env.store.muted_rules(dest(MEMBER), NOW) == {}


async def test_subscriptions_show_a_paused_chat_with_the_reason(env: Env) -> None:
    await env.say("subscribe drone_strike", user=MEMBER)
    await env.store.pause_destination(dest(MEMBER), "Forbidden: bot was blocked by the user")
    reply = await env.say("subscriptions", user=MEMBER)
    assert "paused: Forbidden: bot was blocked by the user" in reply.text


# ── groups: who manages a chat's subscriptions ─────────────────────────────


@pytest.mark.parametrize(
    "text", ["subscribe drone_strike", "unsubscribe drone_strike", "mute 1h", "unmute"]
)
async def test_in_a_group_a_plain_member_changes_nothing(env: Env, text: str) -> None:
    await env.say("subscribe drone_strike", chat=GROUP, kind=ChatKind.GROUP)
    before = await env.dump()
    reply = await env.say(text, user=MEMBER, chat=GROUP, kind=ChatKind.GROUP)
    assert not reply.ok
    assert "only this group's administrators" in reply.text
    assert env.chat_admins.asked == [(GROUP, MEMBER)]
    assert await env.dump() == before


@pytest.mark.parametrize("kind", [ChatKind.GROUP, ChatKind.CHANNEL])
async def test_a_chat_administrator_manages_the_chat(env: Env, kind: ChatKind) -> None:
    env.chat_admins.admins.add((GROUP, MEMBER))
    reply = await env.say("subscribe aid_package", user=MEMBER, chat=GROUP, kind=kind)
    assert reply.ok
    [sub] = await env.store.subscriptions(dest(GROUP))
    assert sub == Subscription(
        dest(GROUP), "aid_package", created_by=f"telegram:{MEMBER} (user{MEMBER})"
    )


async def test_bot_admins_manage_groups_without_asking_the_platform(env: Env) -> None:
    assert (await env.say("subscribe all", chat=GROUP, kind=ChatKind.GROUP)).ok
    assert env.chat_admins.asked == []


async def test_in_a_private_chat_everyone_manages_their_own(env: Env) -> None:
    assert (await env.say("subscribe drone_strike", user=MEMBER)).ok
    assert env.chat_admins.asked == []


async def test_a_non_admin_may_list_a_group_s_subscriptions(env: Env) -> None:
    await env.say("subscribe drone_strike", chat=GROUP, kind=ChatKind.GROUP)
    reply = await env.say("subscriptions", user=MEMBER, chat=GROUP, kind=ChatKind.GROUP)
    assert reply.ok and "drone_strike" in reply.text


# ── admin-only commands ────────────────────────────────────────────────────

ADMIN_COMMANDS = [
    "rule add ukraine_aid aid NEAR/5 ukraine -- New aid for Ukraine",
    "rule edit drone_strike drone NEAR/2 strike",
    "rule rm drone_strike",
    "rule show drone_strike",
    "rule test drone_strike",
    "rule history drone_strike",
    "rule feedback drone_strike",
    "rule undo drone_strike",
    "rule example add drone_strike negative Drone light show at the festival",
    "rule example rm aid_package positive 1",
    "rule threshold aid_package 0.7",
    "rule intent drone_strike An attack by drones",
    "rule urgent drone_strike on",
    "entity add country Somaliland",
    "entity rm country Somaliland",
    "feed add https://news.example/rss News",
    "feed rm https://old.example/rss",
    "feed interval https://old.example/rss 30",
    "feeds",
    "admins",
]


def test_the_admin_command_table_covers_every_admin_command() -> None:
    names = {name for name, spec in COMMANDS.items() if spec.admin_only}
    covered = {
        next(n for n in names if text.startswith(n + " ") or text == n) for text in ADMIN_COMMANDS
    }
    assert covered == names


@pytest.mark.parametrize("text", ADMIN_COMMANDS)
@pytest.mark.parametrize("platform", ["telegram", "slack"])
async def test_a_non_admin_is_refused_and_nothing_changes(
    env: Env, text: str, platform: str
) -> None:
    await env.store.add_feed("https://old.example/rss", "Old")
    await env.say("rule edit drone_strike drone NEAR/4 strike")
    before = await env.dump()
    rules_before = list(env.ctx.rulebook.rules)
    reply = await env.say(text, user=MEMBER, platform=platform)
    assert not reply.ok
    assert "for the bot's admins only" in reply.text and "nothing was changed" in reply.text
    assert await env.dump() == before
    assert env.ctx.rulebook.rules == rules_before


async def test_admins_are_per_platform(env: Env) -> None:
    reply = await env.say("admins", user=ADMIN, platform="slack")
    assert not reply.ok
    reply = await env.say("admins", user="U_ADMIN", platform="slack")
    assert reply.text == "slack admins: U_ADMIN\ntelegram admins: 100"


# ── status ─────────────────────────────────────────────────────────────────


async def _troubled_store(env: Env) -> None:
    """Two feeds (one failing), a paused group, one alert waiting and one given up."""
    feed = await env.store.add_feed("https://down.example/rss", "Down")
    state = FeedState(error_count=5, last_error="HTTP 500", last_fetch_at=NOW)
    await env.store.save_feed_state(feed.id, state)
    await env.store.add_feed("https://up.example/rss", "Up")
    await env.store.set_meta("last_poll_at", "2025-03-10 11:55 UTC")
    await env.say("subscribe drone_strike", chat="-42", kind=ChatKind.GROUP)
    await env.store.pause_destination(dest("-42"), "Forbidden: bot was kicked")
    await env.store.save_stories([new_story("s1", dest("7")), new_story("s2", dest("8"))])
    [first, _] = await env.store.claim_outbox(NOW, limit=2, owner="test", lease_seconds=60)
    await env.store.mark_dead(first.id, error="400: can't parse entities", at=NOW)


async def test_status_for_admins_shows_problems_and_paused_chats(env: Env) -> None:
    await _troubled_store(env)
    reply = await env.say("status")
    assert reply.ok
    lines = reply.text.splitlines()
    assert lines[:3] == [
        "feeds: 2 (1 healthy, 1 failing)",
        "last poll: 2025-03-10 11:55 UTC",
        "alerts waiting to be delivered: 1",
    ]
    assert "failing feed: Down — HTTP 500" in lines
    assert "delivery error: telegram:7 — Title of s1: 400: can't parse entities" in lines
    assert "paused: telegram:-42 — Forbidden: bot was kicked" in lines
    assert "1 topic rule inactive: the semantic tier is not installed" in lines


async def test_status_for_members_names_no_other_chat(env: Env) -> None:
    await _troubled_store(env)
    reply = await env.say("status", user=MEMBER)
    assert reply.text.splitlines()[:5] == [
        "feeds: 2 (1 failing)",
        "last poll: 2025-03-10 11:55 UTC",
        "alerts waiting to be delivered: 1",
        "alert latency (24 h): no alerts sent",
        "2 problems listed for the admins",
    ]
    assert "-42" not in reply.text and "HTTP 500" not in reply.text
