"""Renderers against hostile feed text: nothing injected, everything shown literally, in limits."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.errors import CommandError
from bot.core.model import Alert, Destination, FollowUp, Hit, Match, Source, Story
from bot.platforms.console import ConsoleNotifier, render_console
from bot.platforms.render import (
    MUTE,
    NOT_RELEVANT,
    UNSUBSCRIBE,
    AlertAction,
    clean_text,
    fit_text,
    render_sources_note,
    rule_ref_matches,
    utf16_len,
)
from bot.platforms.slack.render import SLACK_ACTION_IDS, parse_slack_button, render_slack
from bot.platforms.telegram.render import (
    parse_telegram_callback,
    render_telegram,
    telegram_keyboard,
)
from tests.support.fake_telegram import parse_telegram_html

URL = "https://news.example/world/drone-strike?id=7&lang=en"
WHEN = datetime(2024, 5, 1, 16, 3, tzinfo=timezone(timedelta(hours=2)))

HOSTILE = [
    "<b>bold</b> and <i>not closed",
    "Fish &amp; chips & more &#x27; &lt;",
    '</a><a href="javascript:alert(1)">click me</a>',
    "<!channel> <!here> <!everyone> wake up",
    "<@U123> and <#C123|general> and <!subteam^S1|team>",
    "<https://evil.example|totally safe link>",
    "*bold* _italic_ ~strike~ `code` ```block```",
    "Emoji 🚀 family 👨‍👩‍👧 flag 🇺🇦 skin 👍🏽",
    "RTL שלום עולם مرحبا بالعالم mixed",
    "\"quotes\" 'apostrophes' \\backslash\\ | pipes |",
    "@channel @here #general",
]
FIELDS = ["title", "summary", "publisher", "why"]


def make_alert(
    *,
    title: str = "Drone strike reported near the border",
    summary: str = "A drone strike hit a depot. Officials confirmed it.",
    publisher: str = "Example News",
    url: str = URL,
    why: str = 'title: "drone" + summary: "strike"',
    rules: tuple[str, ...] = ("drone_strike",),
    key: str = "k" * 40,
) -> Alert:
    story = Story(
        key=key,
        title=title,
        summary=summary,
        content="",
        url=url,
        canonical_url=url,
        publisher=publisher,
        published=WHEN,
        fetched_at=WHEN,
    )
    hits = (Hit(term="drone", field="title", text="Drone"),)
    matches = tuple(Match(rule=rule, score=1.0, hits=hits, why=why) for rule in rules)
    return Alert(story=story, matches=matches, summary=summary)


def hostile_alert(field: str, text: str) -> Alert:
    fields: dict[str, str] = {field: text}
    return make_alert(**fields)  # type: ignore[arg-type]


def slack_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def with_sources(alert: Alert, stories: list[Story]) -> Alert:
    """The alert as a follow-up shows it: later outlets among its sources."""
    return replace(alert, sources=tuple(Source.of(story) for story in stories))


def other_story(publisher: str, url: str) -> Story:
    return make_alert(publisher=publisher, url=url).story


# ── shared text shaping ──


@pytest.mark.parametrize(
    ("text", "budget", "expected"),
    [
        ("hello world", 20, "hello world"),
        ("hello brave new world", 12, "hello brave…"),
        ("abcdefghij", 5, "abcd…"),
        ("👨‍👩‍👧👨‍👩‍👧", 5, "…"),
        ("e\u0301e\u0301e\u0301", 4, "e\u0301…"),
        ("👍🏽👍🏽", 3, "👍🏽…"),
        ("anything", 0, ""),
    ],
)
def test_fit_text(text: str, budget: int, expected: str) -> None:
    assert fit_text(text, budget) == expected


@pytest.mark.parametrize(
    ("text", "budget", "expected"),
    [
        ("a & b & c", 9, "a &amp;…"),
        ("<<<<", 9, "&lt;&lt;…"),
        ("<<<<", 8, "&lt;…"),
        ("x" * 10, 10, "x" * 10),
    ],
)
def test_fit_text_never_cuts_an_entity(text: str, budget: int, expected: str) -> None:
    from html import escape

    assert fit_text(text, budget, lambda s: escape(s, quote=False)) == expected


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("line one\nline two\t\ttabs", "line one line two tabs"),
        ("\x1b[31mred\x1b[0m bell\x07", "[31mred [0m bell"),
        ("abc\u202edcba\u2066x\u2069", "abc dcba x"),
        ("  spaced   out  ", "spaced out"),
    ],
)
def test_clean_text_drops_controls_and_bidi_overrides(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


# ── Telegram ──


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("text", HOSTILE)
def test_telegram_shows_hostile_text_literally(field: str, text: str) -> None:
    rendered = render_telegram(hostile_alert(field, text))
    shown = parse_telegram_html(rendered)
    assert clean_text(text) in shown
    assert re.findall(r"<a\b[^>]*>", rendered) == [f'<a href="{URL.replace("&", "&amp;")}">']


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example/x",
        "//evil.example/x",
        "http://",
        "https://ok.example/a b",
        "https://ok.example/\x1b[0m",
        "https://ok.example/" + "a" * 3000,
    ],
)
def test_telegram_links_only_safe_http_urls(url: str) -> None:
    rendered = render_telegram(make_alert(url=url))
    assert "<a " not in rendered
    assert "Drone strike reported near the border" in parse_telegram_html(rendered)


def test_telegram_href_is_escaped() -> None:
    url = 'https://x.example/?a=1&b="2"&c=<3>'
    rendered = render_telegram(make_alert(url=url))
    assert '<a href="https://x.example/?a=1&amp;b=&quot;2&quot;&amp;c=&lt;3&gt;">' in rendered
    parse_telegram_html(rendered)


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("title", "word " * 2000),
        ("title", "x" * 10_000),
        ("summary", "word " * 2000),
        ("summary", "& < > " * 2000),
        ("summary", "🚀 " * 5000),
        ("publisher", "Publisher " * 1000),
        ("why", "because " * 2000),
    ],
)
def test_telegram_long_text_fits_and_is_trimmed_at_a_word(field: str, text: str) -> None:
    rendered = render_telegram(hostile_alert(field, text))
    assert utf16_len(rendered) <= 4096
    shown = parse_telegram_html(rendered)
    assert "…" in shown
    if field == "summary" and " " in text:
        kept = shown.split("\n\n")[1].removesuffix("…")
        assert clean_text(text).startswith(kept) and clean_text(text)[len(kept)] == " "


def test_telegram_layout() -> None:
    rendered = render_telegram(make_alert(rules=("drone_strike", "aid_package")))
    assert parse_telegram_html(rendered).split("\n") == [
        "Drone strike reported near the border",
        "Example News · 2024-05-01 14:03 UTC",
        "",
        "A drone strike hit a depot. Officials confirmed it.",
        "",
        'Matched drone_strike — title: "drone" + summary: "strike"',
        'Matched aid_package — title: "drone" + summary: "strike"',
    ]


def test_telegram_update_names_other_sources_with_links() -> None:
    extra = [
        other_story("Wire <Service>", "https://wire.example/a"),
        other_story("Wire <Service>", "https://wire.example/b"),
        other_story("Other & Co", "javascript:alert(1)"),
    ]
    rendered = render_telegram(with_sources(make_alert(), extra))
    assert parse_telegram_html(rendered).endswith(
        "Also reported by: Wire <Service>, Other & Co (3 outlets)"
    )
    assert '<a href="https://wire.example/a">Wire &lt;Service&gt;</a>' in rendered
    assert "javascript" not in rendered


def test_sources_note() -> None:
    extra = [other_story(f"P{n}", f"https://p{n}.example/") for n in range(12)]
    assert render_sources_note(make_alert()) == ""
    two = with_sources(make_alert(), extra[:2])
    assert render_sources_note(two) == "Also reported by: P0, P1 (3 outlets)"
    many = with_sources(make_alert(), extra)
    assert render_sources_note(many) == "Also reported by: P0, P1, P2 and 9 more (13 outlets)"


# ── buttons ──


@pytest.mark.parametrize(
    "rule", ["drone_strike", "r", "правило_про_дроны", "x" * 200, "#hash_like", "a:b:c"]
)
def test_telegram_keyboard_round_trips_within_64_bytes(rule: str) -> None:
    [row] = telegram_keyboard(make_alert(rules=(rule,)))
    assert [text for text, _ in row] == ["Mute rule 24 h", "Unsubscribe", "Not relevant"]
    pressed = [parse_telegram_callback(data) for _, data in row]
    assert all(len(data.encode()) <= 64 for _, data in row)
    assert [p.action for p in pressed] == [MUTE, UNSUBSCRIBE, NOT_RELEVANT]
    assert all(rule_ref_matches(p.rule_ref, rule) for p in pressed)
    assert not any(rule_ref_matches(p.rule_ref, rule + "_other") for p in pressed)
    assert pressed[2].story_key == "k" * 12


@pytest.mark.parametrize("data", ["", "x:rule", "m:", "n:rule", "n::key", "garbage"])
def test_telegram_callback_that_is_not_ours(data: str) -> None:
    with pytest.raises(CommandError, match="button data"):
        parse_telegram_callback(data)


def test_no_buttons_without_a_match() -> None:
    alert = make_alert(rules=())
    assert telegram_keyboard(alert) == []
    assert [b["type"] for b in render_slack(alert)[1]] == ["section", "context"]


# ── Slack ──


def slack_texts(alert: Alert) -> list[str]:
    fallback, blocks = render_slack(alert)
    texts = [fallback, blocks[0]["text"]["text"]]  # type: ignore[index]
    texts += [e["text"] for e in blocks[1]["elements"]]  # type: ignore[attr-defined]
    return texts


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("text", HOSTILE)
def test_slack_shows_hostile_text_literally(field: str, text: str) -> None:
    texts = slack_texts(hostile_alert(field, text))
    link = f"<{URL.replace('&', '&amp;')}|"
    assert texts[1].startswith(f"*{link}")
    without_link = [t.replace(link, "", 1).replace(">*", "", 1) for t in texts]
    assert not any(("<" in t or ">" in t) for t in without_link)
    literal = clean_text(text)
    if field == "title":
        literal = literal.replace("|", "∣")
    assert any(literal in slack_unescape(t) for t in without_link)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://a.example/x y", "mailto:a@b.c"])
def test_slack_links_only_safe_http_urls(url: str) -> None:
    texts = slack_texts(make_alert(title="<!channel> news", url=url))
    assert texts[1].startswith("*&lt;!channel&gt; news*\n")


def test_slack_link_with_pipes() -> None:
    section = slack_texts(make_alert(title="A | B", url="https://x.example/?q=a|b&c=1"))[1]
    assert section.startswith("*<https://x.example/?q=a%7Cb&amp;c=1|A ∣ B>*\n")


@pytest.mark.parametrize(
    ("field", "text"),
    [("title", "word " * 3000), ("summary", "& " * 5000), ("summary", "🚀 " * 4000)],
)
def test_slack_section_fits(field: str, text: str) -> None:
    _, blocks = render_slack(hostile_alert(field, text))
    section = blocks[0]["text"]["text"]  # type: ignore[index]
    assert utf16_len(section) <= 3000
    assert "…" in section


def test_slack_blocks() -> None:
    fallback, blocks = render_slack(make_alert(key="story-key-1"))
    assert fallback == "Drone strike reported near the border — Example News"
    assert [b["type"] for b in blocks] == ["section", "context", "actions"]
    assert blocks[0]["text"] == {  # type: ignore[comparison-overlap]
        "type": "mrkdwn",
        "verbatim": True,
        "text": f"*<{URL.replace('&', '&amp;')}|Drone strike reported near the border>*\n"
        "A drone strike hit a depot. Officials confirmed it.",
    }
    context = [e["text"] for e in blocks[1]["elements"]]  # type: ignore[attr-defined]
    assert context[0] == "Example News · 2024-05-01 14:03 UTC"
    buttons = blocks[2]["elements"]
    assert [b["action_id"] for b in buttons] == list(SLACK_ACTION_IDS.values())  # type: ignore[attr-defined]
    assert [b["text"]["text"] for b in buttons] == ["Mute rule 24 h", "Unsubscribe", "Not relevant"]  # type: ignore[attr-defined]
    pressed = parse_slack_button(buttons[2]["action_id"], buttons[2]["value"])  # type: ignore[index]
    assert pressed == AlertAction(NOT_RELEVANT, "drone_strike", "story-key-1")


def test_slack_button_value_stays_under_2000() -> None:
    rule = "r" * 3000
    buttons = render_slack(make_alert(rules=(rule,)))[1][2]["elements"]
    value = buttons[0]["value"]  # type: ignore[index]
    assert len(value) <= 2000
    assert rule_ref_matches(json.loads(value)["rule"], rule)


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("other_action", '{"rule":"r","story":"s"}'),
        ("newswatch_mute", "not json"),
        ("newswatch_mute", "{}"),
    ],
)
def test_slack_button_that_is_not_ours(action_id: str, value: str) -> None:
    with pytest.raises(CommandError, match="Slack"):
        parse_slack_button(action_id, value)


def test_slack_update_lists_sources() -> None:
    alert = with_sources(make_alert(), [other_story("<!channel> Wire", "https://w.example/")])
    _, blocks = render_slack(alert)
    note = blocks[1]["elements"][-1]["text"]  # type: ignore[index]
    assert note == "Also reported by: <https://w.example/|&lt;!channel&gt; Wire> (2 outlets)"


# ── console ──


def test_console_reads_like_chat() -> None:
    text = render_console(with_sources(make_alert(), [other_story("Wire", "https://w.example/")]))
    assert text.split("\n") == [
        "Drone strike reported near the border",
        "Example News · 2024-05-01 14:03 UTC",
        URL,
        "",
        "A drone strike hit a depot. Officials confirmed it.",
        "",
        'Matched drone_strike: title: "drone" + summary: "strike"',
        "",
        "Also reported by: Wire (2 outlets)",
    ]


@pytest.mark.parametrize("field", FIELDS)
def test_console_strips_terminal_escapes(field: str) -> None:
    text = render_console(hostile_alert(field, "\x1b]0;pwned\x07\x1b[2J\u202eevil"))
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text


def test_published_time_is_utc() -> None:
    naive = make_alert().story.published.astimezone(UTC).replace(tzinfo=None)
    story = make_alert().story
    alert = Alert(
        story=Story(**{**{f: getattr(story, f) for f in story.__slots__}, "published": naive}),  # type: ignore[arg-type]
        matches=(),
        summary="",
    )
    assert "2024-05-01 14:03 UTC" in render_console(alert)


async def test_console_notifier_prints_alerts_and_updates() -> None:
    out = io.StringIO()
    notifier = ConsoleNotifier(stream=out)
    alert = make_alert()
    first = await notifier.send(Destination("console", "demo"), alert)
    second = await notifier.send(Destination("console", "demo"), alert)
    later = with_sources(alert, [other_story("Wire", URL)])
    await notifier.update(Destination("console", "demo"), first, FollowUp(later))
    await notifier.close()
    assert (first, second) == ("1", "2")
    blocks = out.getvalue().split("\n\n── ")
    assert blocks[0] == f"── alert #1 → demo\n{render_console(alert)}"
    assert blocks[2].startswith("alert #1 updated → demo\n")
    assert blocks[2].rstrip().endswith("Also reported by: Wire (2 outlets)")
