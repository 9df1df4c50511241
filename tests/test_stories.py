"""Story normalization: canonical URLs, title keys and story keys (links from the corpus)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.model import Entry, Feed
from bot.pipeline.dedupe.fingerprint import fingerprint
from bot.pipeline.normalize import canonical_url, normalize_title, story_from_entry

FETCHED = datetime(2021, 9, 19, 7, 13, tzinfo=UTC)
FEED = Feed(id=7, url="https://feeds.bbci.co.uk/news/rss.xml", name="BBC News")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # BBC: RSS campaign tags
        ("https://www.bbc.co.uk/news/world-58582573?at_medium=RSS&at_campaign=KARANGA",
         "https://bbc.co.uk/news/world-58582573"),
        # Daily Mail: comScore and ito tags
        ("https://www.dailymail.co.uk/news/article-10006877/Woman-spots-crocodile.html"
         "?ns_mchannel=rss&ito=1490&ns_campaign=1490",
         "https://dailymail.co.uk/news/article-10006877/Woman-spots-crocodile.html"),
        # NYT: share tag and AMP page
        ("https://www.nytimes.com/2021/09/18/us/texas-republicans-democrats.amp.html?smid=tw-share",
         "https://nytimes.com/2021/09/18/us/texas-republicans-democrats.html"),
        # CNN: trailing slash, fragment, case, default port
        ("HTTPS://WWW.CNN.COM:443/collections/aukus-intl-091521/#comments",
         "https://cnn.com/collections/aukus-intl-091521"),
        ("https://amp.cnn.com/2021/09/18/asia/mazar-abandoned-afghan-us-intl-cmd/index.html",
         "https://cnn.com/2021/09/18/asia/mazar-abandoned-afghan-us-intl-cmd/index.html"),
        # NPR: host moved to www. in 2025; AMP path segment
        ("https://npr.org/2024/04/13/1244641489/iran-israel-drone-attack-middle-east-gaza/amp",
         "https://npr.org/2024/04/13/1244641489/iran-israel-drone-attack-middle-east-gaza"),
        ("https://www.npr.org/amp/2024/07/19/nx-s1-5042107/blinken?utm_source=x&utm_medium=y",
         "https://npr.org/2024/07/19/nx-s1-5042107/blinken"),
        # YouTube (Al Jazeera): the id parameter is content, kept; params sorted
        ("https://www.youtube.com/watch?v=IN5hqsFQRpc&fbclid=abc&feature=share",
         "https://youtube.com/watch?feature=share&v=IN5hqsFQRpc"),
        ("https://example.com/story?outputType=amp&id=4", "https://example.com/story?id=4"),
        ("https://example.com/story?amp=1", "https://example.com/story"),
        ("http://example.com:8080/a/?b=2&a=1&gclid=x", "http://example.com:8080/a?a=1&b=2"),
        ("https://bücher.example/über/", "https://xn--bcher-kva.example/über"),
        ("http://[::1]:8080/feed/", "http://[::1]:8080/feed"),
        # unparseable or not absolute: unchanged but stripped
        ("  not a url  ", "not a url"),
        ("http://[::1", "http://[::1"),
        ("/relative/path?utm_source=x", "/relative/path?utm_source=x"),
        ("http://example.com:99999/x", "http://example.com:99999/x"),
    ],
)  # fmt: skip
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent() -> None:
    url = "https://www.bbc.co.uk/news/uk-58606870?at_medium=RSS&at_campaign=KARANGA"
    assert canonical_url(canonical_url(url)) == canonical_url(url)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Aukus: China denounces US-UK-Australia pact as irresponsible",
         "aukus china denounces us uk australia pact as irresponsible"),
        ("LIVE: Trudeau’s ‘gamble’ backfires", "trudeaus gamble backfires"),
        ("BREAKING - WATCH: Iran launches drones", "iran launches drones"),
        ("UPDATE: Café owner’s façade", "cafe owners facade"),
        ("Live updates: Ukraine", "ukraine"),
        ("  Liveable   cities  ", "liveable cities"),
        ("O.J. Simpson's trial divided the nation.", "o j simpsons trial divided the nation"),
    ],
)  # fmt: skip
def test_normalize_title(title: str, expected: str) -> None:
    assert normalize_title(title) == expected


def entry(**fields: object) -> Entry:
    values: dict[str, object] = {
        "guid": "https://www.bbc.co.uk/news/world-58582573",
        "link": "https://www.bbc.co.uk/news/world-58582573?at_medium=RSS&at_campaign=KARANGA",
        "title": "Aukus: China  denounces\nUS-UK-Australia pact as irresponsible",
        "summary": "The alliance will allow Australia to build nuclear-powered submarines.",
        "published": datetime(2021, 9, 16, 10, 5, tzinfo=UTC),
    }
    values.update(fields)
    return Entry(**values)  # type: ignore[arg-type]


def test_story_from_entry_normalizes_everything() -> None:
    story = story_from_entry(entry(), feed=FEED, publisher="BBC News", fetched_at=FETCHED)
    assert story.title == "Aukus: China denounces US-UK-Australia pact as irresponsible"
    assert story.canonical_url == "https://bbc.co.uk/news/world-58582573"
    assert story.url.endswith("at_campaign=KARANGA")
    assert len(story.key) == 20 and int(story.key, 16) >= 0
    assert story.title_key == "aukus china denounces us uk australia pact as irresponsible"
    assert story.fingerprint == fingerprint(story.title_key, entry().summary)
    assert (story.feed_id, story.publisher, story.fetched_at) == (7, "BBC News", FETCHED)


def test_same_article_from_two_feeds_has_one_key() -> None:
    other_feed = Feed(id=9, url="https://feeds.bbci.co.uk/news/world/rss.xml", name="BBC World")
    a = story_from_entry(entry(), feed=FEED, publisher="BBC News", fetched_at=FETCHED)
    b = story_from_entry(
        entry(link="https://www.bbc.co.uk/news/world-58582573", guid="other"),
        feed=other_feed,
        publisher="BBC News",
        fetched_at=FETCHED,
    )
    assert a.key == b.key


@pytest.mark.parametrize(
    ("first", "second", "same_key"),
    [
        # no link: feed id + GUID identifies the item
        ({"link": None, "guid": "yt:video:IN5hqsFQRpc"},
         {"link": None, "guid": "yt:video:IN5hqsFQRpc"}, True),
        ({"link": None, "guid": "a"}, {"link": None, "guid": "b"}, False),
        # neither: publisher + title key, so re-labelled titles still match
        ({"link": None, "guid": None, "title": "LIVE: Storm hits"},
         {"link": "", "guid": " ", "title": "Storm hits"}, True),
        ({"link": None, "guid": None, "title": "Storm hits"},
         {"link": None, "guid": None, "title": "Storm ends"}, False),
    ],
)  # fmt: skip
def test_key_fallbacks(first: dict[str, object], second: dict[str, object], same_key: bool) -> None:
    a = story_from_entry(entry(**first), feed=FEED, publisher="BBC", fetched_at=FETCHED)
    b = story_from_entry(entry(**second), feed=FEED, publisher="BBC", fetched_at=FETCHED)
    assert (a.key == b.key) is same_key


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (None, FETCHED),
        (FETCHED - timedelta(days=2), FETCHED - timedelta(days=2)),
        (FETCHED + timedelta(minutes=59), FETCHED + timedelta(minutes=59)),
        (FETCHED + timedelta(hours=5), FETCHED),
        (datetime(2021, 9, 18, 9, 0), datetime(2021, 9, 18, 9, 0, tzinfo=UTC)),
    ],
)
def test_published_defaults_and_future_clamp(
    published: datetime | None, expected: datetime
) -> None:
    story = story_from_entry(
        entry(published=published), feed=FEED, publisher="BBC", fetched_at=FETCHED
    )
    assert story.published == expected
    assert story.published.tzinfo is not None


def test_untitled_entry_takes_its_lead_as_title() -> None:
    story = story_from_entry(
        entry(title="  ", summary="Storm Rose forms. It is weak."),
        feed=FEED,
        publisher="BBC",
        fetched_at=FETCHED,
    )
    assert story.title == "Storm Rose forms."
