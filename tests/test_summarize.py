"""Sentence splitting and extractive summaries on real feed text."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.core.model import Hit, Match, Story
from bot.core.sentences import iter_sentences, lead_sentence, split_sentences
from bot.pipeline.summarize import summarize
from tests.support.data import SEED_STORY_JSON

SEED = json.loads(SEED_STORY_JSON.read_text())
NOW = datetime(2023, 5, 4, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # seed story: decimals and dollar amounts
        ("Washington announced $2.6 billion in additional funding on Wednesday, including "
         "$500 million for battlefield weapons. The news comes ahead of a counter-offensive.",
         ["Washington announced $2.6 billion in additional funding on Wednesday, including "
          "$500 million for battlefield weapons.", "The news comes ahead of a counter-offensive."]),
        # NPR: a.m. followed by a new sentence, "U.S." mid-sentence and at the end of one
        ("The deadly drone slammed into an apartment building on the Tel Aviv oceanfront just "
         "after 3 a.m. The Houthi militia in Yemen said it carried out the attack.",
         ["The deadly drone slammed into an apartment building on the Tel Aviv oceanfront just "
          "after 3 a.m.", "The Houthi militia in Yemen said it carried out the attack."]),
        ("Russia unleashed a barrage after U.S. and Ukrainian officials said they'll meet.",
         ["Russia unleashed a barrage after U.S. and Ukrainian officials said they'll meet."]),
        ("Aid went to the U.S. But the vote failed.",
         ["Aid went to the U.S.", "But the vote failed."]),
        # WSJ: "Rochester, N.Y., where" stays whole
        ("A family of eight landed in Rochester, N.Y., where they take on a new language.",
         ["A family of eight landed in Rochester, N.Y., where they take on a new language."]),
        # titles, months, initials, "No." before a number, "vs."
        ("Sen. Warren met Gen. Milley and Lt. Col. Vindman on Jan. 6. Dr. J. R. R. Smith, "
         "No. 2 vs. Mr. Jones, left at 5 p.m. Monday.",
         ["Sen. Warren met Gen. Milley and Lt. Col. Vindman on Jan. 6.",
          "Dr. J. R. R. Smith, No. 2 vs. Mr. Jones, left at 5 p.m. Monday."]),
        ("The U.K. and the U.N. agreed, e.g. on aid, i.e. food. St. Paul agreed.",
         ["The U.K. and the U.N. agreed, e.g. on aid, i.e. food.", "St. Paul agreed."]),
        # quotes close the sentence
        ('Iranian officials said "it humiliated the Israeli regime." But Israel says 99% were '
         "intercepted.",
         ['Iranian officials said "it humiliated the Israeli regime."',
          "But Israel says 99% were intercepted."]),
        ("Everything looks very dark,” a schoolgirl said. “Why?’ she asked.” Then silence.",
         ["Everything looks very dark,” a schoolgirl said.", "“Why?’ she asked.”",
          "Then silence."]),
        # ellipses, "?" and "!", and feeds that drop the space after a full stop
        ("Whatever happened to ... the Bolivian women who skateboard? They won! Next… Later.",
         ["Whatever happened to ... the Bolivian women who skateboard?", "They won!",
          "Next…", "Later."]),
        ("Schools reopened for boys.Girls were told to wait.", ["Schools reopened for boys.",
                                                               "Girls were told to wait."]),
        ("Visit aje.io/AJSubscribe for more.", ["Visit aje.io/AJSubscribe for more."]),
        # paragraphs and bullets always break
        ("First paragraph without a stop\n\nSecond paragraph.",
         ["First paragraph without a stop", "Second paragraph."]),
        ("• France recall of ambassadors may be a first • Why France is angry",
         ["France recall of ambassadors may be a first", "Why France is angry"]),
        ("", []),
        ("   \n ", []),
    ],
)  # fmt: skip
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_a_word_longer_than_the_lookback_window_is_read_whole() -> None:
    # The word before a full stop is looked up in a window before the mark; a
    # dotted acronym longer than the window must still be judged as one word.
    acronym = "U.S." * 30  # 120 characters, a dotted acronym: "the" after it starts a sentence
    assert split_sentences(f"Aid to {acronym} The vote failed.") == [
        f"Aid to {acronym}",
        "The vote failed.",
    ]
    assert split_sentences(f"Aid to {acronym} Congress voted.") == [
        f"Aid to {acronym} Congress voted."
    ]
    initials = "x" * 100 + " J. R. Smith left. Then"
    assert split_sentences(initials) == ["x" * 100 + " J. R. Smith left.", "Then"]


def test_sentences_are_cut_lazily_for_a_lead() -> None:
    text = "First one here. Second one here. " * 2_000
    assert next(iter_sentences(text)) == "First one here."
    assert lead_sentence(text) == "First one here."
    assert list(iter_sentences(text)) == split_sentences(text)
    assert len(split_sentences(text)) == 4_000


def test_seed_story_splits_into_its_sentences() -> None:
    sentences = split_sentences(SEED["content"])
    assert sentences[0].startswith("Russia claimed on Thursday")
    assert sentences[0].endswith("President Vladimir Putin.")
    assert "Washington announced $2.6 billion in additional funding on Wednesday, including " \
        "$500 million for battlefield weapons such as artillery, tank ammunition, mortars, " \
        "rockets and tankers." in sentences  # fmt: skip
    assert all(len(sentence) < 300 for sentence in sentences)


def story(*, title: str = SEED["title"], summary: str = "", content: str = "") -> Story:
    return Story(
        key="seed",
        title=title,
        summary=summary,
        content=content,
        url=SEED["link"],
        canonical_url=SEED["link"],
        publisher=SEED["publisher"],
        published=NOW,
        fetched_at=NOW,
    )


LEAD = (
    "Russia claimed on Thursday that the United States was behind an alleged drone attack on "
    "the Kremlin which it says was a Ukrainian attempt to assassinate President Vladimir Putin."
)
AID = (
    "Washington announced $2.6 billion in additional funding on Wednesday, including $500 "
    "million for battlefield weapons such as artillery, tank ammunition, mortars, rockets and "
    "tankers."
)
AID_MATCH = Match(rule="aid_package", score=1.0, hits=(Hit("billion", "content", "$2.6 billion"),))


@pytest.mark.parametrize(
    ("kwargs", "matches", "expected"),
    [
        # no evidence: the lead, as much as fits
        ({}, [], LEAD + " " + split_sentences(SEED["content"])[1]),
        # evidence sentence joins the lead, in original order
        ({}, [AID_MATCH], LEAD + " " + AID),
        # an evidence passage (semantic tier) selects the sentences it contains
        ({}, [Match(rule="accusation_us", score=0.8,
                    evidence="Kremlin spokesman Dmitry Peskov said Thursday that Washington "
                             "orchestrated the incident.")],
         LEAD + " Kremlin spokesman Dmitry Peskov said Thursday that Washington orchestrated "
                "the incident."),
        ({"max_sentences": 1}, [AID_MATCH], AID),
        # too long for even one sentence: trimmed at a word boundary
        ({"max_chars": 60}, [], "Russia claimed on Thursday that the United States was…"),
        ({"max_chars": 1}, [], "…"),
    ],
)  # fmt: skip
def test_summarize_seed_story(kwargs: dict[str, int], matches: list[Match], expected: str) -> None:
    result = summarize(story(summary=SEED["summary"], content=SEED["content"]), matches, **kwargs)
    assert result == expected
    assert len(result) <= kwargs.get("max_chars", 400)


def test_summary_never_cuts_mid_word() -> None:
    words = set(SEED["content"].replace("\n", " ").split())
    for limit in range(20, 200, 7):
        result = summarize(story(content=SEED["content"]), [], max_chars=limit)
        assert len(result) <= limit
        assert all(word in words for word in result.removesuffix("…").split())


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # Al Jazeera YouTube description: the channel boilerplate goes
        ({"title": "US admits it killed civilians in Kabul drone attack",
          "summary": "The survivors of a US drone attack in Kabul are demanding compensation. "
                     "Subscribe to our channel: http://aje.io/AJSubscribe - Follow us on "
                     "Twitter: https://twitter.com/AJEnglish"},
         "The survivors of a US drone attack in Kabul are demanding compensation."),
        # WordPress footer and "Read more"
        ({"summary": "Peskov dismissed the denials as ridiculous. Read more at NBC News. "
                     "The post Russia blames U.S. appeared first on Example News."},
         "Peskov dismissed the denials as ridiculous."),
        # a summary that only repeats the title is skipped in favour of the next sentence
        ({"title": "Drone strikes Tel Aviv", "summary": "Drone strikes Tel Aviv. One died."},
         "One died."),
        # nothing but a title
        ({"title": "Drone strikes Tel Aviv, killing one. Houthis claim responsibility"},
         "Drone strikes Tel Aviv, killing one. Houthis claim responsibility"),
        ({"summary": "Click here to sign up."}, SEED["title"]),
    ],
)  # fmt: skip
def test_summarize_feed_text(fields: dict[str, str], expected: str) -> None:
    assert summarize(story(**fields), []) == expected


def test_whole_word_evidence_only() -> None:
    text = "Many people were in the area. The US denied any role."
    hit = Match(rule="accusation_us", score=1.0, hits=(Hit("us", "summary", "US"),))
    assert summarize(story(summary=text), [hit], max_sentences=1) == "The US denied any role."


def test_rejects_an_empty_budget() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        summarize(story(summary="Text."), [], max_chars=0)
