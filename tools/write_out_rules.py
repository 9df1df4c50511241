"""Write the seed rules out without word classes: tests/data/seed_rules_written_out.yaml.

Each `@name` of a word class (the `words:` section of config/entities.yaml) in
a seed query is replaced by its terms as one OR group, recursively; entity
classes (@country, @us, @money, …) stay. tests/test_word_classes.py then checks
that the class form and this written-out form match exactly the same labelled
items, so the parser's class expansion is checked against plain text. Run it
after changing a seed query or a word class:

    python tools/write_out_rules.py
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "config" / "rules.yaml"
ENTITIES = ROOT / "config" / "entities.yaml"
OUT = ROOT / "tests" / "data" / "seed_rules_written_out.yaml"
HEADER = """\
# The seed rules of config/rules.yaml with every word class written out as its OR group
# (tools/write_out_rules.py; do not edit by hand): tests/test_word_classes.py checks that
# the class form matches exactly the same labelled items as this file. Not read by newswatch.
"""
CLASS = re.compile(r"@([a-z_]+)")
QUERY_BLOCK = re.compile(r"(\n    query: >-\n)((?:      .*\n)+)")


def written_out(query: str, words: dict[str, list[str]]) -> str:
    """`query` with each word class replaced by `(term OR term …)`, nested classes too."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in words:
            return match.group(0)
        return "(" + " OR ".join(written_out(term, words) for term in words[name]) + ")"

    return CLASS.sub(replace, query)


def rewrite_queries(text: str, transform: Callable[[str], str]) -> str:
    """The rules file `text` with each rule's folded query replaced by `transform(query)`,
    wrapped at 102 columns; everything else (comments, topics) stays as written."""
    for rule in yaml.safe_load(text)["rules"]:
        origin = text.index(f"- name: {rule['name']}\n")
        block = QUERY_BLOCK.search(text, origin)
        if block is None:
            raise SystemExit(f"{RULES}: {rule['name']} has no folded `query: >-` block")
        query = transform(" ".join(rule["query"].split()))
        lines = textwrap.wrap(query, 96, break_on_hyphens=False, break_long_words=False)
        body = "".join(f"      {line}\n" for line in lines)
        text = text[: block.start()] + block.group(1) + body + text[block.end() :]
    return text


def main() -> None:
    entities: dict[str, Any] = yaml.safe_load(ENTITIES.read_text(encoding="utf-8"))
    words = {name: [str(t) for t in body["terms"]] for name, body in entities["words"].items()}
    text = rewrite_queries(RULES.read_text(encoding="utf-8"), lambda q: written_out(q, words))
    OUT.write_text(HEADER + text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
