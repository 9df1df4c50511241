"""`status` for everyone (details for admins) and `admins` for admins."""

from __future__ import annotations

from bot.core.model import Destination
from bot.pipeline.health import StatusReport, collect_status
from handlers.command import Command, Reply
from handlers.context import HandlerContext
from handlers.phrasing import counted
from handlers.spec import CommandSpec


def public_lines(report: StatusReport) -> list[str]:
    """The summary anyone may see: counts only, no other chat named."""
    problems = len(report.failing) + len(report.dead_letters)
    lines = [
        f"feeds: {len(report.feeds)} ({len(report.failing)} failing)",
        f"last poll: {report.last_poll or 'never'}",
        f"alerts waiting to be delivered: {report.queue_length}",
        *report.latency_lines(),
    ]
    if problems:
        lines.append(f"{counted(problems, 'problem')} listed for the admins")
    return lines


async def paused_lines(ctx: HandlerContext) -> list[str]:
    """One line per paused destination with the platform's reason."""
    paused: dict[Destination, str] = {}
    for sub in await ctx.store.subscriptions():
        if sub.paused_reason:
            paused.setdefault(sub.destination, sub.paused_reason)
    return [f"paused: {destination} — {reason}" for destination, reason in paused.items()]


async def status(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Feeds' health, last poll, queue length; for admins also delivery errors,
    failing feeds and paused chats (they name other chats, so only admins see them)."""
    report = await collect_status(ctx.store, ctx.clock())
    if ctx.is_admin(command):
        lines = report.lines() + await paused_lines(ctx)
    else:
        lines = public_lines(report)
    topic_rules = sum(1 for rule in ctx.rulebook.rules if rule.topic is not None)
    if topic_rules and not ctx.topics_active:
        lines.append(
            f"{counted(topic_rules, 'topic rule')} inactive: the semantic tier is not installed"
        )
    lines += [f"rule not active: {error}" for error in ctx.rulebook.errors]
    return Reply("\n".join(lines))


async def admins(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """The configured admin ids per platform (TELEGRAM_ADMIN_IDS, SLACK_ADMIN_IDS)."""
    lines = [
        f"{platform} admins: {', '.join(sorted(ids)) or 'none'}"
        for platform, ids in sorted(ctx.admin_ids.items())
    ]
    return Reply("\n".join(lines) or "no admins are configured")


SPECS = (
    CommandSpec(
        "status",
        status,
        "status",
        "status",
        "feeds' health, last poll and alerts waiting",
    ),
    CommandSpec(
        "admins",
        admins,
        "admins",
        "admins",
        "who the bot's admins are",
        admin_only=True,
    ),
)
