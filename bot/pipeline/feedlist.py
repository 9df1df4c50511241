"""Feed lists in and out: `config/feeds.yaml`, OPML import and export.

Every list is validated whole before anything is written, so a bad entry
leaves the database untouched and the error names the entry and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

import yaml
from lxml import etree

from bot.core.errors import ConfigError, OpmlError
from bot.core.files import read_text
from bot.core.model import Feed, check_feed_interval
from bot.core.yamlsafe import describe_value, load_yaml


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """A feed to add: its URL and a display name."""

    url: str
    name: str
    backfill: int = 0
    interval: float | None = None
    """Its own check interval in seconds (`interval:` in the feeds file), if any."""


def check_feed_url(url: str) -> str:
    """The URL stripped, or ValueError saying what is wrong with it."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            f"{describe_value(url)} is not an http(s) URL — use e.g. https://example.com/rss.xml"
        )
    if not parts.hostname:
        raise ValueError(f"{describe_value(url)} has no host name")
    return url


DEFAULT_INTERVAL_WORDS = ("default", "reset", "off")


def parse_feed_interval(text: str) -> float | None:
    """A per-feed interval as typed: seconds (`90`, `90s`, `5m`, `1h`) within
    FEED_INTERVAL_RANGE, or None for `default`; ValueError saying what is wrong."""
    word = text.strip().lower()
    if word in DEFAULT_INTERVAL_WORDS:
        return None
    unit = {"s": 1, "m": 60, "h": 3600}.get(word[-1:], 0)
    number = word[:-1] if unit else word
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise ValueError(
            f"{describe_value(text)} is not an interval — give seconds (e.g. 30, 5m, 1h) "
            "or `default`"
        ) from None
    if seconds != seconds:  # NaN
        raise ValueError("the interval is not a number — give seconds, e.g. 30")
    return check_feed_interval(seconds)


def default_name(url: str) -> str:
    """A readable name for a feed added without one: its host."""
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.").removeprefix("feeds.")


def load_feed_list(path: Path, *, default_backfill: int = 0) -> list[FeedSpec]:
    """Read a YAML feed list (`feeds: [{url, name, backfill, interval}]`); ConfigError on
    any problem. An entry without `backfill` gets `default_backfill` (NEWSWATCH_BACKFILL);
    one without `interval` (seconds, or e.g. `5m`) is checked on NEWSWATCH_POLL_INTERVAL."""
    text = read_text(path, "the feed list", set_by="NEWSWATCH_FEEDS_FILE")
    try:
        data = load_yaml(text) or {}
    except yaml.YAMLError as err:
        reason = str(err).splitlines()[0]
        raise ConfigError(f"{path}: cannot read the feed list: {reason}") from None
    entries = data.get("feeds", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a top-level 'feeds:' list")
    specs = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "url" not in entry:
            raise ConfigError(f"{path}: feed #{number}: needs at least 'url:'")
        if not isinstance(entry["url"], str):
            shown = describe_value(entry["url"])
            raise ConfigError(
                f"{path}: feed #{number}: url: {shown} is not text; write url: https://…"
            )
        try:
            url = check_feed_url(entry["url"])
            backfill = int(entry.get("backfill", default_backfill))
            interval = entry.get("interval")
            if interval is not None:
                interval = parse_feed_interval(str(interval))
        except ValueError as err:
            raise ConfigError(f"{path}: feed #{number}: {err}") from None
        name = str(entry.get("name") or default_name(url))
        specs.append(FeedSpec(url, name, backfill, interval))
    return specs


_OPML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


def parse_opml(
    data: bytes, *, source: str = "OPML file", default_backfill: int = 0
) -> list[FeedSpec]:
    """Feeds from an OPML document (every outline with an xmlUrl, nested or not), each
    with `default_backfill` (NEWSWATCH_BACKFILL): OPML has no place for one."""
    if b"<!ENTITY" in data:
        raise OpmlError(f"{source}: declares XML entities; refused — export it again without a DTD")
    try:
        root = etree.fromstring(data, _OPML_PARSER)
    except etree.XMLSyntaxError as err:
        raise OpmlError(f"{source}: not well-formed XML ({err.msg}, line {err.lineno})") from None
    if root.tag != "opml":
        raise OpmlError(f"{source}: root element is <{root.tag}>, expected <opml>")
    specs: list[FeedSpec] = []
    for number, outline in enumerate(root.iter("outline"), start=1):
        url = outline.get("xmlUrl") or outline.get("xmlurl")
        if url is None:
            continue
        try:
            url = check_feed_url(url)
        except ValueError as err:
            title = outline.get("title") or outline.get("text") or f"outline #{number}"
            raise OpmlError(f"{source}: {title}: {err}") from None
        name = outline.get("title") or outline.get("text") or default_name(url)
        specs.append(FeedSpec(url, name.strip(), default_backfill))
    if not specs:
        raise OpmlError(f"{source}: no <outline xmlUrl=…> entries found")
    return specs


def render_opml(feeds: Sequence[Feed], *, title: str = "newswatch feeds") -> str:
    """An OPML 2.0 document listing the feeds."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_text(title)}</title></head>",
        "  <body>",
    ]
    for feed in feeds:
        name = quoteattr(feed.name)
        lines.append(
            f'    <outline type="rss" text={name} title={name} xmlUrl={quoteattr(feed.url)}/>'
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
