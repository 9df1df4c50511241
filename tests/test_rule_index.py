"""Matching rules against stories: operators, fields, evidence, score, and the index."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bot.core.errors import RuleSyntaxError
from bot.core.model import Hit, Match, Rule, Story
from bot.core.text import StoryText
from filters.query import parse_query
from filters.query_ast import Not
from filters.query_eval import WHY_LIMIT, build_match, evaluate
from filters.rule_index import CompiledRule, RuleIndex, anchor_groups, match_query

NOW = datetime(2024, 4, 13, 12, 0, tzinfo=UTC)


def make_story(
    title: str = "",
    summary: str = "",
    content: str = "",
    publisher: str = "",
    url: str = "https://example.com/story",
) -> Story:
    return Story(
        key=f"k-{title}-{summary}",
        title=title,
        summary=summary,
        content=content,
        url=url,
        canonical_url=url,
        publisher=publisher,
        published=NOW,
        fetched_at=NOW,
    )


MATCH_CASES = [
    # terms: whole tokens, case and accents folded
    ("kyiv", {"title": "Strike on Kyiv"}, 'title: "Kyiv"'),
    ("KYÏV", {"title": "kyiv news"}, 'title: "kyiv"'),
    ("cafe", {"title": "Blast at Café Central"}, 'title: "Café"'),
    ("café", {"title": "blast at cafe"}, 'title: "cafe"'),
    ("russia", {"title": "Russia's army"}, 'title: "Russia"'),
    ("drone", {"title": "Drones over Kyiv"}, None),
    ("kyi", {"title": "Kyiv"}, None),
    ('"2 6 billion"', {"summary": "$2.6 billion aid"}, 'summary: "2.6 billion"'),
    # phrases and wildcards
    ('"drone strike"', {"title": "A drone-strike in Kherson"}, 'title: "drone-strike"'),
    ("drone-strike", {"title": "drone strike"}, 'title: "drone strike"'),
    ('"drone strike"', {"title": "strike drone"}, None),
    ('"drone strike"', {"title": "drone", "summary": "strike"}, None),
    ("strike*", {"title": "Strikes continue"}, 'title: "Strikes"'),
    ("strike*", {"title": "Workers striking"}, None),
    ('"drone strike*"', {"summary": "two drone strikes"}, 'summary: "drone strikes"'),
    # boolean operators and precedence
    ("drone strike", {"title": "drone", "summary": "strike"}, 'title: "drone" · summary: "strike"'),
    ("drone AND strike", {"title": "drone only"}, None),
    ("drone OR uav", {"summary": "a UAV crashed"}, 'summary: "UAV"'),
    ("drone OR uav", {"summary": "drone and UAV"}, 'summary: "drone", "UAV"'),
    ("drone -training", {"title": "drone training"}, None),
    ("drone -training", {"title": "drone attack"}, 'title: "drone"'),
    ("drone NOT (show OR festival)", {"title": "drone show"}, None),
    ("drone -(show festival)", {"title": "drone show"}, 'title: "drone"'),
    ("drone NOT NOT show", {"title": "drone show"}, 'title: "drone"'),
    ('drone -"light show"', {"title": "drone light show"}, None),
    ("kyiv OR drone strike", {"title": "kyiv"}, 'title: "kyiv"'),
    ("kyiv OR drone strike", {"title": "drone"}, None),
    ("(kyiv OR drone) strike", {"title": "drone strike"}, 'title: "drone", "strike"'),
    # fields
    ("title:drone", {"summary": "drone"}, None),
    ("summary:drone", {"summary": "drone"}, 'summary: "drone"'),
    ("content:drone", {"content": "Drone seen"}, 'content: "Drone"'),
    ("drone", {"publisher": "Drone Weekly"}, None),
    ("publisher:drone", {"publisher": "Drone Weekly"}, 'publisher: "Drone"'),
    ("url:kyiv", {"url": "https://example.com/kyiv-attack"}, 'url: "kyiv"'),
    ("title:(drone OR uav)", {"title": "UAV", "summary": "drone"}, 'title: "UAV"'),
    ('title:"air strike"', {"title": "Air strike"}, 'title: "Air strike"'),
    # proximity
    ("drone NEAR/2 strike", {"title": "drone air strike"}, 'title: "drone", "strike"'),
    ("drone NEAR/1 strike", {"title": "drone air strike"}, None),
    ("drone NEAR/2 strike", {"title": "strike by drone"}, 'title: "drone", "strike"'),
    ("drone NEAR strike", {"title": "drone", "summary": "strike"}, None),
    ("drone NEAR strike", {"title": "drone a b c d e f g h i strike"}, 'title: "drone", "strike"'),
    ("drone NEAR strike", {"title": "drone a b c d e f g h i j strike"}, None),
    ('"air strike" NEAR/3 (drone OR uav)', {"title": "UAV made up an air strike"}, None),
    (
        '"air strike" NEAR/3 (drone OR uav)',
        {"title": "UAV made an air strike"},
        'title: "air strike", "UAV"',
    ),
    ("drone NEAR drone*", {"title": "drone"}, None),
    ("drone NEAR drone*", {"title": "drone drones"}, 'title: "drone", "drones"'),
    ("title:drone NEAR strike", {"summary": "drone strike"}, None),
    # regex (RE2, folded text, shown as written)
    ("re:/\\d+ (killed|dead)/", {"summary": "At least 12 killed"}, 'summary: "12 killed"'),
    ("title:re:/kyiv/", {"summary": "kyiv"}, None),
    ("re:/kiev|kyiv/", {"title": "Attack on KYÏV"}, 'title: "KYÏV"'),
    ("re:/^breaking/", {"title": "Breaking: quake"}, 'title: "Breaking"'),
    ("re:/^breaking/", {"title": "Not breaking"}, None),
    ("re:/a\\/b/", {"title": "ratio a/b"}, 'title: "a/b"'),
    ("re:/stra(ss|ß)e/", {"title": "Hauptstraße"}, 'title: "straße"'),
    ("re:/kyiv attack/", {"title": "“Kyïv attack” — live"}, 'title: "Kyïv attack"'),
    # sentence scope: all of it inside one sentence, its exclusions too
    (
        "sentence:(drone BEFORE/8 strike -footage)",
        {"summary": "Footage shows the drone. A drone strike hit the port."},
        'summary: "drone", "strike"',
    ),
    ("drone BEFORE/8 strike -footage", {"summary": "Footage shows it. A drone strike hit."}, None),
    ("sentence:(drone BEFORE/8 strike -footage)", {"summary": "Drone footage of a strike."}, None),
    ("sentence:(drone strike)", {"summary": "A drone was seen. Then a strike came."}, None),
    ("sentence:(drone strike)", {"title": "Drone", "summary": "strike"}, None),
    ("drone strike", {"title": "Drone", "summary": "strike"}, 'title: "Drone" · summary: "strike"'),
    (
        "sentence:(title:drone strike)",
        {"title": "Drone strike kills 3"},
        'title: "Drone", "strike"',
    ),
    ("sentence:(title:drone strike)", {"title": "Drone seen", "summary": "strike"}, None),
    (
        "sentence:(drone NEAR/3 strike) OR kyiv",
        {"summary": "Kyiv woke up. A drone came. A strike followed."},
        'summary: "Kyiv"',
    ),
    (
        "sentence:(drone -show) attack",
        {"title": "Drone show", "summary": "Drone seen before the attack."},
        'summary: "Drone", "attack"',
    ),
    # -!( … ): vetoes its sentence, and the whole story when the title says it
    (
        "sentence:(drone NEAR/3 strike -!(drone NEAR/3 footage))",
        {"summary": "Drone footage went viral. A drone strike hit the port."},
        'summary: "drone", "strike"',
    ),
    (
        "sentence:(drone NEAR/3 strike -!(drone NEAR/3 footage))",
        {"title": "Drone footage", "summary": "A drone strike hit the port."},
        None,
    ),
    (
        "sentence:(drone NEAR/3 strike -!(drone NEAR/3 footage))",
        {"summary": "Drone footage of a drone strike."},
        None,
    ),
]


@pytest.mark.parametrize(("query", "fields", "why"), MATCH_CASES)
def test_match_query(query: str, fields: dict[str, str], why: str | None) -> None:
    found = match_query(query, make_story(**fields), rule="r")
    assert (found.why if found else None) == why


@pytest.mark.parametrize(("query", "fields", "why"), MATCH_CASES)
def test_index_agrees_with_match_query(query: str, fields: dict[str, str], why: str | None) -> None:
    index = RuleIndex.build([Rule("r", query)])
    found = index.match(make_story(**fields))
    assert [match.why for match in found] == ([why] if why else [])


def test_hits_carry_term_field_and_original_text() -> None:
    story = make_story(title="Russia's drone-strike", summary="Strikes hit Kyïv")
    found = match_query('"drone strike" strike* kyiv', story, rule="r")
    assert found is not None
    assert found.hits == (
        Hit('"drone strike"', "title", "drone-strike"),
        Hit("strike*", "title", "strike"),
        Hit("strike*", "summary", "Strikes"),
        Hit("kyiv", "summary", "Kyïv"),
    )
    assert found.rule == "r"


@pytest.mark.parametrize(
    ("fields", "score"),
    [
        ({"title": "drone"}, 0.5),
        ({"summary": "drone"}, 0.3),
        ({"content": "drone"}, 0.2),
        ({"title": "drone", "summary": "drone"}, 0.65),
        ({"title": "drone drone"}, 0.5),
        ({"title": "drone", "summary": "drone", "content": "drone"}, 0.72),
    ],
)
def test_score_weights_fields(fields: dict[str, str], score: float) -> None:
    found = match_query("drone", make_story(**fields))
    assert found is not None
    assert found.score == pytest.approx(score)


def test_score_rises_with_every_distinct_hit() -> None:
    texts = ["drone", "drone strike", "drone strike attack", "drone strike attack uav"]
    scores = [match_query("drone OR strike OR attack OR uav", make_story(title=t)) for t in texts]
    values = [found.score for found in scores if found is not None]
    assert len(values) == 4
    assert values == sorted(values) and len(set(values)) == 4
    assert all(0.0 < value <= 1.0 for value in values)


def test_why_is_capped_and_deduplicated() -> None:
    words = [f"word{number}" for number in range(80)]
    story = make_story(title=" ".join(words), summary="word1 word1")
    found = match_query(" OR ".join(words), story)
    assert found is not None
    assert len(found.why) <= WHY_LIMIT
    assert found.why == 'title: "word0", "word1", "word2", "word3" (+76) · summary: "word1"'


def test_build_skips_disabled_and_names_rules() -> None:
    index = RuleIndex.build([Rule("a", "drone"), Rule("b", "uav", enabled=False)])
    assert index.rule_names == ("a",)
    assert [m.rule for m in index.match(make_story(title="drone uav"))] == ["a"]


def test_build_raises_naming_the_rule() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        RuleIndex.build([Rule("good", "drone"), Rule("bad", "drone OR")])
    assert caught.value.rule == "bad"
    assert str(caught.value).startswith("rule 'bad': column 7: dangling \"OR\"")


def test_build_lenient_keeps_good_rules() -> None:
    rules = [Rule("bad", "(drone"), Rule("good", "drone"), Rule("worse", "NOT x")]
    index, errors = RuleIndex.build_lenient(rules)
    assert index.rule_names == ("good",)
    assert [(error.rule, error.column) for error in errors] == [("bad", 1), ("worse", 1)]
    assert [m.rule for m in index.match(make_story(title="drone"))] == ["good"]


def test_later_rule_replaces_earlier_of_same_name() -> None:
    index = RuleIndex.build([Rule("a", "drone"), Rule("a", "uav")])
    assert index.rule_names == ("a",)
    assert index.match(make_story(title="drone")) == []


def test_later_disabled_rule_removes_earlier_of_same_name() -> None:
    index = RuleIndex.build([Rule("a", "drone"), Rule("a", "drone", enabled=False)])
    assert index.rule_names == ()


def test_rule_without_anchors_is_evaluated_for_every_story() -> None:
    never_positive = Not(parse_query("drill"), 1)  # the parser refuses this; built by hand
    index = RuleIndex([CompiledRule(Rule("odd", "-drill"), never_positive)])
    assert [m.rule for m in index.match(make_story(title="anything"))] == ["odd"]
    assert index.match(make_story(title="drill")) == []


def test_matches_are_sorted_strongest_first() -> None:
    rules = [Rule("weak", "content:drone"), Rule("strong", "drone"), Rule("mid", "summary:x")]
    story = make_story(title="drone", summary="x", content="drone")
    assert [m.rule for m in RuleIndex.build(rules).match(story)] == ["strong", "mid", "weak"]


@pytest.mark.parametrize(
    ("query", "groups"),
    [
        ("drone", [{"t:drone"}]),
        ("drone strike*", [{"t:drone"}, {"p:strike"}]),
        ("the kyiv drone", [{"t:drone"}, {"t:kyiv"}]),
        ("drone (strike OR attack)", [{"t:drone"}, {"t:attack", "t:strike"}]),
        ("(drone strike) OR (uav attack)", [{"t:strike", "t:attack"}, {"t:drone", "t:uav"}]),
        ("drone -show", [{"t:drone"}]),
        ('"air strike" NEAR uav', [{"t:strike"}, {"t:air"}]),
        ("re:/kyiv/ -x", [{"r:kyiv"}]),
        ("re:/kyiv/ OR drone", [{"r:kyiv", "t:drone"}]),
    ],
)
def test_anchor_groups(query: str, groups: list[set[str]]) -> None:
    derived = anchor_groups(parse_query(query)) or []
    assert [{f"{kind}:{value}" for kind, value in group} for group in derived] == groups


def test_prefilter_evaluates_only_rules_whose_anchors_occur() -> None:
    rules = [Rule(f"r{number}", f"word{number} topic{number % 7}") for number in range(1000)]
    index = RuleIndex.build(rules)
    text = StoryText.from_story(make_story(title="word42 topic0 topic1 word43"))
    assert [index.rule_names[n] for n in index.candidates(text)] == ["r42", "r43"]
    assert [m.rule for m in index.match(make_story(title="word42 topic0 topic1 word43"))] == [
        "r42",
        "r43",
    ]


_VOCABULARY_TEXT = (
    "drone drones strike strikes striking attack kyiv kyïv café cafe russia russia's ukraine "
    "aid package billion missile uav air raid killed civilians israel iran the of said new "
    "senate vote house biden zelenskyy gaza sudan khartoum poland border troops tanks army navy "
    "port grain ship election court judge ruling storm flood quake fire police protest school "
    "market bank rates inflation oil gas pipeline sanctions talks ceasefire hostages "
    "Russia US U.S. us Brussels Kremlin turkey Turkey NATO €3bn $2.6 accused accusing accuses"
)


@pytest.mark.parametrize(
    ("title", "candidate"),
    [
        ("kyiv news", []),
        ("drones over the city", ["primary_regex"]),
        ("drones over kyiv", ["primary_token"]),
        ("the drones over kyiv", ["primary_token", "primary_regex"]),
        ("the drone", []),
    ],
)
def test_regex_anchors_in_either_group(title: str, candidate: list[str]) -> None:
    rules = [Rule("primary_token", "kyiv re:/drones?/"), Rule("primary_regex", "re:/drones/ the")]
    index = RuleIndex.build(rules)
    text = StoryText.from_story(make_story(title=title))
    assert [index.rule_names[n] for n in index.candidates(text)] == candidate


VOCABULARY = _VOCABULARY_TEXT.split()
FIELDS = ("title", "summary", "content", "publisher", "url")


def _random_atom(rng: random.Random, scope: bool = True) -> str:
    word = rng.choice(VOCABULARY)
    roll = rng.random()
    if roll < 0.1:
        atom = rng.choice(["@country", "@us", "@org", "@money", "~accuse", "~strike", "~drones"])
    elif roll < 0.15 and len(word) > 4 and word.isalpha():
        atom = word[: rng.randint(3, len(word) - 1)] + "*"
    elif roll < 0.3:
        atom = f'"{word} {rng.choice(VOCABULARY)}"'
    elif roll < 0.35:
        atom = f"re:/{word[:4]}\\w*/"
    else:
        atom = word
    if scope and rng.random() < 0.2:
        atom = f"{rng.choice(FIELDS[:3])}:{atom}"
    return atom


def _near_atom(rng: random.Random) -> str:
    while "re:" in (atom := _random_atom(rng, False)):
        pass
    return atom


def _random_query(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 2 or roll < 0.3:
        return _random_atom(rng)
    if roll < 0.45:
        left, right, other = _near_atom(rng), _near_atom(rng), _near_atom(rng)
        return f"{left} NEAR/{rng.randint(1, 6)} ({right} OR {other})"
    parts = [_random_query(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    if roll < 0.65:
        return " OR ".join(f"({part})" for part in parts)
    if roll < 0.8:
        return f"({parts[0]}) -({parts[1]})"
    return " ".join(f"({part})" for part in parts)


def _random_story(rng: random.Random) -> Story:
    def text(count: int) -> str:
        return " ".join(rng.choice(VOCABULARY) for _ in range(count))

    return make_story(
        title=text(rng.randint(3, 8)),
        summary=text(rng.randint(0, 20)),
        content=text(rng.randint(0, 30)),
        publisher=text(1),
        url="https://example.com/" + "-".join(text(3).split()),
    )


def test_index_equals_brute_force_on_generated_rules() -> None:
    rng = random.Random(20240413)
    rules = [Rule(f"rule{number}", _random_query(rng)) for number in range(200)]
    parsed = [(rule.name, parse_query(rule.query)) for rule in rules]
    index = RuleIndex.build(rules)
    matched = 0
    candidates = 0
    for _ in range(150):
        story = _random_story(rng)
        text = StoryText.from_story(story)
        expected: list[Match] = []
        for name, node in parsed:
            hits: list[Hit] = []
            if evaluate(node, text, hits):
                expected.append(build_match(name, hits))
        expected.sort(key=lambda found: (-found.score, found.rule))
        assert index.match(story) == expected
        matched += len(expected)
        candidates += len(index.candidates(text))
    # not vacuous: many stories match, and the prefilter still skips most rules
    assert 1000 < matched < candidates < 200 * 150 / 2
