"""Entity classes from chat: `entities` lists them; admins `entity add` and `entity rm` names.

    entities                             every class, with counts and examples
    entities country                     one class, and the names admins added
    entity add country Somaliland        a name, standing for itself
    entity add us Secretary Rubio = US secretary of state
    entity rm country Somaliland
    entity add wrongdoing ~meddle        a word class takes a query term

Names an admin adds sit on top of config/entities.yaml and pycountry, are
audited (kind `entity` in the change history) and reach the rules at once:
the rules are recompiled after each change. Only the names an admin added
can be removed; the shipped ones are changed in config/entities.yaml.
`@money` is a pattern, not a list, and takes no names. A word class
(`words:` in config/entities.yaml) takes ordinary query terms — a word,
"phrase", prefix*, ~stem or @class — each checked by parsing the class
with it before it is stored.
"""

from __future__ import annotations

from bot.core.errors import NotFoundError, RuleSyntaxError
from bot.core.model import EntityEntry
from bot.core.text import iter_tokens
from filters.entities import EntityCatalogue, NameClass
from filters.query import parse_query
from handlers.arguments import BadArgumentsError, split_first
from handlers.command import Command, Reply
from handlers.context import HandlerContext
from handlers.spec import CommandSpec

MAX_NAME_LENGTH = 80
ENTITY_SEPARATOR = " = "


def _name_class(ctx: HandlerContext, word: str) -> NameClass:
    """The name class called `word` (with or without `@`), or the reason it is not one."""
    name = word.removeprefix("@").lower()
    if not name:
        raise BadArgumentsError("the class is missing")
    found = ctx.rulebook.entities.get(name)
    known = ", ".join(c for c in ctx.rulebook.entities.names if c != "money")
    if found is None:
        raise NotFoundError(f"no entity class @{name} — the classes are {known}")
    if not isinstance(found, NameClass):
        raise BadArgumentsError(f"@{name} is a pattern and takes no names; the lists are {known}")
    return found


def _name_and_entity(text: str) -> tuple[str, str]:
    """`Secretary Rubio = US secretary of state` → the name and what it stands for."""
    name, _, entity = text.partition(ENTITY_SEPARATOR)
    name, entity = " ".join(name.split()), " ".join(entity.split())
    if not name:
        raise BadArgumentsError("the name is missing")
    if len(name) > MAX_NAME_LENGTH or len(entity) > MAX_NAME_LENGTH:
        raise BadArgumentsError(f"keep names under {MAX_NAME_LENGTH} characters")
    if not any(True for _ in iter_tokens(name)):
        raise BadArgumentsError(f"{name!r} has no letters or digits to match")
    return name, entity or name


def _summary(catalogue: EntityCatalogue, name: str) -> str:
    """One line for a name class (its summary) or a word class (its first terms)."""
    if name in catalogue.words:
        terms = catalogue.words[name]
        more = ", …" if len(terms) > 6 else ""
        return f"@{name}: {len(terms)} terms ({', '.join(terms[:6])}{more})"
    return catalogue.classes[name].summary()


def _word_class(ctx: HandlerContext, word: str) -> str | None:
    """The word class called `word` (with or without `@`), if it is one."""
    name = word.removeprefix("@").lower()
    return name if name in ctx.rulebook.entities.words else None


def _word_member(ctx: HandlerContext, name: str, text: str) -> str:
    """A new member of word class `name`: one query term that parses in the class."""
    term = " ".join(text.split())
    if not term:
        raise BadArgumentsError("the term is missing")
    if len(term) > MAX_NAME_LENGTH:
        raise BadArgumentsError(f"keep terms under {MAX_NAME_LENGTH} characters")
    try:
        parse_query(f"@{name}", ctx.rulebook.entities.with_names([(name, term, term)]))
    except RuleSyntaxError as exc:
        raise BadArgumentsError(f"{term!r} does not work in @{name}: {exc.message}") from None
    return term


async def _add_word(ctx: HandlerContext, command: Command, name: str, text: str) -> Reply:
    term = _word_member(ctx, name, text)
    entry = EntityEntry(name, term, term)
    await ctx.store.add_entity_name(entry, actor=command.actor, at=ctx.clock())
    await ctx.rules_changed()
    return Reply(f"@{name} now matches {term}; undo with `entity rm {name} {term}`")


async def _list_words(ctx: HandlerContext, name: str) -> Reply:
    terms = ctx.rulebook.entities.words[name]
    added = [e.name for e in await ctx.store.list_entity_names() if e.entity_class == name]
    lines = [f"@{name} (a word class): {', '.join(terms)}"]
    lines.append(f"added by admins: {', '.join(added)}" if added else "no terms added by admins")
    return Reply("\n".join(lines))


async def list_entities(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Every class with its size and examples; or one class and its added names."""
    if not args.strip():
        catalogue = ctx.rulebook.entities
        lines = [f"{len(catalogue.names)} entity classes (use them in queries as @name):"]
        lines += [f"• {_summary(catalogue, name)}" for name in catalogue.names]
        lines.append("one class: entities <class>")
        return Reply("\n".join(lines))
    word_class = _word_class(ctx, args.strip())
    if word_class is not None:
        return await _list_words(ctx, word_class)
    entity_class = _name_class(ctx, args.strip())
    added = [e for e in await ctx.store.list_entity_names() if e.entity_class == entity_class.name]
    lines = [entity_class.summary(12), entity_class.description]
    if added:
        lines.append(f"added by admins ({len(added)}):")
        lines += [f"• {e.name}" + (f" = {e.entity}" if e.entity != e.name else "") for e in added]
    else:
        lines.append("no names added by admins (entity add <class> <name>)")
    return Reply("\n".join(lines))


async def add_entity(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Add a name to a class: `entity add <class> <name> [= <what it stands for>]`."""
    word, rest = split_first(args)
    word_class = _word_class(ctx, word)
    if word_class is not None:
        return await _add_word(ctx, command, word_class, rest)
    entity_class = _name_class(ctx, word)
    name, entity = _name_and_entity(rest)
    entry = EntityEntry(entity_class.name, name, entity)
    await ctx.store.add_entity_name(entry, actor=command.actor, at=ctx.clock())
    await ctx.rules_changed()
    stands = f" (for {entity})" if entity != name else ""
    return Reply(
        f"@{entity_class.name} now matches {name!r}{stands}; "
        f"undo with `entity rm {entity_class.name} {name}`"
    )


async def remove_entity(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Remove a name an admin added: `entity rm <class> <name>`."""
    word, rest = split_first(args)
    entity_class_name = _word_class(ctx, word)
    if entity_class_name is None:
        entity_class_name = _name_class(ctx, word).name
        name, _ = _name_and_entity(rest)
    else:
        name = " ".join(rest.split())
        if not name:
            raise BadArgumentsError("the term is missing")
    await ctx.store.remove_entity_name(entity_class_name, name, actor=command.actor, at=ctx.clock())
    await ctx.rules_changed()
    return Reply(f"@{entity_class_name} no longer matches {name!r}")


SPECS = (
    CommandSpec(
        "entities",
        list_entities,
        "entities [class]",
        "entities country",
        "list the entity classes rules can use (@country, @us, …)",
    ),
    CommandSpec(
        "entity add",
        add_entity,
        "entity add <class> <name> [= <what it stands for>]",
        "entity add country Somaliland",
        "add a name to an entity class",
        admin_only=True,
    ),
    CommandSpec(
        "entity rm",
        remove_entity,
        "entity rm <class> <name>",
        "entity rm country Somaliland",
        "remove a name an admin added",
        admin_only=True,
    ),
)
