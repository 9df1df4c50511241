"""Hostile inputs (issue 11): each case is refused with one clear line, in linear time."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.errors import FeedParseError, FetchError, ResponseTooLargeError
from bot.core.model import FeedState
from bot.pipeline.fetch.fetcher import Fetcher, FetchLimits, make_http_client
from bot.pipeline.parse.parser import screen_body
from tests.support.feed_server import FeedServer, Route

NOW_FETCH = datetime(2024, 4, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("tail", [b"x", b"", b"<?pi", b"<!--", b"<!DOCTYPE [", b"<!DOCTYPE"])
def test_a_prolog_of_100_000_spaces_is_refused_not_backtracked(tail: bytes) -> None:
    # The old prolog regex doubled its work per space; 40 spaces then "x" took hours.
    with pytest.raises(FeedParseError, match="not a feed"):
        screen_body(b" " * 100_000 + tail, "application/xml")


def test_the_prolog_scan_still_finds_the_root_after_pi_comment_and_doctype() -> None:
    body = b'  <?xml version="1.0"?>\n<!-- c --> <!DOCTYPE rss [ ]> <rss version="2.0"/>'
    assert screen_body(body, None) == "xml"


def test_the_prolog_scan_names_a_non_feed_root() -> None:
    with pytest.raises(FeedParseError, match="<html>"):
        screen_body(b"<!DOCTYPE html>\n<html></html>", "text/html")


# ── issue 11, cases 6 and 7: bad CLI inputs are one line, exit 2, before any output ──


def _cli_one_line(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    from tests.support.cli import run_cli

    code, out, err = run_cli(capsys, *argv)
    assert code == 2, err
    (line,) = err.strip().splitlines()
    return out, line


@pytest.mark.parametrize(
    ("second_line", "expected"),
    [
        (b"[" * 100_000, "JSON nested too deeply"),
        (b'{"id": "b", "title": "\xff"}', "UTF-8"),
        (b'{"id": "b"}', "needs 'id' and 'title'"),
        (b"not json", "Expecting value"),
    ],
    ids=["deep-brackets", "not-utf8", "not-an-item", "not-json"],
)
def test_rules_test_checks_every_line_before_printing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    second_line: bytes,
    expected: str,
) -> None:
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSWATCH_SEMANTIC", "off")
    items = tmp_path / "items.jsonl"
    items.write_bytes(b'{"id": "a", "title": "Drone strike hits a depot"}\n' + second_line + b"\n")
    out, line = _cli_one_line(capsys, "rules", "test", "--input", str(items))
    assert out == ""  # the good first line printed nothing before the error
    assert expected in line and str(items) in line


def test_a_data_dir_under_a_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.delenv("NEWSWATCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(afile / "data"))
    _, line = _cli_one_line(capsys, "feeds", "list")
    assert "NEWSWATCH_DATA_DIR" in line and "not a directory" in line


# ── issue 11, case 1: one decompression budget across every Content-Encoding layer ──


def _gzip_stream(chunks: Iterator[bytes]) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(packer.compress(chunk) for chunk in chunks) + packer.flush()


def _zeros(megabytes: int) -> Iterator[bytes]:
    block = bytes(1024 * 1024)
    return (block for _ in range(megabytes))


STACKED_BOMB = _gzip_stream(iter([_gzip_stream(_zeros(64))]))
"""gzip of gzip of 64 MiB of zeros: a few hundred bytes on the wire."""


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as running:
        yield running


def _limits(cap: int = 1024 * 1024) -> FetchLimits:
    return FetchLimits(allow_private_networks=True, max_bytes=cap)


async def test_stacked_gzip_is_refused_within_the_budget(feed_server: FeedServer) -> None:
    assert len(STACKED_BOMB) < 2000
    headers = {"Content-Encoding": "gzip, gzip"}
    feed_server.route("/bomb", Route(body=STACKED_BOMB, headers=headers))
    fetcher = Fetcher(make_http_client(_limits()), _limits())
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError, match="larger than 1048576 bytes"):
            await fetcher.fetch(feed_server.url("/bomb"), FeedState(), NOW_FETCH)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024  # httpx's own decoders held the whole 64 MiB layer


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(b"<rss/>" * 100)),
        ("x-gzip", gzip.compress(b"<rss/>" * 100)),
        ("deflate", zlib.compress(b"<rss/>" * 100)),
        ("deflate", zlib.compress(b"<rss/>" * 100)[2:-4]),  # raw deflate, as some servers send
        ("gzip, gzip", gzip.compress(gzip.compress(b"<rss/>" * 100))),
        ("identity", b"<rss/>" * 100),
        ("deflate, identity, gzip", gzip.compress(zlib.compress(b"<rss/>" * 100))),
    ],
    ids=["gzip", "x-gzip", "deflate", "raw-deflate", "gzip-gzip", "identity", "mixed"],
)
async def test_every_encoding_we_ask_for_decodes(
    feed_server: FeedServer, encoding: str, body: bytes
) -> None:
    feed_server.route("/feed", Route(body=body, headers={"Content-Encoding": encoding}))
    fetcher = Fetcher(make_http_client(_limits()), _limits())
    response = await fetcher.fetch(feed_server.url("/feed"), FeedState(), NOW_FETCH)
    assert response.body == b"<rss/>" * 100


@pytest.mark.parametrize(
    ("encoding", "body", "expected"),
    [
        ("br", b"\x0b\x02\x80<rss/>\x03", "unsupported Content-Encoding 'br'"),
        ("gzip", b"not gzip at all", "gzip body is corrupt"),
        ("gzip, gzip, gzip, gzip", b"x", "stacks 4 layers"),
    ],
    ids=["brotli-not-asked-for", "corrupt", "too-many-layers"],
)
async def test_bad_encodings_are_one_clear_error(
    feed_server: FeedServer, encoding: str, body: bytes, expected: str
) -> None:
    feed_server.route("/feed", Route(body=body, headers={"Content-Encoding": encoding}))
    fetcher = Fetcher(make_http_client(_limits()), _limits())
    with pytest.raises(FetchError, match=expected):
        await fetcher.fetch(feed_server.url("/feed"), FeedState(), NOW_FETCH)


# ── issue 11: an upper bound on the text any stage looks at ──


def test_normalize_bounds_every_text_field() -> None:
    from bot.core.model import Entry, Feed
    from bot.pipeline.normalize import (
        MAX_CONTENT_CHARS,
        MAX_SUMMARY_CHARS,
        MAX_TITLE_CHARS,
        bounded,
        story_from_entry,
    )

    words = "drone strike " * 1_000_000  # 13 MB
    entry = Entry("g", "https://x.example/1", words, summary=words, content=words)
    feed = Feed(id=1, url="https://x.example/rss", name="X")
    story = story_from_entry(entry, feed=feed, publisher="X", fetched_at=NOW_FETCH)
    assert 0 < len(story.title) <= MAX_TITLE_CHARS
    assert 0 < len(story.summary) <= MAX_SUMMARY_CHARS
    assert 0 < len(story.content) <= MAX_CONTENT_CHARS
    assert story.summary.endswith("strike") or story.summary.endswith("drone")
    assert bounded("short", 10) == "short"
    assert bounded("x" * 50, 10) == "x" * 10
