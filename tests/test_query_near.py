"""NEAR and BEFORE as merges over sorted positions: same answers as every pair, linear time."""

from __future__ import annotations

import random

from bot.core.model import Hit
from bot.core.text import FieldTokens, StoryText
from filters.query import parse_query
from filters.query_ast import Before, Near, Term, describe
from filters.query_eval import evaluate, term_spans


def _near(query: str) -> Near:
    node = parse_query(query)
    assert isinstance(node, Near)
    return node


def _every_pair(near: Near, text: StoryText) -> bool:
    """The reference: some left/right pair, not overlapping, at most `distance` apart."""
    for name, field in text.fields.items():
        left = [s for t in near.left if name in t.fields for s in term_spans(t, field)]
        right = [s for t in near.right if name in t.fields for s in term_spans(t, field)]
        for l_first, l_last in left:
            for r_first, r_last in right:
                gap = r_first - l_last if l_last < r_first else l_first - r_last
                if 0 < gap <= near.distance:
                    return True
    return False


def test_near_over_a_huge_story_is_linear_and_right() -> None:
    # 12,000 × 12,000 pairs would take minutes one by one; a merge takes milliseconds.
    words = ["drone"] * 12_000 + ["filler"] * 20 + ["strike"] * 12_000
    text = StoryText({"content": " ".join(words)})
    hits: list[Hit] = []
    assert not evaluate(parse_query("drone NEAR/8 strike"), text, hits)
    assert hits == []
    assert evaluate(parse_query("drone NEAR/21 strike"), text, hits)
    assert [hit.text for hit in hits] == ["drone", "strike"]


def test_near_agrees_with_every_pair_on_random_texts() -> None:
    rng = random.Random(7)
    vocabulary = ["drone", "drones", "strike", "air", "attack", "x", "y"]
    queries = [
        "drone NEAR/2 strike",
        "drone* NEAR/3 (strike OR attack)",
        '"air strike" NEAR/2 drone*',
        '(drone OR "air strike") NEAR/1 (strike OR air)',
        "drone NEAR/1 drone*",
    ]
    for _ in range(400):
        title = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 14)))
        text = StoryText({"title": title})
        for query in queries:
            near = _near(query)
            assert evaluate(near, text, []) == _every_pair(near, text), (query, title)


def test_near_shows_the_earliest_pair_left_operand_first() -> None:
    text = StoryText({"title": "strike then a drone, later drone strike"})
    hits: list[Hit] = []
    assert evaluate(parse_query("drone NEAR/3 strike"), text, hits)
    assert [(hit.term, hit.text) for hit in hits] == [("drone", "drone"), ("strike", "strike")]
    assert text.fields["title"].spans[0] == (0, 6)


def _every_chain(node: Before, text: StoryText) -> bool:
    """The reference: try every occurrence of every step in turn."""
    for name, field in text.fields.items():

        def spans(step: int, name: str = name, field: FieldTokens = field) -> list[Span]:
            return [
                s for t in node.steps[step] if name in t.fields for s in term_spans_of(t, field)
            ]

        def reach(step: int, previous: Span) -> bool:
            if step == len(node.steps):
                return True
            return any(
                0 < span[0] - previous[1] <= node.distances[step - 1] and reach(step + 1, span)
                for span in spans(step)
            )

        if any(reach(1, span) for span in spans(0)):
            return True
    return False


Span = tuple[int, int]


def term_spans_of(term: object, field: FieldTokens) -> list[Span]:
    assert isinstance(term, Term)
    return term_spans(term, field)


def test_before_agrees_with_every_chain_on_random_texts() -> None:
    rng = random.Random(11)
    vocabulary = ["russia", "accuses", "accused", "the", "us", "china", "of", "x"]
    queries = [
        "russia BEFORE/3 ~accuse BEFORE/2 us",
        "(russia OR china) BEFORE/4 (accuses OR accused)",
        '"the us" BEFORE/1 of',
        "x BEFORE/1 x BEFORE/1 x",
    ]
    for _ in range(400):
        title = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 14)))
        text = StoryText({"title": title})
        for query in queries:
            node = parse_query(query)
            assert isinstance(node, Before)
            assert evaluate(node, text, []) == _every_chain(node, text), (query, title)


def test_before_keeps_the_order_and_shows_the_chain() -> None:
    node = parse_query("@country BEFORE/6 ~accuse BEFORE/3 @us")
    hits: list[Hit] = []
    assert evaluate(node, StoryText({"title": "Russia accuses the US of lying"}), hits)
    assert [(hit.term, hit.text) for hit in hits] == [
        ("@country", "Russia"),
        ("~accuse", "accuses"),
        ("@us", "US"),
    ]
    assert not evaluate(node, StoryText({"title": "The US accuses Russia of lying"}), [])
    assert describe(node) == "(@country BEFORE/6 ~accuse BEFORE/3 @us)"


def test_before_over_a_huge_story_is_linear() -> None:
    words = ["russia"] * 12_000 + ["filler"] * 20 + ["accuses"] * 12_000 + ["us"]
    text = StoryText({"content": " ".join(words)})
    assert not evaluate(parse_query("russia BEFORE/8 accuses BEFORE/2 us"), text, [])
    # Only the first "accuses" is within 21 of a "russia", and "us" follows the last one.
    assert not evaluate(parse_query("russia BEFORE/21 accuses BEFORE/1 us"), text, [])
    assert evaluate(parse_query("russia BEFORE/21 accuses BEFORE/1 accuses"), text, [])
