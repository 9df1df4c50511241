"""The one YAML loader for every file newswatch reads, and values shown safely in errors.

`yaml.safe_load` refuses arbitrary objects but still expands aliases: nine
levels of `&a [*a, *a, …]` are a few hundred bytes that become billions of
list items as soon as anything walks or prints them (a "billion laughs"). Our
files (settings, rules, feeds, entity names) never need an alias, so
`load_yaml` refuses them outright, and bounds the text's size and nesting.
Errors are `yaml.YAMLError`s, so callers keep one `except` for every reason
a file is unreadable.

`describe_value` is how an error message shows a value from such a file: its
type and a short prefix, never the whole value.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import Node

MAX_YAML_CHARS = 10_000_000
"""The largest YAML text read (10 M characters; the seed files are a few kB)."""
MAX_YAML_DEPTH = 50
"""The deepest nesting of lists and mappings allowed."""
PREFIX_CHARS = 40


class YamlLimitError(yaml.YAMLError):
    """The text breaks one of the loader's limits (aliases, size, depth)."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader without aliases and with a bounded nesting depth."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in newswatch files; write the value out",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise ComposerError(
                    None,
                    None,
                    f"nested deeper than {MAX_YAML_DEPTH} levels; flatten the file",
                    event.start_mark,
                )
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


def load_yaml(text: str) -> Any:
    """The document in `text`, like `yaml.safe_load`, but refusing aliases and huge or deep text."""
    if len(text) > MAX_YAML_CHARS:
        raise YamlLimitError(
            f"the YAML text has {len(text):,} characters, more than {MAX_YAML_CHARS:,}; "
            "split or shorten it"
        )
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def describe_value(value: object, *, prefix: int = PREFIX_CHARS) -> str:
    """`value` for an error message: short values as they are, long ones by type and prefix."""
    if isinstance(value, str):
        if len(value) <= prefix:
            return repr(value)
        return f"{value[:prefix]!r}… (text of {len(value):,} characters)"
    if isinstance(value, bool | int | float) or value is None:
        text = repr(value)
        return text if len(text) <= prefix else f"{text[:prefix]}… (a {type(value).__name__})"
    if isinstance(value, list | tuple):
        return f"a list of {len(value):,} items"
    if isinstance(value, dict):
        return f"a mapping of {len(value):,} keys"
    return f"a {type(value).__name__}"
