"""Feed lists: the YAML file, OPML import and export."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import ConfigError, OpmlError
from bot.core.model import Feed
from bot.pipeline.feedlist import FeedSpec, load_feed_list, parse_opml, render_opml

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>My feeds</title></head><body>
  <outline text="World">
    <outline type="rss" text="BBC World" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
    <outline type="rss" title="NPR &amp; friends" text="npr" xmlUrl="https://feeds.npr.org/1001/rss.xml"/>
  </outline>
  <outline type="rss" xmlUrl="https://www.aljazeera.com/xml/rss/all.xml"/>
</body></opml>"""


def test_opml_nested_outlines() -> None:
    assert parse_opml(OPML) == [
        FeedSpec("https://feeds.bbci.co.uk/news/world/rss.xml", "BBC World"),
        FeedSpec("https://feeds.npr.org/1001/rss.xml", "NPR & friends"),
        FeedSpec("https://www.aljazeera.com/xml/rss/all.xml", "aljazeera.com"),
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b"<opml><body><outline", "not well-formed XML"),
        (b"<rss><channel/></rss>", "root element is <rss>, expected <opml>"),
        (b"<opml><body><outline text='x'/></body></opml>", "no <outline xmlUrl=…> entries"),
        (
            b"<opml><body><outline text='Bad' xmlUrl='ftp://x/y'/></body></opml>",
            "Bad: 'ftp://x/y' is not an http(s) URL",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            b"<opml><body><outline xmlUrl='https://x.org/&lol2;'/></body></opml>",
            "declares XML entities",
        ),
    ],
)
def test_bad_opml_is_one_clear_line(document: bytes, expected: str) -> None:
    with pytest.raises(OpmlError) as raised:
        parse_opml(document, source="feeds.opml")
    assert expected in str(raised.value)
    assert str(raised.value).startswith("feeds.opml: ")


def test_opml_round_trip_escapes_names() -> None:
    feeds = [Feed(1, "https://example.org/rss?a=1&b=2", 'Tom & "Jerry" <news>')]
    assert parse_opml(render_opml(feeds).encode()) == [
        FeedSpec("https://example.org/rss?a=1&b=2", 'Tom & "Jerry" <news>')
    ]


def test_yaml_feed_list(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n  - url: https://feeds.npr.org/1001/rss.xml\n    backfill: 3\n"
        "  - {url: 'https://x.org/a', name: X}\n"
    )
    assert load_feed_list(path) == [
        FeedSpec("https://feeds.npr.org/1001/rss.xml", "npr.org", 3),
        FeedSpec("https://x.org/a", "X"),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("feeds:\n  - name: no url\n", "feed #1: needs at least 'url:'"),
        (
            "feeds:\n  - url: javascript:alert(1)\n",
            "feed #1: 'javascript:alert(1)' is not an http(s) URL",
        ),
        ("feeds: nope\n", "expected a top-level 'feeds:' list"),
    ],
)
def test_bad_yaml_feed_list(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_feed_list(path)
    assert expected in str(raised.value)


def test_packaged_feed_list_is_valid() -> None:
    from bot.core.settings import PACKAGED_CONFIG_DIR

    assert len(load_feed_list(PACKAGED_CONFIG_DIR / "feeds.yaml")) >= 3
