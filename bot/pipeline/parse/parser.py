"""Parse a fetched body into a `ParsedFeed`: RSS 0.9x/1.0/2.0, Atom, JSON Feed.

    body ─screen─▶ (refuse entity declarations, HTML pages, other roots)
         ─▶ JSON Feed reader | lxml reader (strict) ─on malformed XML─▶ feedparser

Why two XML readers (figures in benchmarks/parsers.md): a direct lxml reader
is ~40x faster than feedparser and agrees with it on every well-formed feed
in the corpus, but it refuses malformed XML (undeclared HTML entities, broken
CDATA, bad bytes), which real feeds often are. feedparser's loose parser
recovers those, so it reads exactly the documents lxml rejects.

Safety: a DOCTYPE that declares entities is refused before any parser sees
the bytes (no billion-laughs, quadratic blowup or external-entity reads); the
lxml parser also runs with entity resolution, DTD loading and network off.
All text leaves here as clean plain text (see `bot.pipeline.parse.html`).
"""

from __future__ import annotations

import base64
import json
import re
from calendar import timegm
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree  # type: ignore[import-untyped]

from bot.core.errors import FeedParseError
from bot.core.model import Entry, ParsedFeed
from bot.pipeline.parse.dates import parse_date
from bot.pipeline.parse.html import html_to_text

__all__ = ["html_to_text", "parse_date", "parse_feed", "screen_body"]

_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))  # fmt: skip
_SPACE = re.compile(rb"\s*")
_ROOT_NAME = re.compile(rb"<([A-Za-z_][\w:.-]*)")
_PROLOG_ENDS = ((b"<?", b"?>"), (b"<!--", b"-->"))
_ENTITY_DECL = re.compile(rb"<!\s*ENTITY", re.I)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_FEED_ROOTS = frozenset({"rss", "feed", "rdf"})
_FUTURE_SLACK = timedelta(days=1)

ATOM, ATOM03 = "http://www.w3.org/2005/Atom", "http://purl.org/atom/ns#"
RSS1, RSS090 = "http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"
DC, CONTENT = "http://purl.org/dc/elements/1.1/", "http://purl.org/rss/1.0/modules/content/"
MEDIA = "http://search.yahoo.com/mrss/"
_CORE = frozenset({None, RSS1, RSS090, ATOM, ATOM03})


def parse_feed(
    body: bytes, *, url: str, content_type: str | None, fetched_at: datetime
) -> ParsedFeed:
    """Parse a feed body into entries with clean text and UTC dates.

    Raises `FeedParseError` with a one-line reason when the body is not a feed
    or declares XML entities. Dates more than a day after `fetched_at` are
    treated as missing (a wrong clock or time zone would otherwise pin the item
    to the top of every list and distort the posting-rate estimate).
    """
    if screen_body(body, content_type) == "json":
        parsed = read_json_feed(body, url)
    else:
        try:
            parsed = read_xml_with_lxml(body, url)
        except etree.XMLSyntaxError:
            parsed = read_xml_with_feedparser(body, url, content_type)
    return _drop_future_dates(parsed, fetched_at + _FUTURE_SLACK)


def screen_body(body: bytes, content_type: str | None) -> str:
    """Decide "json" or "xml", or refuse: empty, entity declarations, HTML, other roots."""
    view = _ascii_view(body)
    stripped = view.lstrip()
    if not stripped:
        raise FeedParseError("not a feed: the body is empty")
    if stripped[:1] in (b"{", b"[") or "json" in (content_type or "").lower():
        return "json"
    if _DOCTYPE.search(view) and _ENTITY_DECL.search(view):
        raise FeedParseError(
            "feed declares XML entities (possible entity-expansion attack); refused"
        )
    root = _root_element(view)
    if root is None:
        start = stripped[:24].decode("utf-8", "replace")
        raise FeedParseError(f"not a feed: the body is not XML or JSON (starts {start!r})")
    name = root.decode("ascii", "replace")
    local = name.rsplit(":", 1)[-1].lower()
    if local == "html":
        raise FeedParseError(f"not a feed: got an HTML page (<{name}>)")
    if local not in _FEED_ROOTS:
        raise FeedParseError(
            f"not a feed: the root element is <{name}>, expected <rss>, <feed> or <rdf:RDF>"
        )
    return "xml"


def _root_element(view: bytes) -> bytes | None:
    """The root element's name after the prolog, or None when the body is not XML.

    A forward scan (each byte looked at a bounded number of times) rather than
    one regex with nested repetition, which backtracked exponentially on a
    body of spaces followed by anything but `<`.
    """
    at = 0
    while True:
        space = _SPACE.match(view, at)
        at = space.end() if space else at
        for start, end in _PROLOG_ENDS:
            if view.startswith(start, at):
                close = view.find(end, at + len(start))
                if close < 0:
                    return None
                at = close + len(end)
                break
        else:
            if view.startswith(b"<!DOCTYPE", at):
                at = _doctype_end(view, at + len(b"<!DOCTYPE"))
                if at < 0:
                    return None
                continue
            root = _ROOT_NAME.match(view, at)
            return root.group(1) if root else None


def _doctype_end(view: bytes, at: int) -> int:
    """The offset just after a DOCTYPE's closing `>` (skipping a `[...]` subset), or -1."""
    while True:
        bracket, close = view.find(b"[", at), view.find(b">", at)
        if close < 0:
            return -1
        if bracket < 0 or close < bracket:
            return close + 1
        subset_end = view.find(b"]", bracket + 1)
        if subset_end < 0:
            return -1
        at = subset_end + 1


def _ascii_view(body: bytes) -> bytes:
    """The body re-encoded as UTF-8 when it is UTF-16/32, so byte patterns can match."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, "replace").encode("utf-8")
    if body[:1] == b"\x00" or body[1:2] == b"\x00":
        encoding = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
        return body.decode(encoding, "replace").encode("utf-8")
    return body.removeprefix(b"\xef\xbb\xbf")


def _drop_future_dates(parsed: ParsedFeed, latest: datetime) -> ParsedFeed:
    if all(e.published is None or e.published <= latest for e in parsed.entries):
        return parsed
    entries = tuple(
        _replace_published(e) if e.published and e.published > latest else e for e in parsed.entries
    )
    return ParsedFeed(parsed.title, parsed.link, entries, parsed.ttl_seconds)


def _replace_published(entry: Entry) -> Entry:
    return Entry(
        entry.guid, entry.link, entry.title, entry.summary, entry.content, None, entry.author
    )


# ── lxml reader (RSS 0.9x/2.0, RDF 1.0, Atom 1.0/0.3) ──────────────────────

_SAFE_XML = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
    remove_comments=True, remove_pis=True, recover=False,
)  # fmt: skip


def read_xml_with_lxml(body: bytes, url: str) -> ParsedFeed:
    """Read a well-formed feed with lxml; raises `etree.XMLSyntaxError` when malformed."""
    root = etree.fromstring(body, _SAFE_XML)
    local = etree.QName(root).localname.lower()
    if local == "feed":
        return _read_atom(root, url)
    # Some RSS 0.9x/1.0 documents omit the channel; their items hang off the root.
    channel = next(_children(root, "channel"), root)
    items = channel if local == "rss" else root
    entries = tuple(
        _rss_entry(item, url) for item in items if etree.QName(item).localname == "item"
    )
    ttl = _text(channel, "ttl")
    return ParsedFeed(
        title=html_to_text(_text(channel, "title")) or None,
        link=_absolute(url, _text(channel, "link")),
        entries=entries,
        ttl_seconds=float(ttl) * 60 if ttl and ttl.strip().isdigit() else None,
    )


def _children(element: Any, *names: str) -> Iterator[Any]:
    """Core-vocabulary children (no namespace, RSS 0.9/1.0 or Atom) named one of `names`."""
    wanted = _core_tags(names)
    return (child for child in element if child.tag in wanted)


@lru_cache(maxsize=64)
def _core_tags(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(name if ns is None else f"{{{ns}}}{name}" for name in names for ns in _CORE)


def _text(element: Any, *names: str) -> str | None:
    return next((c.text for c in _children(element, *names) if c.text and c.text.strip()), None)


def _namespaced_text(element: Any, namespace: str, name: str) -> str | None:
    found = element.find(f"{{{namespace}}}{name}")
    return found.text if found is not None and found.text else None


def _first_texts(element: Any) -> dict[str, tuple[int, str]]:
    """Each child tag's first non-blank text, with its position: one pass over the
    children instead of one per field looked up."""
    found: dict[str, tuple[int, str]] = {}
    for position, child in enumerate(element):
        text = child.text
        if text and child.tag not in found and text.strip():
            found[child.tag] = (position, text)
    return found


def _core_text(found: dict[str, tuple[int, str]], name: str) -> str | None:
    """What `_text` gives for `name`, from `_first_texts`: the earliest core-vocabulary match."""
    hits = [found[tag] for tag in _core_tags((name,)) if tag in found]
    return min(hits)[1] if hits else None


def _rss_entry(item: Any, base: str) -> Entry:
    found = _first_texts(item)
    guid = _core_text(found, "guid")
    link = _core_text(found, "link")
    if link is None and guid and guid.strip().startswith(("http://", "https://")):
        link = guid
    date = _core_text(found, "pubDate") or _namespaced_text(item, DC, "date")
    author = _core_text(found, "author") or _namespaced_text(item, DC, "creator")
    return Entry(
        guid=guid.strip() if guid else None,
        link=_absolute(base, link),
        title=html_to_text(_core_text(found, "title")),
        summary=html_to_text(_core_text(found, "description")),
        content=html_to_text(_namespaced_text(item, CONTENT, "encoded"), paragraphs=True),
        published=parse_date(date),
        author=html_to_text(author) or None,
    )


def _read_atom(root: Any, url: str) -> ParsedFeed:
    entries = tuple(_atom_entry(e, url) for e in _children(root, "entry"))
    return ParsedFeed(
        title=_atom_text(next(_children(root, "title"), None)) or None,
        link=_atom_link(root, url),
        entries=entries,
    )


def _atom_entry(entry: Any, base: str) -> Entry:
    summary = _atom_text(next(_children(entry, "summary"), None))
    if not summary:
        summary = html_to_text(entry.findtext(f"{{{MEDIA}}}group/{{{MEDIA}}}description"))
    author = next(_children(entry, "author"), None)
    date = _text(entry, "published", "issued") or _text(entry, "updated", "modified")
    return Entry(
        guid=(_text(entry, "id") or "").strip() or None,
        link=_atom_link(entry, base),
        title=_atom_text(next(_children(entry, "title"), None)),
        summary=summary,
        content=_atom_text(next(_children(entry, "content"), None), paragraphs=True),
        published=parse_date(date),
        author=html_to_text(_text(author, "name")) or None if author is not None else None,
    )


def _atom_text(element: Any, *, paragraphs: bool = False) -> str:
    if element is None:
        return ""
    if element.get("mode") == "base64":
        raw = base64.b64decode(element.text or "", validate=False)
        return html_to_text(raw.decode("utf-8", "replace"), paragraphs=paragraphs)
    if element.get("type") in ("xhtml", "application/xhtml+xml"):
        inner = "".join(etree.tostring(c, encoding="unicode") for c in element)
        return html_to_text((element.text or "") + inner, paragraphs=paragraphs)
    return html_to_text(element.text, paragraphs=paragraphs)


def _atom_link(element: Any, base: str) -> str | None:
    links = [c for c in _children(element, "link") if c.get("href")]
    chosen = next((c for c in links if c.get("rel", "alternate") == "alternate"), None)
    return _absolute(base, chosen.get("href")) if chosen is not None else None


def _absolute(base: str, link: str | None) -> str | None:
    link = (link or "").strip()
    if not link or link.startswith(("http://", "https://")):
        return link or None
    try:
        return urljoin(base, link)
    except ValueError:  # e.g. a malformed IPv6 host; keep the link as the feed gave it
        return link


# ── feedparser reader (malformed XML) ──────────────────────────────────────


def read_xml_with_feedparser(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    """Read a feed with feedparser's forgiving parser; keeps entries of recoverable feeds."""
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    result = feedparser.parse(body, response_headers=headers, sanitize_html=True)
    # Malformed XML counts as recovered when feedparser salvaged items or the feed's identity.
    if not result.entries and not (result.feed.get("title") or result.feed.get("link")):
        problem = result.get("bozo_exception") or "no feed elements found"
        reason = str(problem).splitlines()[0] if str(problem) else type(problem).__name__
        raise FeedParseError(f"not a feed: unreadable XML ({reason})")
    feed = result.feed
    ttl = str(feed.get("ttl", "")).strip()
    return ParsedFeed(
        title=html_to_text(feed.get("title")) or None,
        link=feed.get("link") or None,
        entries=tuple(_feedparser_entry(e) for e in result.entries),
        ttl_seconds=float(ttl) * 60 if ttl.isdigit() else None,
    )


def _feedparser_entry(entry: Any) -> Entry:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    content = entry.get("content") or []
    return Entry(
        guid=entry.get("id") or None,
        link=entry.get("link") or None,
        title=html_to_text(entry.get("title")),
        summary=html_to_text(entry.get("summary")),
        content=html_to_text(content[0].get("value") if content else None, paragraphs=True),
        published=datetime.fromtimestamp(timegm(stamp), UTC) if stamp else None,
        author=html_to_text(entry.get("author")) or None,
    )


# ── JSON Feed ──────────────────────────────────────────────────────────────


def read_json_feed(body: bytes, url: str) -> ParsedFeed:
    """Read a JSON Feed (https://jsonfeed.org, versions 1 and 1.1)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedParseError(f"not a feed: invalid JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise FeedParseError("not a feed: JSON without a JSON Feed 'items' list")
    entries = tuple(_json_entry(item, url) for item in document["items"] if isinstance(item, dict))
    return ParsedFeed(
        title=html_to_text(_string(document.get("title"))) or None,
        link=_absolute(url, _string(document.get("home_page_url"))),
        entries=entries,
    )


def _json_entry(item: dict[str, Any], base: str) -> Entry:
    fields = {key: _string(value) for key, value in item.items()}
    content = html_to_text(fields.get("content_html"), paragraphs=True) or html_to_text(
        fields.get("content_text"), paragraphs=True
    )
    summary = html_to_text(fields.get("summary"))
    # JSON Feed titles are optional (microblogs); the text's first line stands in.
    title = html_to_text(fields.get("title")) or (summary or content).split("\n")[0][:140]
    authors = item.get("authors") or [item.get("author")]
    first_author = authors[0] if isinstance(authors, list) and authors else None
    return Entry(
        guid=fields.get("id"),
        link=_absolute(base, fields.get("url") or fields.get("external_url")),
        title=title,
        summary=summary,
        content=content,
        published=parse_date(fields.get("date_published") or fields.get("date_modified")),
        author=_string(first_author.get("name")) if isinstance(first_author, dict) else None,
    )


def _string(value: object) -> str | None:
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
