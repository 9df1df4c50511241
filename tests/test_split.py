"""The one splitter: long replies and digests go out in parts, never cut, each part
valid markup by itself."""

from __future__ import annotations

import html

from bot.platforms.render import group_parts, pack_parts, split_text, utf16_len
from bot.platforms.slack.intake import reply_messages
from bot.platforms.telegram.replies import render_reply
from handlers import Reply
from tests.support.fake_telegram import parse_telegram_html


def test_lines_are_packed_whole_and_nothing_is_lost() -> None:
    text = "\n".join(f"feed {n} <x> & more" for n in range(300))
    parts = split_text(text, 500, escape=html.escape)
    assert len(parts) > 1 and all(len(part) <= 500 for part in parts)
    assert html.unescape("\n".join(parts)) == text


def test_an_overlong_line_goes_at_words_and_an_overlong_word_at_characters() -> None:
    line = "word " * 300 + "x" * 1200
    parts = split_text(line, 400)
    assert all(len(part) <= 400 for part in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == line.replace(" ", "")


def test_a_combining_mark_stays_with_its_letter() -> None:
    word = "e\u0301" * 300  # é as e + combining acute
    parts = split_text(word, 101)
    assert all(not part.startswith("\u0301") for part in parts)
    assert "".join(parts) == word


def test_group_parts_respects_both_limits() -> None:
    pieces = ["a" * 10] * 25
    assert [len(g) for g in group_parts(pieces, 1000, max_pieces=10)] == [10, 10, 5]
    assert pack_parts(["ab", "cd", "ef"], 5) == ["ab\ncd", "ef"]
    assert split_text("   \n  ", 10) == []


def test_a_long_telegram_reply_with_code_is_several_valid_messages() -> None:
    reply = Reply("\n".join(f"line {n} <b>&</b>" for n in range(600)), code="x < y\n" * 900)
    messages = render_reply(reply)
    assert len(messages) > 2
    for message in messages:
        assert utf16_len(message) <= 4096
        parse_telegram_html(message)  # raises if any part is not valid HTML on its own
    shown = "\n".join(parse_telegram_html(m) for m in messages)
    assert shown.count("<b>&</b>") == 600 and shown.count("x < y") == 900


def test_a_long_slack_reply_is_several_messages_within_the_block_limit() -> None:
    reply = Reply("\n".join(f"row {n} " + "w" * 80 for n in range(3000)))
    messages = reply_messages(reply)
    assert len(messages) > 1
    assert all(len(blocks) <= 50 for _, blocks in messages)
    sections = [b["text"]["text"] for _, blocks in messages for b in blocks]
    assert all(len(s) <= 3000 for s in sections)
    assert "\n".join(sections).count("row ") == 3000
