"""Entity classes: the shipped catalogue, capitals, longest names, money, and the file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import ConfigError, RuleSyntaxError
from bot.core.text import FieldTokens
from filters.entities import MoneyClass, NameClass, name_class, name_shapes
from filters.entities_file import default_catalogue, iso_short_names, load_catalogue
from filters.query import parse_query
from filters.query_ast import describe


def found(class_name: str, text: str) -> list[tuple[str, str]]:
    field = FieldTokens(text)
    entity_class = default_catalogue().get(class_name)
    assert entity_class is not None
    return [(field.original(s.first, s.last), s.entity) for s in entity_class.spans(field)]


@pytest.mark.parametrize(
    ("class_name", "text", "expected"),
    [
        ("country", "Belgium pledges aid", [("Belgium", "Belgium")]),
        ("country", "the Belgian prime minister", [("Belgian", "Belgium")]),
        ("country", "talks in Brussels", [("Brussels", "Belgium")]),
        ("country", "Iran, Islamic Republic of", [("Iran", "Iran")]),
        (
            "country",
            "Papua New Guinea and Guinea",
            [("Papua New Guinea", "Papua New Guinea"), ("Guinea", "Guinea")],
        ),
        ("country", "Côte d’Ivoire", [("Côte d’Ivoire", "Ivory Coast")]),
        ("country", "Russia's Kremlin", [("Russia", "Russia"), ("Kremlin", "Russia")]),
        ("country", "Kosovo's premier", [("Kosovo", "Kosovo")]),
        ("country", "a roast turkey and fine china", []),
        ("country", "Turkey and China", [("Turkey", "Turkey"), ("China", "China")]),
        ("country", "polish the silver", []),
        ("country", "New Jersey", []),
        (
            "us",
            "tell us about the U.S. and the US",
            [("U.S", "United States"), ("US", "United States")],
        ),
        (
            "us",
            "the White House and the Pentagon",
            [("White House", "White House"), ("Pentagon", "Pentagon")],
        ),
        ("us", "CIA director", [("CIA", "CIA")]),
        # Names that contain a US name but are not the US state (`others`).
        ("us", "star slams US Open organisers", []),
        ("us", "blames U.S. Steel union", []),
        ("us", "strong US dollar, US stocks and US Treasury yields", []),
        ("us", "detains US-born dancer and a dual US-Iranian national", []),
        ("us", "Bank of America and the Washington Post", []),
        ("us", "talks in Washington failed", []),
        ("us", "the US is open to talks", [("US", "United States")]),
        ("us", "US Treasury sanctions", [("US", "United States")]),
        ("us", "hawks in Washington", [("Washington", "United States")]),
        ("us", "US-backed forces and American tourists", []),
        ("us", "American forces", [("American forces", "Pentagon")]),
        (
            "org",
            "WHO said who knows; Nato and NATO",
            [("WHO", "WHO"), ("Nato", "NATO"), ("NATO", "NATO")],
        ),
        ("org", "the EU and the IMF", [("EU", "European Union"), ("IMF", "IMF")]),
    ],
)
def test_name_classes(class_name: str, text: str, expected: list[tuple[str, str]]) -> None:
    assert found(class_name, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a $2.6 billion package", ["$2.6 billion"]),
        ("€500m for Kyiv", ["€500m"]),
        ("£1.2bn and 1.2bn euros", ["£1.2bn", "1.2bn euros"]),
        ("US$3 million, 75 billion kroner", ["US$3 million", "75 billion kroner"]),
        ("5 billion crowns, 300 million zlotys", ["5 billion crowns", "300 million zlotys"]),
        ("10 billion won, 2 million shillings", ["10 billion won", "2 million shillings"]),
        ("billions of dollars in aid", ["billions of dollars"]),
        ("a billion dollars", ["a billion dollars"]),
        ("C$500m", ["C$500m"]),
        ("5 million people, 12 drones, 2024", []),
        # ISO 4217 codes (pycountry) count in capitals and with a scale
        ("Norway commits NOK 75bn, Poland PLN 1.2 billion", ["NOK 75bn", "PLN 1.2 billion"]),
        ("2.5 billion SEK for Kyiv", ["2.5 billion SEK"]),
        ("nok 75bn, TOP 10 STORIES, ALL 5 KILLED, AMD 7nm chips, CAD 2", []),
        # the rand's R, in capitals and with a scale
        ("Germany pledges R12bn; R1.5 billion more", ["R12bn", "R1.5 billion"]),
        ("R2-D2, r12bn, R&D of R 5", []),
    ],
)
def test_money(text: str, expected: list[str]) -> None:
    assert [entity for _, entity in found("money", text)] == expected


def test_money_spans_cover_the_tokens_of_the_amount() -> None:
    field = FieldTokens("pledged $2.6 billion to Ukraine")
    (span,) = MoneyClass().spans(field)
    assert field.original(span.first, span.last) == "2.6 billion"


def test_shapes_of_names() -> None:
    assert name_shapes("US") == (2,)
    assert name_shapes("U.S.") == (1, 1)
    assert name_shapes("Dar es Salaam") == (1, 0, 1)


def test_shipped_catalogue_has_every_iso_country() -> None:
    import pycountry

    country = default_catalogue().get("country")
    assert isinstance(country, NameClass)
    entities = set(country.entities())
    assert len(entities) >= len(pycountry.countries)
    assert {"Belgium", "Russia", "United States", "Kosovo", "Tuvalu"} <= entities
    catalogue = default_catalogue()
    assert sorted(catalogue.classes) == [
        "abroad",
        "country",
        "leader",
        "money",
        "official",
        "org",
        "us",
    ]
    assert catalogue.names == sorted([*catalogue.classes, *catalogue.words])


def test_iso_short_names() -> None:
    assert iso_short_names("Korea, Republic of", "Holy See (Vatican City State)") == [
        "Korea",
        "Holy See",
    ]
    assert iso_short_names("the State of Palestine") == ["State of Palestine"]


def test_additions_extend_a_class() -> None:
    catalogue = default_catalogue().with_names([("country", "Somaliland", "Somaliland")])
    field = FieldTokens("Somaliland votes")
    country = catalogue.get("country")
    assert country is not None
    assert [s.entity for s in country.spans(field)] == ["Somaliland"]
    assert default_catalogue().get("country") is not country


def test_unknown_class_is_a_syntax_error_with_the_known_ones() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_query("aid NEAR @countries")
    assert caught.value.column == 10
    assert "@country" in caught.value.hint


def test_name_class_drops_empty_names() -> None:
    made = name_class("x", "", [("!!", "x"), ("Ab", "Ab")])
    assert [name.text for name in made.names] == ["Ab"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "entities.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nothing: here\n", 'top-level "classes:"'),
        ("classes:\n  money: {entries: {a: [b]}}\n", "money is built in"),
        ("classes:\n  Bad: {entries: {a: [b]}}\n", "lowercase name"),
        ("classes:\n  x: {entries: {a: [b]}, colour: red}\n", 'unknown key "colour"'),
        ("classes:\n  x: {entries: {a: b}}\n", "needs a list of names"),
        ("classes:\n  x: {entries: {a: [A, Same], b: [B, Same]}}\n", "listed for both"),
        ("classes:\n  x: {others: B, entries: {a: [A]}}\n", "others: expected a list"),
        ("classes:\n  x: {others: [A], entries: {a: [A]}}\n", "both a name and in others"),
        ("classes: [\n", "invalid YAML"),
        ("classes:\n  x: {like: y}\n", "like: 'y' is not a class"),
        (
            "classes:\n  y: {entries: {a: [A]}}\n  x: {like: y, without: [b]}\n",
            "'b' is not an entry",
        ),
        ("classes:\n  y: {entries: {a: [A]}}\n  x: {like: y, entries: {}}\n", "drop them"),
        ("classes:\n  y: {entries: {a: [A]}}\n  x: {without: [a]}\n", "without: needs like:"),
        ("classes:\n  y: {entries: {a: [A]}}\n  x: {like: y}\n  z: {like: x}\n", "not a class"),
    ],
)
def test_bad_entities_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_catalogue(write(tmp_path, text))


def test_a_custom_class_from_a_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "classes:\n  militia:\n    description: armed groups\n"
        "    exclude: [Ansar]\n    entries:\n      Houthis: [Houthis, Ansar Allah, Ansar]\n",
    )
    catalogue = load_catalogue(path)
    militia = catalogue.get("militia")
    assert militia is not None
    field = FieldTokens("Ansar Allah, the Houthis, Ansar")
    assert [s.entity for s in militia.spans(field)] == ["Houthis", "Houthis"]
    node = parse_query("@militia NEAR/3 drone*", catalogue)
    assert describe(node) == "(NEAR/3 @militia drone*)"


def test_a_class_like_another_without_some_entries(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "classes:\n  country:\n    others: [US Open]\n    entries:\n"
        "      US: [United States, US, Washington]\n      RU: [Russia, Kremlin]\n"
        "  abroad:\n    like: country\n    without: [US]\n",
    )
    abroad = load_catalogue(path).get("abroad")
    assert isinstance(abroad, NameClass)
    field = FieldTokens("The Kremlin and Washington; US Open in Russia")
    assert [s.entity for s in abroad.spans(field)] == ["Russia", "Russia"]


def test_the_shipped_abroad_class_is_every_country_but_the_us() -> None:
    text = "Russia, the United States of America, America, Americans, the US, Washington"
    assert found("abroad", text) == [("Russia", "Russia")]
    assert len(found("country", text)) == 6
    assert found("abroad", "Cuba, Havana, Mexico City") == found(
        "country", "Cuba, Havana, Mexico City"
    )


def test_other_names_win_as_the_longest_and_match_nothing(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "classes:\n  us:\n    others: [US Open, dual US]\n"
        "    entries:\n      United States: [United States, US]\n",
    )
    us = load_catalogue(path).get("us")
    assert isinstance(us, NameClass)
    field = FieldTokens("US Open: the US and a dual US-Swiss national; US open to talks")
    assert [field.original(s.first, s.last) for s in us.spans(field)] == ["US", "US"]
    # Only members anchor the prefilter; "dual" alone is no reason to look.
    assert us.first_tokens() == frozenset({"united", "us"})
    assert "not: US Open, dual US" in us.summary()
    # Admins' additions keep the class's other names.
    grown = load_catalogue(path).with_names([("us", "Pentagon", "Pentagon")]).get("us")
    assert isinstance(grown, NameClass)
    assert [s.entity for s in grown.spans(FieldTokens("US Open, Pentagon"))] == ["Pentagon"]


def test_the_prefilter_lets_through_an_amount_in_an_iso_code() -> None:
    # The rule index scans folded (lower-case) text for @money's anchor: the
    # capitals-only codes must not make it skip a story the pattern matches.
    from datetime import UTC, datetime

    from bot.core.model import Rule, Story
    from filters.rule_index import RuleIndex

    index = RuleIndex.build(
        [Rule(name="aid", query="@money NEAR/4 ~commit")], entities=default_catalogue()
    )
    now = datetime(2026, 12, 3, tzinfo=UTC)
    story = Story(
        key="k", title="Norway commits NOK 75bn to Ukraine", summary="", content="",
        url="", canonical_url="", publisher="probe", published=now, fetched_at=now,
    )  # fmt: skip
    assert [match.rule for match in index.match(story)] == ["aid"]
