"""Entity classes of the rule language: `@country`, `@us`, `@org`, `@money`.

A class term in a query matches any member of the class where a word would
match, and NEAR treats it like a phrase. Two kinds exist:

- a **name class** (`@country`, `@us`, `@org`, and any class
  `config/entities.yaml` defines) is a list of names, each a phrase of folded
  tokens. Names are found by walking a token trie from each position, so a
  field costs one dictionary step per token (times the few tokens of the
  longest name that starts there); the longest name wins and occurrences do
  not overlap. Names are proper nouns, so capitals count (see `name_shapes`):
  "Turkey" is a country and "turkey" is not, "US" is the United States and
  "us" is not. A class may also list **other names**: longer names that
  contain a member but stand for something else ("US Open", "U.S. Steel",
  "US dollar", "Bank of America"). They compete for the longest name like
  members do, and where one wins nothing of the class matches there.
- the **money class** (`@money`) is one RE2 pattern over the field's text:
  `$2.6 billion`, `€500m`, `£1.2bn`, `US$3 million`, `1.2bn euros`,
  `75 billion kroner`, `billions of dollars`, and any ISO 4217 code of pycountry's
  currency table in capitals with a scale (`NOK 75bn`, `2.5 billion SEK`).

Each class gives the prefilter an anchor (`anchor`): a name class offers the
first tokens of its names, money its pattern, so a rule using a class is
still indexed like any other. `spans` are computed once per field and class
and cached on the field.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import re2

from bot.core.text import FieldTokens, iter_tokens

ANY_CASE, CAPITALISED, ALL_CAPITALS = 0, 1, 2
"""What a story word must look like to match a name's word written a certain way."""


@dataclass(frozen=True, slots=True)
class EntityName:
    """One name of an entity: `U.S.` for the United States, `Brussels` for Belgium."""

    text: str
    """As written in the catalogue."""
    entity: str
    """What the name stands for, shown in explanations: `Belgium`."""
    tokens: tuple[str, ...]
    shapes: tuple[int, ...]
    """Per token: ANY_CASE, CAPITALISED or ALL_CAPITALS (see `name_shapes`)."""


@dataclass(frozen=True, slots=True)
class EntitySpan:
    """One occurrence of a class member in a field: token positions first..last."""

    first: int
    last: int
    entity: str


def name_shapes(text: str) -> tuple[int, ...]:
    """How each token of a name must be written in a story to match.

    A word written in capitals of two or more letters is an acronym (US, UN,
    WHO): the story must write it in capitals too. A capitalised word
    (Turkey, Polish, U.S.) needs a capital first letter. Anything else
    (the `es` of Dar es Salaam) matches in any case.
    """
    shapes: list[int] = []
    for token in iter_tokens(text):
        original = text[token.start : token.end]
        letters = [char for char in original if char.isalpha()]
        if len(letters) >= 2 and original.isupper():
            shapes.append(ALL_CAPITALS)
        elif original[:1].isupper():
            shapes.append(CAPITALISED)
        else:
            shapes.append(ANY_CASE)
    return tuple(shapes)


def make_name(text: str, entity: str) -> EntityName | None:
    """The name as the matcher reads it, or None if it has no letters or digits."""
    tokens = tuple(token.text for token in iter_tokens(text))
    if not tokens:
        return None
    return EntityName(text.strip(), entity, tokens, name_shapes(text))


def _written_as(field: FieldTokens, position: int, shape: int) -> bool:
    if shape == ANY_CASE:
        return True
    start, end = field.spans[position]
    original = field.text[start:end]
    return original.isupper() if shape == ALL_CAPITALS else original[:1].isupper()


class EntityClass(Protocol):
    """What the parser, evaluator, index and `rules check` need of a class."""

    name: str
    description: str

    def spans(self, field: FieldTokens) -> list[EntitySpan]:
        """Every occurrence in the field, in order, not overlapping."""
        ...

    def anchor(self) -> tuple[str, str]:
        """The prefilter anchor: (`c`, class name) or (`r`, RE2 pattern)."""
        ...

    def first_tokens(self) -> frozenset[str]:
        """Tokens a member can start with (empty for a pattern class)."""
        ...

    def summary(self, examples: int = 6) -> str:
        """One line: how many members and a few examples."""
        ...


@dataclass
class _TrieNode:
    children: dict[str, _TrieNode] = field(default_factory=dict)
    names: list[tuple[EntityName, bool]] = field(default_factory=list)
    """Names ending here, each with whether it is a member (False: an other name)."""


class NameClass:
    """A class made of names (countries, US organs, organisations).

    `others` are names that are not members although they contain one ("US
    Open" in `@us`): where one is the longest name, nothing matches there.
    """

    def __init__(
        self,
        name: str,
        description: str,
        names: Iterable[EntityName],
        others: Iterable[EntityName] = (),
    ) -> None:
        self.name = name
        self.description = description
        self.names: tuple[EntityName, ...] = tuple(dict.fromkeys(names))
        self.others: tuple[EntityName, ...] = tuple(dict.fromkeys(others))
        self._root = _TrieNode()
        for entry, member in [
            *((entry, True) for entry in self.names),
            *((entry, False) for entry in self.others),
        ]:
            node = self._root
            for token in entry.tokens:
                node = node.children.setdefault(token, _TrieNode())
            node.names.append((entry, member))
        self._first = frozenset(entry.tokens[0] for entry in self.names)

    def anchor(self) -> tuple[str, str]:
        return ("c", self.name)

    def first_tokens(self) -> frozenset[str]:
        return self._first

    def entities(self) -> list[str]:
        """The distinct entities, in catalogue order."""
        return list(dict.fromkeys(entry.entity for entry in self.names))

    def summary(self, examples: int = 6) -> str:
        shown = ", ".join(entry.text for entry in self.names[:examples])
        count = f"{len(self.names)} names of {len(self.entities())} entities"
        line = f"@{self.name}: {count} ({shown}, …)"
        if self.others:
            line += f"; not: {', '.join(entry.text for entry in self.others[:3])}, …"
        return line

    def spans(self, field: FieldTokens) -> list[EntitySpan]:
        key = ("entity", self.name, id(self))
        cached = field.derived.get(key)
        if cached is None:
            cached = self._scan(field)
            field.derived[key] = cached
        return list(cached)

    def _scan(self, field: FieldTokens) -> list[EntitySpan]:
        tokens = field.tokens
        found: list[EntitySpan] = []
        position = 0
        while position < len(tokens):
            longest = self._longest_at(field, position)
            if longest is None:
                position += 1
                continue
            last, entry, member = longest
            if member:
                found.append(EntitySpan(position, last, entry.entity))
            position = last + 1
        return found

    def _longest_at(self, field: FieldTokens, start: int) -> tuple[int, EntityName, bool] | None:
        """The longest name starting at `start`: its last position, the name, whether a member."""
        tokens = field.tokens
        node = self._root.children.get(tokens[start])
        position = start
        best: tuple[int, EntityName, bool] | None = None
        while node is not None:
            for entry, member in node.names:
                if all(
                    _written_as(field, start + offset, shape)
                    for offset, shape in enumerate(entry.shapes)
                ):
                    best = (position, entry, member)
                    break
            position += 1
            if position >= len(tokens):
                break
            node = node.children.get(tokens[position])
        return best


_NUMBER = r"\d+(?:[.,]\d+)*"
_SCALE = r"(?:trillion|billion|million|thousand|tn|bn|mn|m|k|crore|lakh)"
_SYMBOL = r"(?:(?:us|a|c|nz|hk|r|s)?[$€£¥₹₩₽₴]|(?:usd|eur|gbp|jpy|chf|cny|rmb|inr|rs\.?)\s?)"
_CURRENCY = (
    r"(?:dollars?|euros?|pounds?|sterling|yen|yuan|renminbi|rupees?|francs?|kronor|kroner|krona"
    r"|krone|roubles?|rubles?|hryvnias?|shekels?|riyals?|dirhams?|pesos?|reais|liras?|rand"
    r"|naira|dinars?|crowns?|koruna|korun|zlotys?|zloty|forints?|won|ringgits?|baht|taka"
    r"|rupiahs?|shillings?|cedis?|kwacha|leva|lei|tenge|manats?|birr|lari|drams?)"
)
_COUNT = r"(?:a|one|two|three|four|five|six|seven|eight|nine|ten|several|hundreds of|tens of)"
_WORD_LIKE_CODES = frozenset({"ALL", "AMD", "BOB", "CUP", "GEL", "MAD", "MOP", "PEN", "SOS", "TOP"})
"""ISO 4217 codes that are also words or names written in capitals ("ALL 5 KILLED", "AMD")."""


def _iso_currency_codes() -> str:
    """The ISO 4217 codes of pycountry's currency table, upper case only, as one
    RE2 alternation: codes of funds, metals and testing (X…) and word-like codes left out."""
    import pycountry

    codes = sorted(
        code
        for code in (currency.alpha_3 for currency in pycountry.currencies)
        if not code.startswith("X") and code not in _WORD_LIKE_CODES
    )
    return "(?-i:" + "|".join(codes) + ")"


_ISO_CODE = _iso_currency_codes()
MONEY_PATTERN = (
    rf"{_SYMBOL}\s?{_NUMBER}(?:\s?{_SCALE}\b)?"
    rf"|\b{_NUMBER}\s?(?:{_SCALE}\s?)?{_CURRENCY}\b"
    rf"|\b(?:{_COUNT}\s)?(?:trillion|billion|million)s?\s(?:of\s|in\s)?{_CURRENCY}\b"
    rf"|\b{_ISO_CODE}\s?{_NUMBER}\s?{_SCALE}\b"
    rf"|\b{_NUMBER}\s?{_SCALE}\s?{_ISO_CODE}\b"
    rf"|\b(?-i:R)\s?{_NUMBER}\s?{_SCALE}\b"
)
"""An amount of money, case-insensitive (RE2 syntax) except for ISO 4217 codes, which
count in capitals and with a scale only ("NOK 75bn", "2.5 billion SEK", not "TOP 10");
so does the South African rand's R ("R12bn", "R1.5 billion", not "R2-D2")."""
MONEY_ANCHOR = MONEY_PATTERN.replace("(?-i:", "(?:")
"""The prefilter's form of MONEY_PATTERN: it scans folded (lower-case) text, so the
codes match in any case there; a story it lets through is then checked by the pattern."""


def _compile(pattern: str) -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return re2.compile(pattern, options)


class MoneyClass:
    """`@money`: an amount with a currency, found by one RE2 pattern per field."""

    name = "money"
    description = "amounts of money: $2.6 billion, €500m, 1.2bn euros"

    def __init__(self) -> None:
        self._pattern = _compile(MONEY_PATTERN)

    def anchor(self) -> tuple[str, str]:
        return ("r", MONEY_ANCHOR)

    def first_tokens(self) -> frozenset[str]:
        return frozenset()

    def summary(self, examples: int = 6) -> str:
        return f"@money: {self.description}"

    def spans(self, field: FieldTokens) -> list[EntitySpan]:
        key = ("entity", self.name, id(self))
        cached = field.derived.get(key)
        if cached is None:
            cached = self._scan(field)
            field.derived[key] = cached
        return list(cached)

    def _scan(self, field: FieldTokens) -> list[EntitySpan]:
        if not field.tokens:
            return []
        starts = [start for start, _ in field.spans]
        ends = [end for _, end in field.spans]
        found: list[EntitySpan] = []
        for match in self._pattern.finditer(field.text):
            start, end = match.span()
            first = bisect_right(ends, start)
            last = bisect_left(starts, end) - 1
            if first <= last and (not found or first > found[-1].last):
                found.append(EntitySpan(first, last, " ".join(match.group().split())))
        return found


@dataclass(frozen=True)
class EntityCatalogue:
    """Every entity class by name; what `@name` in a query refers to."""

    classes: Mapping[str, EntityClass]
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Word classes: a name to its member query terms (`~meddle`, `"war crime*"`, `@org`).

    The parser expands `@name` into the OR of the members, so matching never sees them.
    """
    expansions: dict[tuple[str, tuple[str, ...]], tuple[Any, ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    """Each word class's parsed members per field scope, shared by every rule using it:
    10,000 rules on a 74-term class would otherwise each hold their own copy."""

    def get(self, name: str) -> EntityClass | None:
        """The class called `name` (without the `@`), if there is one."""
        return self.classes.get(name)

    @property
    def names(self) -> list[str]:
        """Class names, sorted, for hints and listings."""
        return sorted([*self.classes, *self.words])

    def with_names(self, additions: Iterable[tuple[str, str, str]]) -> EntityCatalogue:
        """A catalogue with more names: (class, name, entity) triples, e.g. admins' additions.

        Additions to an unknown class or to `@money` are ignored (the store
        refuses them first); a name without letters or digits is skipped.
        """
        extra: dict[str, list[EntityName]] = {}
        words = {name: list(terms) for name, terms in self.words.items()}
        for class_name, text, entity in additions:
            if class_name in words:
                if text not in words[class_name]:
                    words[class_name].append(text)
                continue
            made = make_name(text, entity or text)
            if made is not None:
                extra.setdefault(class_name, []).append(made)
        classes: dict[str, EntityClass] = dict(self.classes)
        for class_name, names in extra.items():
            current = classes.get(class_name)
            if isinstance(current, NameClass):
                classes[class_name] = NameClass(
                    class_name, current.description, (*current.names, *names), current.others
                )
        return EntityCatalogue(classes, {name: tuple(terms) for name, terms in words.items()})


def name_class(
    name: str,
    description: str,
    entries: Sequence[tuple[str, str]],
    others: Sequence[str] = (),
) -> NameClass:
    """A name class from (name, entity) pairs and other names; names without letters are dropped."""
    made = (make_name(text, entity) for text, entity in entries)
    unlike = (make_name(text, f"not @{name}") for text in others)
    return NameClass(
        name,
        description,
        (entry for entry in made if entry is not None),
        (entry for entry in unlike if entry is not None),
    )
