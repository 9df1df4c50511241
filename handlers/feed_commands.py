"""Feed commands for admins: `feed add`, `feed rm`, `feeds`.

Each change is audited as a `feed` Change named by the feed's URL.
"""

from __future__ import annotations

from bot.core.errors import NotFoundError
from bot.core.model import Change, Feed
from bot.pipeline.feedlist import check_feed_url, default_name
from bot.pipeline.health import feed_list_lines
from handlers.arguments import BadArgumentsError, split_first
from handlers.command import ChatOrigin, Command, Reply
from handlers.context import HandlerContext
from handlers.spec import CommandSpec

FEED_KIND = "feed"


def feed_snapshot(feed: Feed) -> dict[str, object]:
    """What the audit trail keeps of a feed."""
    return {"id": feed.id, "url": feed.url, "name": feed.name, "enabled": feed.enabled}


async def _audit(ctx: HandlerContext, origin: ChatOrigin, action: str, feed: Feed) -> None:
    snapshot = feed_snapshot(feed)
    change = Change(
        kind=FEED_KIND,
        name=feed.url,
        action=action,
        actor=origin.actor,
        at=ctx.clock(),
        before=snapshot if action == "remove" else None,
        after=snapshot if action == "add" else None,
    )
    await ctx.store.record_change(change)


async def add_feed(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Add a feed by URL, optionally with a display name; it is polled on the next pass."""
    url, name = split_first(args)
    if not url:
        raise BadArgumentsError("the feed URL is missing")
    try:
        url = check_feed_url(url.strip("<>"))
    except ValueError as err:
        raise BadArgumentsError(str(err)) from None
    feed = await ctx.store.add_feed(url, name or default_name(url), backfill=ctx.default_backfill)
    await _audit(ctx, command, "add", feed)
    return Reply(f"added feed #{feed.id} {feed.name} <{feed.url}>; it is fetched on the next poll")


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
        "feed add <url> [name]",
        "feed add https://www.kyivindependent.com/rss Kyiv Independent",
        "add a news feed",
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
