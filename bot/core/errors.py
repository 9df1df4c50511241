"""The errors newswatch raises, by meaning.

Third-party exceptions (httpx, SQLAlchemy, python-telegram-bot, slack-sdk,
feed parsers, YAML) are mapped to these where they enter our code, so callers
only ever handle this tree:

    NewswatchError
    ├── ConfigError                  bad settings or config file; exit code 2
    │   └── PathError                a file or directory that cannot be read or written
    ├── FetchError                   a feed could not be fetched (kept per feed)
    │   ├── BlockedAddressError      SSRF guard: private/loopback target refused
    │   └── ResponseTooLargeError    body over the size cap after decompression
    ├── FeedParseError               the body is not a feed we can read safely
    ├── RuleError
    │   ├── RuleSyntaxError          a query does not parse; names rule and column
    │   └── UnknownRuleError         a rule name that does not exist
    ├── OpmlError                    an OPML file we cannot import
    ├── StoreError
    │   ├── DuplicateError           the thing already exists
    │   └── NotFoundError            the thing does not exist
    ├── CommandError                 a chat/CLI command with bad arguments
    │   └── NotAuthorizedError       an admin command from a non-admin
    └── DeliveryError
        ├── RetryableDeliveryError   try again later (after retry_after if given)
        │   └── RateLimitedError     the platform said 429
        └── PermanentDeliveryError   never retry this message
            ├── DestinationGoneError the chat blocked/kicked us or does not exist
            └── ChatMigratedError    Telegram group became a supergroup (new id)

Every message is one line that names what is wrong and, where we can, how
to fix it.
"""

from __future__ import annotations


class NewswatchError(Exception):
    """Base of every error newswatch raises on purpose."""


class ConfigError(NewswatchError):
    """Settings or a configuration file are invalid."""


class PathError(ConfigError):
    """A file or directory newswatch cannot read or write (see `bot.core.files`)."""


class FetchError(NewswatchError):
    """A feed could not be fetched; the feed is backed off, others carry on."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class BlockedAddressError(FetchError):
    """The target resolves to a private, loopback or otherwise internal address."""


class ResponseTooLargeError(FetchError):
    """The response body exceeds the configured cap."""


class FeedParseError(NewswatchError):
    """The body is not a feed, or is one we refuse to parse (e.g. entity bombs)."""


class RuleError(NewswatchError):
    """Something is wrong with a watch rule."""


class RuleSyntaxError(RuleError):
    """A rule query does not parse.

    `column` is 1-based; `str(err)` reads like
    `rule 'drone_strike': column 12: unbalanced ")" — remove it or add "(" before it`.
    """

    def __init__(
        self, message: str, *, query: str, column: int, rule: str | None = None, hint: str = ""
    ) -> None:
        self.message = message
        self.query = query
        self.column = column
        self.rule = rule
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"rule '{self.rule}': " if self.rule else ""
        hint = f" — {self.hint}" if self.hint else ""
        return f"{where}column {self.column}: {self.message}{hint}"

    def with_rule(self, rule: str) -> RuleSyntaxError:
        """The same error, naming the rule it came from."""
        return RuleSyntaxError(
            self.message, query=self.query, column=self.column, rule=rule, hint=self.hint
        )

    def pointer(self) -> str:
        """The query with a caret under the offending column (two lines)."""
        return f"{self.query}\n{' ' * (self.column - 1)}^"


class UnknownRuleError(RuleError):
    """A rule name that does not exist."""


class OpmlError(NewswatchError):
    """An OPML file that cannot be imported."""


class StoreError(NewswatchError):
    """A storage operation failed."""


class DuplicateError(StoreError):
    """The thing being added already exists."""


class NotFoundError(StoreError):
    """The thing asked for does not exist."""


class CommandError(NewswatchError):
    """A command with bad arguments; the message says what and gives an example."""


class NotAuthorizedError(CommandError):
    """An admin-only command from someone who is not an admin."""


class DeliveryError(NewswatchError):
    """Sending an alert failed."""


class RetryableDeliveryError(DeliveryError):
    """A transient failure: network, 5xx, timeouts. Retry with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(RetryableDeliveryError):
    """The platform answered 429; wait `retry_after` seconds before the next send."""


class PermanentDeliveryError(DeliveryError):
    """This message can never be delivered (e.g. the platform rejects it)."""


class DestinationGoneError(PermanentDeliveryError):
    """The chat blocked or removed the bot, or does not exist; pause its subscriptions."""


class ChatMigratedError(PermanentDeliveryError):
    """A Telegram group was upgraded to a supergroup with a new chat id."""

    def __init__(self, message: str, *, new_chat_id: str) -> None:
        super().__init__(message)
        self.new_chat_id = new_chat_id
