"""The entity catalogue: `config/entities.yaml` plus ISO 3166-1 names from pycountry.

    classes:
      country:                        # the class, used in queries as @country
        description: every state and territory …
        iso3166: true                 # add pycountry's names of each code
        exclude: [Jersey]             # names never used, whatever their source
        others: [US Open]             # names containing a member that are not one
        entries:
          BE: [Belgium, Belgian, Brussels]   # first name: what explanations call it
      us:
        description: …
        entries:
          White House: [White House, Oval Office]
      abroad:
        like: country                 # the entries of another class …
        without: [US]                 # … but these (with iso3166, their ISO names too)

`money` is built in (`filters.entities.MoneyClass`) and cannot be defined
here. With `iso3166: true` an entry's key is an ISO 3166-1 alpha-2 code and
the code's ISO names (name, common name, official name; the part before a
comma or parenthesis) join its list; an ISO name that two codes share is
left out unless an entry lists it. Every problem is a ConfigError naming the
file and the class.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from bot.core.errors import ConfigError
from bot.core.files import read_text
from bot.core.yamlsafe import load_yaml
from filters.entities import EntityCatalogue, EntityClass, MoneyClass, name_class

CLASS_KEYS = ("description", "iso3166", "exclude", "others", "entries", "like", "without")
WORD_KEYS = ("description", "terms")
_CLASS_NAME = re.compile(r"[a-z][a-z0-9_]*")


def packaged_entities_file() -> Path:
    """The `config/entities.yaml` that ships with newswatch."""
    return Path(str(importlib.resources.files("config").joinpath("entities.yaml")))


@functools.cache
def default_catalogue() -> EntityCatalogue:
    """The shipped catalogue, loaded once per process."""
    return load_catalogue(packaged_entities_file())


def load_catalogue(path: Path) -> EntityCatalogue:
    """Every class in the file plus `@money`; ConfigError (one line) on a bad file."""
    document, word_specs = _document(path)
    classes: dict[str, EntityClass] = {"money": MoneyClass()}
    for name, spec in document.items():
        where = f"{path}: class '{name}'"
        if not isinstance(name, str) or not _CLASS_NAME.fullmatch(name):
            raise ConfigError(f"{path}: class {name!r}: use a lowercase name such as country")
        if name == "money":
            raise ConfigError(f"{where}: money is built in; choose another name")
        classes[name] = _name_class(name, _copied(spec, document, where), where)
    words = {}
    for name, spec in word_specs.items():
        where = f"{path}: word class '{name}'"
        if not isinstance(name, str) or not _CLASS_NAME.fullmatch(name):
            raise ConfigError(
                f"{path}: word class {name!r}: use a lowercase name such as wrongdoing"
            )
        if name in classes:
            raise ConfigError(f"{where}: also a name class; rename one")
        words[name] = _word_class(spec, where)
    return EntityCatalogue(classes, words)


def _word_class(spec: Any, where: str) -> tuple[str, ...]:
    """A word class's member terms; the parser checks each is one query term when used."""
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping with description: and terms:")
    unknown = sorted(str(key) for key in spec if key not in WORD_KEYS)
    if unknown:
        raise ConfigError(f'{where}: unknown key "{unknown[0]}"; valid: {", ".join(WORD_KEYS)}')
    terms = spec.get("terms")
    if not isinstance(terms, list) or not terms or not all(isinstance(t, str) for t in terms):
        raise ConfigError(f"{where}: terms: expected a list of query terms, e.g. [~meddle]")
    return tuple(terms)


def _document(path: Path) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The `classes:` mapping and the (optional) `words:` mapping."""
    text = read_text(path, "the entities file")
    try:
        document = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "check indentation and quoting"
        raise ConfigError(f"{path}: {line}invalid YAML: {problem}") from None
    if not isinstance(document, dict) or not isinstance(document.get("classes"), dict):
        raise ConfigError(f'{path}: expected a top-level "classes:" mapping')
    classes: dict[Any, Any] = document["classes"]
    words = document.get("words") or {}
    if not isinstance(words, dict):
        raise ConfigError(f'{path}: "words:" must map a class name to description: and terms:')
    return classes, words


def _copied(spec: Any, document: dict[Any, Any], where: str) -> Any:
    """A class written as `like: other` plus `without: [keys]`: the other's spec, those
    entries (and with iso3166 those ISO codes) left out, its exclude and others kept."""
    if not isinstance(spec, dict) or "like" not in spec:
        if isinstance(spec, dict) and "without" in spec:
            raise ConfigError(f"{where}: without: needs like: (the class it leaves entries out of)")
        return spec
    base_name = spec["like"]
    base = document.get(base_name) if isinstance(base_name, str) else None
    if not isinstance(base, dict) or "like" in base:
        raise ConfigError(f"{where}: like: {base_name!r} is not a class defined by its own entries")
    if any(key in spec for key in ("entries", "iso3166", "exclude", "others")):
        raise ConfigError(f"{where}: like: copies entries, iso3166, exclude and others; drop them")
    without = spec.get("without") or []
    entries = base.get("entries") or {}
    if not isinstance(without, list) or not all(isinstance(key, str) for key in without):
        raise ConfigError(f"{where}: without: expected a list of entry keys, e.g. [US]")
    unknown = [key for key in without if key not in entries]
    if unknown:
        raise ConfigError(f"{where}: without: {unknown[0]!r} is not an entry of {base_name}")
    copied = {key: value for key, value in base.items() if key in CLASS_KEYS}
    copied["entries"] = {key: names for key, names in entries.items() if key not in without}
    copied["description"] = spec.get("description") or base.get("description") or ""
    copied["without"] = list(without)
    return copied


def _name_class(name: str, spec: Any, where: str) -> EntityClass:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping with description: and entries:")
    unknown = sorted(str(key) for key in spec if key not in CLASS_KEYS)
    if unknown:
        raise ConfigError(f'{where}: unknown key "{unknown[0]}"; valid: {", ".join(CLASS_KEYS)}')
    entries = spec.get("entries") or {}
    if not isinstance(entries, dict) or not all(
        isinstance(names, list) and names and all(isinstance(n, str) for n in names)
        for names in entries.values()
    ):
        raise ConfigError(f"{where}: entries: each key needs a list of names, e.g. BE: [Belgium]")
    exclude = spec.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(n, str) for n in exclude):
        raise ConfigError(f"{where}: exclude: expected a list of names")
    others = spec.get("others") or []
    if not isinstance(others, list) or not all(isinstance(n, str) for n in others):
        raise ConfigError(f"{where}: others: expected a list of names, e.g. [US Open]")
    listed = {str(key): [str(n) for n in names] for key, names in entries.items()}
    iso = spec.get("iso3166", False)
    if not isinstance(iso, bool):
        raise ConfigError(f"{where}: iso3166: expected true or false")
    left_out = frozenset(str(key) for key in spec.get("without") or [])
    pairs = list(_with_iso_names(listed, left_out) if iso else _listed_pairs(listed))
    excluded = {text.casefold() for text in exclude}
    pairs = [(text, entity) for text, entity in pairs if text.casefold() not in excluded]
    _refuse_shared_names(pairs, where)
    members = {text for text, _ in pairs}
    both = [text for text in others if text in members]
    if both:
        raise ConfigError(f"{where}: {both[0]!r} is both a name and in others; keep one")
    description = spec.get("description") or ""
    return name_class(name, str(description), pairs, [str(text) for text in others])


def _listed_pairs(listed: dict[str, list[str]]) -> Iterator[tuple[str, str]]:
    for names in listed.values():
        for text in names:
            yield text, names[0]


def _refuse_shared_names(pairs: list[tuple[str, str]], where: str) -> None:
    owners: dict[str, str] = {}
    for text, entity in pairs:
        owner = owners.setdefault(text, entity)
        if owner != entity:
            raise ConfigError(f"{where}: {text!r} is listed for both {owner!r} and {entity!r}")


def iso_short_names(*names: str) -> list[str]:
    """Names usable in news from ISO forms: `Iran, Islamic Republic of` → `Iran`."""
    found: list[str] = []
    for name in names:
        short = name.split(",")[0].split("(")[0].strip()
        short = short.removeprefix("the ").strip()
        if short and short not in found:
            found.append(short)
    return found


def _with_iso_names(
    listed: dict[str, list[str]], left_out: frozenset[str] = frozenset()
) -> Iterator[tuple[str, str]]:
    """Listed names plus each ISO code's names (codes in `left_out` not at all); ISO
    names two codes share are dropped."""
    import pycountry

    iso_names: dict[str, list[str]] = {}
    claimed: dict[str, int] = {}
    for country in pycountry.countries:
        forms = [getattr(country, key, "") for key in ("common_name", "name", "official_name")]
        names = iso_short_names(*(form for form in forms if form))
        iso_names[country.alpha_2] = names
        for text in names:
            claimed[text] = claimed.get(text, 0) + 1
    listed_texts = {text for names in listed.values() for text in names}
    for code in dict.fromkeys([*listed, *iso_names]):
        if code in left_out:
            continue
        own = listed.get(code, [])
        extra = [
            text
            for text in iso_names.get(code, [])
            if text not in own and claimed[text] == 1 and text not in listed_texts
        ]
        names = own + extra
        if names:
            yield from ((text, names[0]) for text in names)
