"""Word classes: `@name` for a named list of ordinary query terms, expanded at parse time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.items import read_items
from bot.core.errors import ConfigError, RuleSyntaxError
from filters.entities import EntityCatalogue
from filters.entities_file import default_catalogue, load_catalogue
from filters.expansions import expansion_lines
from filters.query import parse_query
from filters.query_ast import Near, Or, Term
from filters.rule_index import RuleIndex, match_query
from filters.rules_file import load_rules
from tests.support.data import DATA, DEV_SET, LABELLED_SETS
from tests.test_rule_index import make_story


def catalogue() -> EntityCatalogue:
    """The shipped name classes plus test word classes (one nested, one cyclic)."""
    base = default_catalogue()
    words = {
        "wrongdoing": ("~meddle", '"war crime*"', "brib*"),
        "accuser": ("@country", "@wrongdoing"),
        "loop": ("spin", "@loop"),
        "bad": ("title:x",),
    }
    return EntityCatalogue(base.classes, words)


def test_expands_to_the_written_out_or_group() -> None:
    expanded = parse_query("@wrongdoing", catalogue())
    written = parse_query('~meddle OR "war crime*" OR brib*', catalogue())
    assert isinstance(expanded, Or) and isinstance(written, Or)
    assert [c.tokens for c in expanded.children if isinstance(c, Term)] == [
        c.tokens for c in written.children if isinstance(c, Term)
    ]
    assert {c.hit_label for c in expanded.children if isinstance(c, Term)} == {"@wrongdoing"}


def test_nested_class_flattens_into_a_near_operand() -> None:
    node = parse_query("@accuser NEAR/5 ~accuse", catalogue())
    assert isinstance(node, Near)
    assert [operand.hit_label for operand in node.left] == ["@country", *["@wrongdoing"] * 3]


def test_field_scope_reaches_the_members() -> None:
    node = parse_query("title:@wrongdoing", catalogue())
    assert isinstance(node, Or)
    assert {c.fields for c in node.children if isinstance(c, Term)} == {("title",)}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("@loop", "word class @loop contains itself (@loop → @loop)"),
        ("@bad", "word class @bad: 'title:x' is not one query term"),
        ("@nosuch", 'unknown entity class "@nosuch"'),
    ],
)
def test_cycles_and_bad_members_are_refused(query: str, message: str) -> None:
    with pytest.raises(RuleSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_query(query, catalogue())


def test_admin_additions_extend_a_word_class() -> None:
    extended = catalogue().with_names([("wrongdoing", "~lie", "")])
    assert extended.words["wrongdoing"][-1] == "~lie"


def test_file_words_section_is_loaded_and_checked(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "entities.yaml"  # type: ignore[operator]
    path.write_text("classes: {}\nwords:\n  drone:\n    description: d\n    terms: [drone*, uav]\n")
    assert load_catalogue(path).words == {"drone": ("drone*", "uav")}
    path.write_text("classes: {}\nwords:\n  drone:\n    terms: []\n")
    with pytest.raises(ConfigError, match="word class 'drone': terms"):
        load_catalogue(path)


def test_explanation_names_the_class_that_hit() -> None:
    story = make_story(title="Russia accused of meddling")
    match = match_query("@wrongdoing", story, entities=catalogue())
    assert match is not None and match.why == "title: @wrongdoing: meddling"


ROOT = Path(__file__).resolve().parent.parent
LABELLED = sorted(LABELLED_SETS.values())

WRITTEN_OUT = ROOT / "tests" / "data" / "seed_rules_written_out.yaml"


@pytest.fixture(scope="module")
def both_indexes() -> tuple[RuleIndex, RuleIndex]:
    """The seed rules written out (tests/data) and as shipped, with word classes (config/)."""
    written = RuleIndex.build(load_rules(WRITTEN_OUT))
    shipped = RuleIndex.build(load_rules(ROOT / "config" / "rules.yaml"))
    return written, shipped


@pytest.mark.parametrize("path", LABELLED, ids=lambda path: path.name)
def test_the_class_form_matches_exactly_what_the_written_out_rules_do(
    both_indexes: tuple[RuleIndex, RuleIndex], path: Path
) -> None:
    written, proposed = both_indexes
    differ = [
        item.id
        for item in read_items(path)
        if {m.rule for m in written.match(item.story)}
        != {m.rule for m in proposed.match(item.story)}
    ]
    assert differ == []


def test_the_class_form_is_much_shorter() -> None:
    written = {r.name: len(r.query) for r in load_rules(WRITTEN_OUT)}
    shipped = {r.name: len(r.query) for r in load_rules(ROOT / "config" / "rules.yaml")}
    assert shipped["accusation_us"] < written["accusation_us"] / 4
    assert all(shipped[name] < written[name] for name in written)


def test_each_seed_query_fits_one_chat_message() -> None:
    # The issue asks for seed rules short enough to read in a chat message: a Telegram
    # message holds 4,096 characters, so `rules show` gives each query in one.
    shipped = {r.name: len(r.query) for r in load_rules(ROOT / "config" / "rules.yaml")}
    assert all(length <= 4096 for length in shipped.values()), shipped


def test_rules_check_shows_what_a_word_class_expands_to() -> None:
    lines = expansion_lines(parse_query("@accuser BEFORE/8 @us", catalogue()))
    assert lines[0] == '@wrongdoing → ~meddle, "war crime*", brib*'
    assert lines[1].startswith("@country: ")
    assert lines[2].startswith('~meddle → any word with the stem "meddl"')


def test_a_word_class_inside_an_or_group_is_a_near_operand() -> None:
    node = parse_query("(spin OR @wrongdoing) NEAR/5 @us", catalogue())
    assert isinstance(node, Near)
    assert [operand.label for operand in node.left] == ["spin", "~meddle", '"war crime*"', "brib*"]


def test_every_labelled_file_is_a_named_set() -> None:
    """A new labelled file joins LABELLED_SETS (the equivalence check and benchmarks use it)."""
    files = {DEV_SET, *DATA.glob("guideline_*.jsonl")}
    assert set(LABELLED_SETS.values()) == files
