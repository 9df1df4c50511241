"""Table tests for tokenising and parsing the watch-rule language."""

from __future__ import annotations

import pytest

from bot.core.errors import RuleSyntaxError
from bot.core.text import fold, fold_with_offsets, iter_tokens
from filters.query import lex_query, parse_query
from filters.query_ast import Regex, Term, describe


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Kyiv", ["kyiv"]),
        ("Café CAFÉ cafe\u0301", ["cafe", "cafe", "cafe"]),
        ("drone-strike", ["drone", "strike"]),
        ("Russia's and Russia’s", ["russia", "and", "russia"]),
        ("don't", ["don", "t"]),
        ("$2.6 billion", ["2", "6", "billion"]),
        ("snake_case", ["snake", "case"]),
        ("Straße ﬁnal", ["strasse", "final"]),
        ("Zürich, Łódź!", ["zurich", "łodz"]),
        ("", []),
        ("--- ... !!!", []),
    ],
)
def test_tokens(text: str, tokens: list[str]) -> None:
    assert [token.text for token in iter_tokens(text)] == tokens


def test_token_spans_point_at_original_text_without_possessive() -> None:
    text = "Russia's drone-strike"
    assert [text[t.start : t.end] for t in iter_tokens(text)] == ["Russia", "drone", "strike"]


@pytest.mark.parametrize(
    ("text", "folded"),
    [("KYIV", "kyiv"), ("Café", "cafe"), ("Straße", "strasse"), ("Ærø", "ærø")],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_with_offsets_maps_back_to_original() -> None:
    folded, offsets = fold_with_offsets("Straße café")
    assert folded == "strasse cafe"
    start = folded.index("cafe")
    assert offsets[start] == 7
    assert offsets[folded.index("ss") + 1] == 4


@pytest.mark.parametrize(
    ("query", "shape"),
    [
        ("drone", "drone"),
        ("drone strike*", "(AND drone strike*)"),
        ("drone AND strike", "(AND drone strike)"),
        ("a OR b c", "(OR a (AND b c))"),
        ("a b OR c", "(OR (AND a b) c)"),
        ("(a OR b) c", "(AND (OR a b) c)"),
        ("NOT a b", "(AND (NOT a) b)"),
        ("b -a", "(AND b (NOT a))"),
        ('b -"a c"', '(AND b (NOT "a c"))'),
        ("b -(a OR c)", "(AND b (NOT (OR a c)))"),
        ("b NOT NOT a", "(AND b (NOT (NOT a)))"),
        ('"drone strike*"', '"drone strike*"'),
        ("“drone strike”", '"drone strike"'),
        ("drone-strike", "drone-strike"),
        ("title:drone", "title:drone"),
        ('title:"drone strike"', 'title:"drone strike"'),
        ("title:(drone OR uav)", "(OR title:drone title:uav)"),
        ("Title:drone", "title:drone"),
        ("publisher:reuters url:ukraine", "(AND publisher:reuters url:ukraine)"),
        ("drone NEAR strike", "(NEAR/10 drone strike)"),
        ("drone NEAR/3 strike*", "(NEAR/3 drone strike*)"),
        ('(drone OR uav) NEAR/5 "air strike"', '(NEAR/5 (OR drone uav) "air strike")'),
        ("title:(drone NEAR/2 strike)", "(NEAR/2 title:drone title:strike)"),
        ("title:drone NEAR strike", "(NEAR/10 title:drone strike)"),
        ("NOT x NEAR y z", "(AND (NOT (NEAR/10 x y)) z)"),
        ("re:/kyiv|kiev/", "re:/kyiv|kiev/"),
        ("title:re:/a\\/b/", "title:re:/a\\/b/"),
        ("re:/(drone|missile) attack/ -drill", "(AND re:/(drone|missile) attack/ (NOT drill))"),
        ("sentence:(a -b)", "(SENTENCE (AND a (NOT b)))"),
        ("Sentence:(a) c", "(AND (SENTENCE a) c)"),
        ("sentence:(title:a NEAR b) OR c", "(OR (SENTENCE (NEAR/10 title:a b)) c)"),
        # -!( … ): the sentence veto plus the same veto on the whole title, as written out
        (
            "sentence:(a -!(b NEAR c))",
            "(AND (SENTENCE (AND a (NOT (NEAR/10 b c)))) (NOT (NEAR/10 title:b title:c)))",
        ),
        (
            "sentence:(a -!(b -c) -!(d)) e",
            "(AND (AND (SENTENCE (AND a (NOT (AND b (NOT c))) (NOT d)))"
            " (NOT (AND title:b (NOT title:c))) (NOT title:d)) e)",
        ),
        ("and or not", "(AND and or not)"),
        ("NEARBY", "NEARBY"),
        ("10:30", "10:30"),
    ],
)
def test_parse_shapes(query: str, shape: str) -> None:
    assert describe(parse_query(query)) == shape


@pytest.mark.parametrize(
    ("query", "patterns"),
    [
        ("strike*", [("strike", True)]),
        ("Russia's", [("russia", False)]),
        ("drone-strike*", [("drone", False), ("strike", True)]),
        ('"Drone strike* Kyïv"', [("drone", False), ("strike", True), ("kyiv", False)]),
        ("$2.6", [("2", False), ("6", False)]),
    ],
)
def test_term_tokens_fold_like_story_text(query: str, patterns: list[tuple[str, bool]]) -> None:
    node = parse_query(query)
    assert isinstance(node, Term)
    assert [(p.text, p.prefix) for p in node.tokens] == patterns


def test_regex_is_case_insensitive_and_accent_folded() -> None:
    node = parse_query("re:/Café\\s+attack/")
    assert isinstance(node, Regex)
    assert node.compiled.search("cafe   attack") is not None


@pytest.mark.parametrize(
    ("query", "column", "message", "hint"),
    [
        ("", 1, "empty query", "at least one term"),
        ("   ", 1, "empty query", "at least one term"),
        ("(drone OR uav", 1, 'unbalanced "("', 'add ")"'),
        ("drone OR uav)", 13, 'unbalanced ")"', 'add "(" before it'),
        ("a (b))", 6, 'unbalanced ")"', "remove it"),
        ("drone ()", 7, "empty parentheses", "put terms inside"),
        ("drone AND", 7, 'dangling "AND"', 'after "AND"'),
        ("drone OR", 7, 'dangling "OR"', 'after "OR"'),
        ("drone NOT", 7, 'dangling "NOT"', 'after "NOT"'),
        ("(drone OR) uav", 8, 'dangling "OR"', 'after "OR"'),
        ("OR drone", 1, '"OR" needs a term before it', "put a term before it"),
        ("drone OR AND uav", 10, '"OR" cannot be followed by "AND"', 'after "OR"'),
        ("drone - uav", 7, 'a lone "-"', "-training"),
        ('drone "strike', 7, "unterminated quote", 'closing "'),
        ('drone ""', 7, "an empty phrase", "between the quotes"),
        ("$$$", 1, "has no letters or digits", "remove it"),
        ("foo:bar", 1, 'unknown field "foo:"', "title:, summary:, content:, publisher:, url:"),
        ("drone NEAR/x strike", 12, 'bad proximity "NEAR/x"', "NEAR/5"),
        ("drone NEAR/0 strike", 12, 'bad proximity "NEAR/0"', "from 1 to 100"),
        ("drone NEAR/101 strike", 12, 'bad proximity "NEAR/101"', "from 1 to 100"),
        ("drone NEAR", 7, 'dangling "NEAR"', 'after "NEAR"'),
        ("a NEAR b NEAR c", 10, "NEAR joins exactly two operands", "combine with AND"),
        (
            "(a b) NEAR c",
            2,
            "NEAR joins terms, phrases, @classes or (a OR b)",
            "move other conditions",
        ),
        ("a NEAR -b", 8, '"NEAR" cannot be followed by "-"', 'after "NEAR"'),
        ("title:a NEAR url:b", 9, "NEAR operands never share a field", "same field"),
        ("st*", 1, 'wildcard "st*" is too short', "at least 3 letters"),
        ('"drone s*"', 8, 'wildcard "s*" is too short', "at least 3 letters"),
        ("dro*ne", 4, 'a "*" inside a word', "only ends a word"),
        ("* drone", 1, "has no letters or digits", "remove it"),
        ('"drone * strike"', 8, 'a "*" that does not end a word', "right after"),
        ("title:(summary:drone)", 8, 'field scope "summary:" inside', "scope each term"),
        ("title:sentence:(a b)", 7, '"sentence:" inside a field scope', "inside it"),
        ("sentence:(a sentence:(b))", 13, '"sentence:" inside another', "drop the inner"),
        ("a sentence:b", 3, '"sentence:" needs a group', "sentence:(drone"),
        ("sentence:", 1, '"sentence:" needs a group', "sentence:(drone"),
        ("drone -!(footage)", 7, '"-!(…)" outside sentence:(…)', "-title:(…)"),
        (
            "sentence:(title:(a -!(b)))",
            20,
            '"-!(…)" outside sentence:(…)',
            "inside a sentence group",
        ),
        ("sentence:(drone -!footage)", 17, '"-!" needs a group', "-!(drone NEAR/3"),
        ("sentence:(-a)", 11, "no positive term", "add a positive term"),
        ("-sentence:(a)", 1, "no positive term", "add a positive term"),
        ("title:", 1, 'dangling "title:"', 'after "title:"'),
        ("re:drone", 1, "re: needs a /pattern/", "re:/pattern/"),
        ("x re:/drone", 3, "unterminated regex", "close it with /"),
        ("re:/drone/i", 11, 'unexpected "i" after the regex', "take no flags"),
        ("x re:/a(?=b)/", 8, "invalid regex", "no lookaround"),
        ("x re:/dr(one/", 7, "invalid regex", "RE2"),
        ("re:/(drone)?/", 5, "regex matches empty text", "at least one character"),
        ("NOT drone", 1, "no positive term", "add a positive term"),
        ("-drone -uav", 1, "no positive term", "add a positive term"),
        ("drone OR -uav", 10, "no positive term", "add a positive term"),
        ("-(a b)", 1, "no positive term", "add a positive term"),
        ("(" * 33 + "a" + ")" * 33, 33, "nested more than 32 levels deep", "flatten"),
        ("a " + "NOT " * 33 + "b", 131, "nested more than 32 levels deep", "flatten"),
    ],
)
def test_syntax_errors(query: str, column: int, message: str, hint: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_query(query)
    error = caught.value
    assert (error.column, error.query) == (column, query)
    assert message in error.message
    assert hint in error.hint


def test_deep_but_allowed_nesting_parses() -> None:
    assert describe(parse_query("(" * 32 + "a" + ")" * 32)) == "a"


def test_error_names_rule_and_points_at_column() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_query("drone OR uav)")
    error = caught.value.with_rule("drone_strike")
    assert str(error).startswith("rule 'drone_strike': column 13: unbalanced \")\" — ")
    assert error.pointer() == "drone OR uav)\n            ^"


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        ('title:"a b" OR -c', ["field", "phrase", "OR", "-", "word"]),
        (
            "(a NEAR/3 b) AND NOT re:/x y/",
            ["(", "word", "NEAR", "word", ")", "AND", "NOT", "regex"],
        ),
    ],
)
def test_lexer_kinds(query: str, kinds: list[str]) -> None:
    assert [lexeme.kind for lexeme in lex_query(query)] == kinds
