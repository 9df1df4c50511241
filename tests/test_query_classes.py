"""Entity classes and stems in queries: matching, NEAR, evidence, prefilter anchors."""

from __future__ import annotations

import pytest

from bot.core.errors import RuleSyntaxError
from bot.core.model import Rule
from filters.morphology import expansions, stem
from filters.query import parse_query
from filters.query_ast import describe
from filters.rule_index import RuleIndex, anchor_groups, match_query
from tests.test_rule_index import make_story


@pytest.mark.parametrize(
    ("query", "title", "why"),
    [
        ("aid NEAR/5 @country", "EU aid for Belgium", 'title: "aid", @country: Belgium'),
        ("aid NEAR/5 @country", "aid worker in Brussels", 'title: "aid", @country: Brussels'),
        ("aid NEAR/5 @country", "aid for turkey farmers", None),
        (
            "@money NEAR/4 aid",
            "EU pledges $2.6 billion in aid",
            'title: @money: $2.6 billion, "aid"',
        ),
        ("@money", "5 million people", None),
        ("~accuse NEAR/3 @us", "China accuses the US", 'title: "accuses", @us: US'),
        (
            "~accuse NEAR/3 @us",
            "China's accusation against Washington",
            'title: "accusation", @us: Washington',
        ),
        ("~accuse NEAR/3 @us", "China accuses us of lying", None),
        ("~accuse", "an accurate account", None),
        ("~strike", "drone strikes, striking", 'title: "strikes"'),
        ("~strike", "the drone struck", None),
        ("title:@org", "NATO summit", "title: @org: NATO"),
        ("title:@org", "who said what", None),
        ("~launch NEAR/1 ~attack", "launched attacks", 'title: "launched", "attacks"'),
    ],
)
def test_classes_and_stems_match(query: str, title: str, why: str | None) -> None:
    match = match_query(query, make_story(title=title))
    assert (match.why if match else None) == why


def test_stem_terms_show_their_stems() -> None:
    assert describe(parse_query("~accusations NEAR/4 @us")) == "(NEAR/4 ~accusations @us)"
    assert stem("accusations") == stem("accused") == "accus"


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("~strike*", 8, "cannot also end in *"),
        ("drone ~", 7, "no word to stem"),
        ("drone @", 7, 'a lone "@"'),
        ('"~launch attack"', 2, "a ~ inside quotes"),
    ],
)
def test_stem_and_class_errors(query: str, column: int, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_query(query)
    assert (caught.value.column, message in caught.value.message) == (column, True)


@pytest.mark.parametrize(
    ("query", "groups"),
    [
        ("~accuse NEAR/4 @us", [{"s:accus"}, {"c:us"}]),
        ("@country", [{"c:country"}]),
        ("aid @money", [{"t:aid"}, {"r:" + "MONEY"}]),
    ],
)
def test_class_and_stem_anchors(query: str, groups: list[set[str]]) -> None:
    derived = anchor_groups(parse_query(query)) or []
    shown = [
        {f"{kind}:{'MONEY' if kind == 'r' else value}" for kind, value in group}
        for group in derived
    ]
    assert shown == groups


def test_index_posts_rules_under_stems_and_classes() -> None:
    rules = [
        Rule("stem_only", "~accuse"),
        Rule("class_only", "@us"),
        Rule("money_aid", "aid @money"),
        Rule("both", "~accuse NEAR/3 @us"),
    ]
    index = RuleIndex.build(rules)
    story = make_story(title="Iran accused Washington of lying about $3bn aid")
    assert sorted(m.rule for m in index.match(story)) == sorted(r.name for r in rules)
    assert index.match(make_story(title="tell us about it")) == []


def test_expansions_show_what_a_stem_reaches() -> None:
    forms = expansions("accuse")
    assert {"accuse", "accused", "accuses", "accusing"} <= set(forms)
    assert all(stem(form) == "accus" for form in forms)
    assert expansions("stop") == ["stop", "stops", "stopped", "stopping"]
    assert expansions("deny") == ["deny", "denied", "denies", "denying"]


def test_rules_check_shows_what_stems_and_classes_reach() -> None:
    from filters.expansions import expansion_lines

    lines = expansion_lines(parse_query("(@country OR minist*) BEFORE/8 ~accuse -~accuse -@money"))
    assert lines[0].startswith("@country: ") and "names of" in lines[0]
    assert lines[1] == (
        '~accuse → any word with the stem "accus" (accuse, accused, accuses, accusing, …)'
    )
    assert lines[2].startswith("@money: amounts of money")
    assert len(lines) == 3
