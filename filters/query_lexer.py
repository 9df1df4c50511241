"""The watch-rule query language's lexer: query text in, `Lexeme`s out.

Kinds: `(` `)` `AND` `OR` `NOT` `-` `NEAR` and `BEFORE` (with a distance), `field`
(`title:`), `sentence` (`sentence:`), `regex` (`re:/…/`), `phrase` (`"…"`), `entity`
(`@country`, the text without `@`), `stem` (`~accuse`, the text without `~`) and `word`.
Bad input raises RuleSyntaxError with the column and a hint.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.errors import RuleSyntaxError
from bot.core.text import FIELDS

DEFAULT_NEAR = 10
MAX_NEAR = 100
SENTENCE_SCOPE = "sentence"
"""`sentence:(…)`: what it holds must match inside one sentence (not a field)."""
_QUOTES_OPEN = '"“'
_QUOTES_CLOSE = '"”'
_WORD_STOP = '()"“”'
_KEYWORDS = {"AND", "OR", "NOT"}
_PROXIMITY = {"NEAR", "BEFORE"}


@dataclass(frozen=True, slots=True)
class Lexeme:
    """One token of the query: `kind` is a keyword, a bracket or a value kind."""

    kind: str
    text: str
    column: int
    distance: int = 0


class _Lexer:
    """Splits a query into lexemes, raising RuleSyntaxError on bad input."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.pos = 0
        self.out: list[Lexeme] = []

    def error(self, message: str, column: int, hint: str) -> RuleSyntaxError:
        return RuleSyntaxError(message, query=self.query, column=column, hint=hint)

    def run(self) -> list[Lexeme]:
        while self.pos < len(self.query):
            char = self.query[self.pos]
            if char.isspace():
                self.pos += 1
            elif char in "()":
                self.out.append(Lexeme(char, char, self.pos + 1))
                self.pos += 1
            elif char in _QUOTES_OPEN:
                self.phrase()
            elif char == "-":
                self.minus()
            else:
                self.word()
        return self.out

    def phrase(self) -> None:
        start = self.pos
        end = next(
            (i for i in range(start + 1, len(self.query)) if self.query[i] in _QUOTES_CLOSE), -1
        )
        if end < 0:
            raise self.error("unterminated quote", start + 1, 'add a closing " after the phrase')
        self.out.append(Lexeme("phrase", self.query[start + 1 : end], start + 2))
        self.pos = end + 1

    def minus(self) -> None:
        following = self.query[self.pos + 1 : self.pos + 2]
        if not following or following.isspace() or following == ")":
            raise self.error(
                'a lone "-"', self.pos + 1, "attach it to what it excludes, e.g. -training"
            )
        if following == "!":
            self.out.append(Lexeme("-!", "-!", self.pos + 1))
            self.pos += 2
            return
        self.out.append(Lexeme("-", "-", self.pos + 1))
        self.pos += 1

    def word(self) -> None:
        start = self.pos
        end = start
        while end < len(self.query):
            char = self.query[end]
            if char.isspace() or char in _WORD_STOP:
                break
            end += 1
        text = self.query[start:end]
        name, colon, rest = text.partition(":")
        if colon and name.isascii() and name.isalpha():
            self.scope(name, start, rest)
        elif text.partition("/")[0] in _PROXIMITY:
            self.near(text, start)
        elif text[:1] in "@~":
            kind = "entity" if text[0] == "@" else "stem"
            self.out.append(Lexeme(kind, text[1:], start + 1))
            self.pos = end
        else:
            kind = text if text in _KEYWORDS else "word"
            self.out.append(Lexeme(kind, text, start + 1))
            self.pos = end

    def scope(self, name: str, start: int, rest: str) -> None:
        lowered = name.lower()
        if lowered == "re":
            self.regex(start + len(name) + 1, start)
        elif lowered in FIELDS:
            self.out.append(Lexeme("field", f"{lowered}:", start + 1))
            self.pos = start + len(name) + 1
        elif lowered == SENTENCE_SCOPE:
            self.out.append(Lexeme("sentence", f"{lowered}:", start + 1))
            self.pos = start + len(name) + 1
        else:
            valid = ", ".join(f"{field}:" for field in (*FIELDS, SENTENCE_SCOPE))
            raise self.error(
                f'unknown field "{name}:"',
                start + 1,
                f'use one of {valid} or re:/…/, or quote the text ("{name}:{rest}")',
            )

    def regex(self, slash: int, start: int) -> None:
        if self.query[slash : slash + 1] != "/":
            raise self.error("re: needs a /pattern/", start + 1, "write re:/pattern/")
        pos = slash + 1
        while pos < len(self.query) and self.query[pos] != "/":
            pos += 2 if self.query[pos] == "\\" else 1
        if pos >= len(self.query):
            raise self.error(
                "unterminated regex", start + 1, r"close it with / (write \/ for a slash inside)"
            )
        after = self.query[pos + 1 : pos + 2]
        if after and not after.isspace() and after != ")":
            raise self.error(
                f'unexpected "{after}" after the regex',
                pos + 2,
                "regexes are always case-insensitive and take no flags; add a space after /",
            )
        self.out.append(Lexeme("regex", self.query[slash + 1 : pos], slash + 2))
        self.pos = pos + 1

    def near(self, text: str, start: int) -> None:
        """`NEAR`, `NEAR/n`, `BEFORE` or `BEFORE/n`."""
        keyword, slash, number = text.partition("/")
        distance = DEFAULT_NEAR
        if slash:
            if not number.isdigit() or not 1 <= int(number) <= MAX_NEAR:
                raise self.error(
                    f'bad proximity "{text}"',
                    start + len(keyword) + 2,
                    f"write {keyword}/n with n a whole number from 1 to {MAX_NEAR},"
                    f" e.g. {keyword}/5",
                )
            distance = int(number)
        elif text not in _PROXIMITY:
            raise self.error(f'bad proximity "{text}"', start + 1, f"write {keyword}/5")
        self.out.append(Lexeme(keyword, text, start + 1, distance))
        self.pos = start + len(text)


def lex_query(query: str) -> list[Lexeme]:
    """The lexemes of `query` (exposed for tests and editors)."""
    return _Lexer(query).run()
