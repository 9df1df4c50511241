"""The watch-rule query language: the parser (`parse_query`; the lexer is `query_lexer`).

    drone strike*                 both (adjacency is AND)
    "drone strike*" OR uav        a phrase, or a word
    title:(drone OR uav) -drill   field scope; `-x` is NOT x
    sentence:(@us BEFORE/8 @wrongdoing -(@us BEFORE/2 @say_verb))
                                  all within one sentence, the exclusion too
    drone NEAR/5 (strike OR attack)
    summary:re:/\\b\\d+ killed/      RE2, case-insensitive, on folded text
    ~accuse NEAR/4 @us            a stem (accused, accusing, accusation), an entity class

Precedence, tightest first: field scope, NEAR, NOT / `-`, AND (or
adjacency), OR — so `a OR b c` is `a OR (b AND c)` and `NOT a NEAR b` is
`NOT (a NEAR b)`. Keywords are upper case; `and` is an ordinary word.

Terms fold like story text (see `bot.core.text`): a word that tokenises into
several tokens (`drone-strike`, `$2.6`) is a phrase. A trailing `*` makes a
token a prefix of at least `query_ast.MIN_PREFIX` (3) characters. A leading
`~` matches by English stem (`filters.morphology`): `~pledge` is pledge,
pledges, pledged, pledging. `@name` matches any member of an entity class
(`filters.entities`): `@country`, `@us`, `@org`, `@money`. `NEAR/n`
(default 10, 1 ≤ n ≤ `MAX_NEAR`) holds when the two operands lie at most n
token positions apart, without overlapping, in the same field: `drone
NEAR/2 strike` matches "drone strike" and "drone air strike"; each operand
is a term, phrase, wildcard, stem, class or a (…) OR-group of those. Fields are `title`,
`summary`, `content`, `publisher`, `url`; an unscoped term searches title,
summary and content. A scope inside another scope is an error.
`sentence:(…)` evaluates its group against each sentence of each field
alone (`bot.core.sentences`): it matches when one sentence satisfies the
whole group, so an exclusion inside it vetoes only the sentence it is in,
not the story; field scopes may stand inside it, not around it. `re:/…/`
takes RE2 syntax (`\\/` for a slash), no flags; a regex that matches empty
text is refused. A query (or an OR branch) without a positive term is an
error, since it would match almost every story.

Every error is a `RuleSyntaxError` with the 1-based column and a hint.
"""

from __future__ import annotations

from bot.core.errors import RuleSyntaxError
from bot.core.text import DEFAULT_FIELDS
from filters.entities import EntityCatalogue
from filters.entities_file import default_catalogue
from filters.query_ast import (
    And,
    Before,
    Entity,
    Near,
    Node,
    Not,
    Operand,
    Or,
    Regex,
    Sentence,
    Term,
    build_entity,
    build_term,
    compile_regex,
    index_operands,
)
from filters.query_lexer import DEFAULT_NEAR, MAX_NEAR, Lexeme, lex_query

__all__ = ["DEFAULT_NEAR", "MAX_DEPTH", "MAX_NEAR", "lex_query", "parse_query"]

MAX_DEPTH = 32
"""Parentheses and NOTs nested deeper than this are refused (no runaway recursion)."""
_PRIMARY_KINDS = {"word", "phrase", "regex", "field", "sentence", "entity", "stem", "("}
_UNARY_KINDS = _PRIMARY_KINDS | {"NOT", "-", "-!"}


def _operator(lexeme: Lexeme | None) -> bool:
    return lexeme is not None and lexeme.kind in {
        "AND",
        "OR",
        "NOT",
        "-",
        "NEAR",
        "BEFORE",
        "field",
    }


class _Parser:
    """Recursive descent over the lexemes; one method per precedence level."""

    def __init__(
        self,
        query: str,
        lexemes: list[Lexeme],
        entities: EntityCatalogue,
        expanding: tuple[str, ...] = (),
    ) -> None:
        self.query = query
        self.expanding = expanding
        self.lexemes = lexemes
        self.entities = entities
        self.index = 0
        self.depth = 0
        self.in_sentence = False
        self.headline_vetoes: list[tuple[int, Lexeme]] = []
        """Where each `-!( … )` of the sentence group being parsed starts (lexeme index);
        sentence groups do not nest, so one list serves the group being parsed."""

    def error(self, message: str, column: int, hint: str) -> RuleSyntaxError:
        return RuleSyntaxError(message, query=self.query, column=column, hint=hint)

    def peek(self) -> Lexeme | None:
        return self.lexemes[self.index] if self.index < len(self.lexemes) else None

    def take(self) -> Lexeme:
        lexeme = self.lexemes[self.index]
        self.index += 1
        return lexeme

    def expect(self, after: Lexeme | None, kinds: set[str]) -> None:
        """Raise the clearest error when the next lexeme cannot start an operand."""
        following = self.peek()
        if following is not None and following.kind in kinds:
            return
        closing = following is None or following.kind == ")"
        if after is not None and after.kind == "(" and closing:
            if following is None:
                raise self.error('unbalanced "("', after.column, 'add ")" to close it')
            raise self.error("empty parentheses", after.column, "put terms inside or remove them")
        if closing and _operator(after):
            assert after is not None
            raise self.error(
                f'dangling "{after.text}"', after.column, f'put a term after "{after.text}"'
            )
        if following is None:
            raise self.error("empty query", 1, "write at least one term, e.g. drone strike")
        if following.kind == ")":
            raise self.error('unbalanced ")"', following.column, 'remove it or add "(" before it')
        if _operator(after):
            assert after is not None
            raise self.error(
                f'"{after.text}" cannot be followed by "{following.text}"',
                following.column,
                f'put a term, phrase or (…) after "{after.text}"',
            )
        raise self.error(
            f'"{following.text}" needs a term before it',
            following.column,
            "remove it or put a term before it",
        )

    def parse(self) -> Node:
        self.expect(None, _UNARY_KINDS)
        node = self.parse_or(None)
        leftover = self.peek()
        if leftover is not None:
            raise self.error('unbalanced ")"', leftover.column, 'remove it or add "(" before it')
        _require_positive(node, self.query)
        return node

    def parse_or(self, scope: tuple[str, ...] | None) -> Node:
        children = [self.parse_and(scope)]
        while (lexeme := self.peek()) is not None and lexeme.kind == "OR":
            self.take()
            self.expect(lexeme, _UNARY_KINDS)
            children.append(self.parse_and(scope))
        return children[0] if len(children) == 1 else Or(tuple(children), children[0].column)

    def parse_and(self, scope: tuple[str, ...] | None) -> Node:
        children = [self.parse_unary(scope)]
        while (lexeme := self.peek()) is not None:
            if lexeme.kind == "AND":
                self.take()
                self.expect(lexeme, _UNARY_KINDS)
            elif lexeme.kind not in _UNARY_KINDS:
                break
            children.append(self.parse_unary(scope))
        return children[0] if len(children) == 1 else And(tuple(children), children[0].column)

    def parse_unary(self, scope: tuple[str, ...] | None) -> Node:
        lexeme = self.take()
        if lexeme.kind == "-!":
            return self.parse_headline_veto(lexeme, scope)
        if lexeme.kind in {"NOT", "-"}:
            self.expect(lexeme, _UNARY_KINDS)
            self.enter(lexeme)
            child = self.parse_unary(scope)
            self.depth -= 1
            return Not(child, lexeme.column)
        self.index -= 1
        return self.parse_near(scope)

    def parse_near(self, scope: tuple[str, ...] | None) -> Node:
        left = self.parse_primary(scope)
        near = self.peek()
        if near is None or near.kind not in {"NEAR", "BEFORE"}:
            return left
        operands: list[Node] = [left]
        links: list[Lexeme] = []
        while (link := self.peek()) is not None and link.kind in {"NEAR", "BEFORE"}:
            if link.kind != near.kind or (link.kind == "NEAR" and len(operands) == 2):
                raise self.error(
                    "NEAR joins exactly two operands"
                    if near.kind == "NEAR"
                    else "a BEFORE chain cannot mix in NEAR",
                    link.column,
                    "combine with AND: (a NEAR b) AND (b NEAR c); chain only BEFORE: "
                    "a BEFORE/5 b BEFORE/3 c",
                )
            self.take()
            self.expect(link, _PRIMARY_KINDS)
            operands.append(self.parse_primary(scope))
            links.append(link)
        if near.kind == "NEAR":
            return self.near_node(operands[0], operands[1], near)
        return self.before_node(operands, links)

    def shared_fields(self, steps: list[tuple[Operand, ...]], at: Lexeme) -> None:
        fields = [{field for term in step for field in term.fields} for step in steps]
        if not set.intersection(*fields):
            raise self.error(
                f"{at.kind} operands never share a field",
                at.column,
                f"scope them to the same field, e.g. title:(drone {at.kind} strike)",
            )

    def before_node(self, operands: list[Node], links: list[Lexeme]) -> Before:
        steps = [self.near_operand(operand) for operand in operands]
        self.shared_fields(steps, links[0])
        distances = tuple(link.distance for link in links)
        indexes = tuple(index_operands(step) for step in steps)
        return Before(tuple(steps), distances, operands[0].column, indexes)

    def near_node(self, left: Node, right: Node, near: Lexeme) -> Near:
        left_terms = self.near_operand(left)
        right_terms = self.near_operand(right)
        self.shared_fields([left_terms, right_terms], near)
        indexes = (index_operands(left_terms), index_operands(right_terms))
        return Near(left_terms, right_terms, near.distance, left.column, indexes)

    def near_operand(self, node: Node) -> tuple[Operand, ...]:
        """A NEAR/BEFORE operand as its terms; nested OR groups (a word class
        inside `(a OR @class)`) flatten, since OR is associative."""
        if isinstance(node, Term | Entity):
            return (node,)
        flat = _or_terms(node)
        if flat is not None:
            return flat
        raise self.error(
            "NEAR joins terms, phrases, @classes or (a OR b) groups of them",
            node.column,
            "move other conditions outside: (drone NEAR strike) AND NOT drill",
        )

    def parse_primary(self, scope: tuple[str, ...] | None) -> Node:
        lexeme = self.take()
        if lexeme.kind == "sentence":
            return self.parse_sentence(lexeme, scope)
        if lexeme.kind == "field":
            if scope is not None:
                raise self.error(
                    f'field scope "{lexeme.text}" inside another field scope',
                    lexeme.column,
                    "scope each term separately, e.g. title:drone OR summary:drone",
                )
            self.expect(lexeme, _PRIMARY_KINDS - {"field"})
            return self.parse_primary((lexeme.text.removesuffix(":"),))
        if lexeme.kind == "(":
            return self.parse_group(lexeme, scope)
        fields = scope or DEFAULT_FIELDS
        if lexeme.kind == "regex":
            compiled = compile_regex(lexeme.text, query=self.query, column=lexeme.column)
            return Regex(lexeme.text, fields, lexeme.column - 4, compiled)
        if lexeme.kind == "entity" and lexeme.text in self.entities.words:
            return self.expand_words(lexeme, fields)
        if lexeme.kind == "entity":
            return build_entity(
                lexeme.text,
                fields=fields,
                catalogue=self.entities,
                query=self.query,
                column=lexeme.column,
            )
        return build_term(
            lexeme.text,
            quoted=lexeme.kind == "phrase",
            fields=fields,
            query=self.query,
            column=lexeme.column,
            stemmed=lexeme.kind == "stem",
        )

    def parse_sentence(self, lexeme: Lexeme, scope: tuple[str, ...] | None) -> Node:
        """`sentence:(…)`: the group must match inside one sentence; field scopes go inside."""
        if scope is not None:
            raise self.error(
                '"sentence:" inside a field scope',
                lexeme.column,
                "put the field scope inside it: sentence:(title:drone strike*)",
            )
        if self.in_sentence:
            raise self.error(
                '"sentence:" inside another sentence:',
                lexeme.column,
                "drop the inner one: the outer scope already keeps it to one sentence",
            )
        self.require_group(lexeme, "sentence:(drone BEFORE/3 strike* -footage)")
        self.in_sentence = True
        self.headline_vetoes = []
        child = self.parse_primary(None)
        self.in_sentence = False
        vetoes = self.headline_vetoes
        sentence = Sentence(child, lexeme.column)
        if not vetoes:
            return sentence
        resume = self.index
        in_title: list[Node] = []
        for start, marker in vetoes:
            self.index = start
            in_title.append(Not(self.parse_primary(("title",)), marker.column))
        self.index = resume
        return And((sentence, *in_title), lexeme.column)

    def parse_headline_veto(self, lexeme: Lexeme, scope: tuple[str, ...] | None) -> Node:
        """`-!( … )` in `sentence:( … )`: veto the sentence, and the whole story from the title.

        The same as writing `-( … )` inside the sentence group and `-title:( … )` beside it:
        a side remark in the summary costs only its sentence, while a headline that says it
        is what the whole story is about.
        """
        if not self.in_sentence or scope is not None:
            raise self.error(
                '"-!(…)" outside sentence:(…)',
                lexeme.column,
                "use it inside a sentence group, e.g. sentence:(drone NEAR/5 strike* "
                "-!(drone NEAR/3 deliver*)); elsewhere write -(…) or -title:(…)",
            )
        self.require_group(lexeme, "-!(drone NEAR/3 deliver*)")
        self.headline_vetoes.append((self.index, lexeme))
        self.enter(lexeme)
        child = self.parse_unary(scope)
        self.depth -= 1
        return Not(child, lexeme.column)

    def require_group(self, lexeme: Lexeme, example: str) -> None:
        """`sentence:` and `-!` take a group in parentheses: refuse anything else."""
        following = self.peek()
        if following is None or following.kind != "(":
            raise self.error(
                f'"{lexeme.text}" needs a group in parentheses', lexeme.column, f"write {example}"
            )

    def expand_words(self, lexeme: Lexeme, fields: tuple[str, ...]) -> Node:
        """`@name` of a word class: the OR of its members, as if written out here.

        Each member must be one term (word, "phrase", prefix*, ~stem or
        @class); expanded terms carry the class (`Term.word_class`), so an
        explanation reads `@wrongdoing: meddling`.
        """
        name = lexeme.text
        if name in self.expanding:
            cycle = " → ".join(f"@{n}" for n in (*self.expanding, name))
            raise self.error(
                f"word class @{name} contains itself ({cycle})",
                lexeme.column,
                f"remove @{name} from the members of @{self.expanding[-1]}",
            )
        key = (name, fields)
        shared = self.entities.expansions.get(key)
        if shared is None:
            shared = tuple(self.parse_members(lexeme, fields))
            self.entities.expansions[key] = shared
        return shared[0] if len(shared) == 1 else Or(shared, lexeme.column)

    def parse_members(self, lexeme: Lexeme, fields: tuple[str, ...]) -> list[Node]:
        """The members of the word class `lexeme` names, parsed and marked as its terms."""
        name = lexeme.text
        members: list[Node] = []
        for member in self.entities.words[name]:
            found = lex_query(member)
            plain = _PRIMARY_KINDS - {"field", "sentence", "(", "regex"}
            if len(found) != 1 or found[0].kind not in plain:
                raise self.error(
                    f"word class @{name}: {member!r} is not one query term",
                    lexeme.column,
                    f'make it a word, "phrase", prefix*, ~stem or @class (entity add {name} …)',
                )
            inner = _Parser(member, found, self.entities, (*self.expanding, name))
            node = inner.parse_primary(fields)
            members.extend(_relabel(node, name, lexeme.column))
        return members

    def parse_group(self, opening: Lexeme, scope: tuple[str, ...] | None) -> Node:
        self.expect(opening, _UNARY_KINDS)
        self.enter(opening)
        node = self.parse_or(scope)
        closing = self.peek()
        if closing is None:
            raise self.error('unbalanced "("', opening.column, 'add ")" to close it')
        self.take()
        self.depth -= 1
        return node

    def enter(self, lexeme: Lexeme) -> None:
        """Count one more level of nesting; refuse queries nested beyond MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                f"nested more than {MAX_DEPTH} levels deep",
                lexeme.column,
                "flatten the query: drop redundant parentheses and double negations",
            )


def _or_terms(node: Node) -> tuple[Operand, ...] | None:
    """The terms of an OR group of terms and OR groups, or None if it holds anything else."""
    if isinstance(node, Term | Entity):
        return (node,)
    if not isinstance(node, Or):
        return None
    found: list[Operand] = []
    for child in node.children:
        terms = _or_terms(child)
        if terms is None:
            return None
        found.extend(terms)
    return tuple(found)


def _relabel(node: Node, name: str, column: int) -> list[Node]:
    """A member's nodes, flattened out of nested word classes, terms marked as from `@name`."""
    if isinstance(node, Term):
        return [Term(node.tokens, node.fields, node.label, column, name)]
    if isinstance(node, Or):
        return list(node.children)
    return [node]


def _never_positive(node: Node) -> Node | None:
    """The part of `node` that lets it match a story with no positive term, if any."""
    if isinstance(node, Not):
        return node
    if isinstance(node, Sentence):
        return _never_positive(node.child)
    if isinstance(node, And):
        faults = [_never_positive(child) for child in node.children]
        return None if any(fault is None for fault in faults) else faults[0]
    if isinstance(node, Or):
        return next(
            (fault for child in node.children if (fault := _never_positive(child)) is not None),
            None,
        )
    return None


def _require_positive(node: Node, query: str) -> None:
    fault = _never_positive(node)
    if fault is not None:
        raise RuleSyntaxError(
            "no positive term: this would match every story lacking what it excludes",
            query=query,
            column=fault.column,
            hint="add a positive term, e.g. drone -training",
        )


def parse_query(query: str, entities: EntityCatalogue | None = None) -> Node:
    """Parse a rule query into its AST, or raise RuleSyntaxError (column + hint).

    `@class` terms are looked up in `entities` (default: the shipped catalogue).
    """
    catalogue = default_catalogue() if entities is None else entities
    return _Parser(query, lex_query(query), catalogue).parse()
