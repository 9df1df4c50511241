"""Feed commands for admins: `feed add`, `feed rm`, `feeds`.

Each change is audited as a `feed` Change named by the feed's URL.
"""

from __future__ import annotations

import re

from bot.core.errors import NotFoundError
from bot.core.model import Change, Feed
from bot.pipeline.feedlist import check_feed_url, default_name, parse_feed_interval
from bot.pipeline.health import feed_list_lines
from handlers.arguments import BadArgumentsError, split_first
from handlers.command import ChatOrigin, Command, Reply
from handlers.context import HandlerContext
from handlers.spec import CommandSpec

FEED_KIND = "feed"


def feed_snapshot(feed: Feed) -> dict[str, object]:
    """What the audit trail keeps of a feed."""
    return {
        "id": feed.id,
        "url": feed.url,
        "name": feed.name,
        "enabled": feed.enabled,
        "interval": feed.interval,
    }


async def _audit(
    ctx: HandlerContext, origin: ChatOrigin, action: str, feed: Feed, before: Feed | None = None
) -> None:
    snapshot = feed_snapshot(feed)
    change = Change(
        kind=FEED_KIND,
        name=feed.url,
        action=action,
        actor=origin.actor,
        at=ctx.clock(),
        before=snapshot if action == "remove" else (feed_snapshot(before) if before else None),
        after=None if action == "remove" else snapshot,
    )
    await ctx.store.record_change(change)


INTERVAL_FLAG = re.compile(r"(?:^|\s)--?(?:interval|every)[=\s]+(\S+)\s*$")


async def add_feed(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Add a feed by URL, optionally with a display name and its own interval
    (`--interval 30`); it is fetched on the next pass."""
    interval, args = _interval_flag(args)
    url, name = split_first(args)
    if not url:
        raise BadArgumentsError("the feed URL is missing")
    try:
        url = check_feed_url(url.strip("<>"))
    except ValueError as err:
        raise BadArgumentsError(str(err)) from None
    feed = await ctx.store.add_feed(
        url, name or default_name(url), backfill=ctx.default_backfill, interval=interval
    )
    await _audit(ctx, command, "add", feed)
    every = f", checked at least every {feed.interval:g} s" if feed.interval else ""
    return Reply(
        f"added feed #{feed.id} {feed.name} <{feed.url}>{every}; it is fetched on the next poll"
    )


def _interval_flag(args: str) -> tuple[float | None, str]:
    """(the `--interval S` at the end of `args`, the rest)."""
    found = INTERVAL_FLAG.search(args)
    if found is None:
        return None, args
    try:
        interval = parse_feed_interval(found.group(1))
    except ValueError as err:
        raise BadArgumentsError(str(err)) from None
    return interval, args[: found.start()].strip()


async def set_interval(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Give a feed its own check interval, or `default` for the bot's."""
    which, value = split_first(args.strip())
    if not which or not value:
        raise BadArgumentsError("say which feed and how often: `feed interval 3 30s`")
    try:
        interval = parse_feed_interval(value)
    except ValueError as err:
        raise BadArgumentsError(str(err)) from None
    before = next(
        (h.feed for h in await ctx.store.list_feeds() if which.strip("<>") in _handles(h.feed)),
        None,
    )
    try:
        feed = await ctx.store.set_feed_interval(which.strip("<>"), interval)
    except NotFoundError:
        raise NotFoundError(
            f"no feed with URL, name or id {which!r} — `feeds` lists them"
        ) from None
    await _audit(ctx, command, "interval", feed, before)
    every = f"every {interval:g} s" if interval else "on the default interval"
    return Reply(f"feed #{feed.id} {feed.name} is now checked at least {every}; next check now")


def _handles(feed: Feed) -> tuple[str, ...]:
    return (feed.url, feed.name, str(feed.id))


async def remove_feed(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Remove a feed by URL, name or id."""
    which = args.strip().strip("<>")
    if not which:
        raise BadArgumentsError("say which feed: its URL, name or id (see `feeds`)")
    try:
        feed = await ctx.store.remove_feed(which)
    except NotFoundError:
        raise NotFoundError(
            f"no feed with URL, name or id {which!r} — `feeds` lists them"
        ) from None
    await _audit(ctx, command, "remove", feed)
    return Reply(f"removed feed #{feed.id} {feed.name} <{feed.url}>")


async def list_feeds(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Every feed with its health, last fetch, last error and WebSub push status."""
    if not await ctx.store.list_feeds():
        return Reply("no feeds yet — add one with `feed add <url>`")
    return Reply("\n".join(await feed_list_lines(ctx.store)))


SPECS = (
    CommandSpec(
        "feed add",
        add_feed,
        "feed add <url> [name] [--interval S]",
        "feed add https://www.kyivindependent.com/rss Kyiv Independent",
        "add a news feed",
        admin_only=True,
    ),
    CommandSpec(
        "feed interval",
        set_interval,
        "feed interval <url|name|id> <seconds|default>",
        "feed interval 3 30s",
        "how often a feed is checked at least (10 s to 1 day)",
        admin_only=True,
    ),
    CommandSpec(
        "feed rm",
        remove_feed,
        "feed rm <url|name|id>",
        "feed rm 3",
        "remove a news feed",
        admin_only=True,
    ),
    CommandSpec(
        "feeds", list_feeds, "feeds", "feeds", "the feeds and their health", admin_only=True
    ),
)
