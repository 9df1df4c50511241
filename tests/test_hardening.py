"""Hostile inputs (issue 11): each case is refused with one clear line, in linear time."""

from __future__ import annotations

import pytest

from bot.core.errors import FeedParseError
from bot.pipeline.parse.parser import screen_body


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
