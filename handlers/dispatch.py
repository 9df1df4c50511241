"""`dispatch`: one Command (or button click) in, one Reply out.

The commands live in a registry keyed by their words (`subscribe`,
`rule add`, `rule example add`); the longest key that starts the text wins.
Errors become replies here, so adapters only ever render a Reply:

- unknown command → a short help;
- bad arguments → what was wrong, the usage and an example;
- a rule that does not parse → the column, a caret under it, and the fix;
- any other NewswatchError → its one-line message;
- anything unexpected → logged with the traceback, and a generic apology.
"""

from __future__ import annotations

import logging

from bot.core.errors import NewswatchError, RuleSyntaxError
from handlers import (
    backtest,
    entity_commands,
    feed_commands,
    info,
    quiet,
    rule_commands,
    rule_history,
    subscribing,
    topic_commands,
)
from handlers.actions import answer_button
from handlers.arguments import BadArgumentsError
from handlers.command import ActionCommand, Command, Reply
from handlers.context import HandlerContext
from handlers.permissions import require_admin
from handlers.spec import CommandSpec

log = logging.getLogger(__name__)

GENERIC_FAILURE = "something went wrong; the admins can see it in the logs"
MAX_COMMAND_WORDS = 3


async def show_help(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """The commands this user may run, or one command's usage and example."""
    if args.strip():
        spec = COMMANDS.get(" ".join(args.lower().split()))
        if spec is None:
            return short_help(ctx, command, f"no command {args.strip()!r}")
        return Reply(usage_text(spec))
    return short_help(ctx, command, "")


def short_help(ctx: HandlerContext, command: Command, headline: str) -> Reply:
    """One line per command the user may run; admin commands only for admins."""
    admin = ctx.is_admin(command)
    lines = [headline] if headline else []
    lines.append("commands:")
    lines += [
        f"{spec.usage} — {spec.summary}"
        for spec in COMMANDS.values()
        if admin or not spec.admin_only
    ]
    lines.append("help <command> shows an example")
    return Reply("\n".join(lines), ok=not headline)


def usage_text(spec: CommandSpec) -> str:
    """Usage, example and what the command does."""
    admin = " (admins only)" if spec.admin_only else ""
    return f"{spec.summary}{admin}\nusage: {spec.usage}\nexample: {spec.example}"


def syntax_reply(error: RuleSyntaxError) -> Reply:
    """A query error as the column, a caret pointer under the query, and the fix."""
    where = f"rule {error.rule!r}: " if error.rule else ""
    fix = f"\nfix: {error.hint}" if error.hint else ""
    text = f"{where}the query does not parse at column {error.column}: {error.message}{fix}"
    return Reply(text, ok=False, code=error.pointer())


def command_words(text: str) -> list[str]:
    """The first words of `text`, without a leading `/` or Telegram's `@botname`."""
    words = text.strip().lstrip("/").split(maxsplit=MAX_COMMAND_WORDS)
    if words:
        words[0] = words[0].split("@", 1)[0]
    return words


def find_command(text: str) -> tuple[CommandSpec | None, str]:
    """The registered command that starts `text` (longest words first) and its arguments."""
    words = command_words(text)
    for count in range(min(MAX_COMMAND_WORDS, len(words)), 0, -1):
        spec = COMMANDS.get(" ".join(words[:count]).lower())
        if spec is not None:
            rest = " ".join(words).split(maxsplit=count)
            return spec, rest[count].strip() if len(rest) > count else ""
    return None, ""


def unknown_headline(words: list[str]) -> str:
    """`unknown command 'rule frob'` (two words when the first starts a command group)."""
    if not words:
        return ""
    group = any(name.startswith(f"{words[0].lower()} ") for name in COMMANDS)
    said = " ".join(words[:2]) if group and len(words) > 1 else words[0]
    return f"unknown command {said!r}"


async def run_command(ctx: HandlerContext, command: Command) -> Reply:
    """Find the command, check who may run it, and run it."""
    spec, args = find_command(command.text)
    if spec is None:
        return short_help(ctx, command, unknown_headline(command_words(command.text)))
    if spec.admin_only:
        require_admin(ctx, command, spec.name)
    try:
        return await spec.handler(ctx, command, args)
    except BadArgumentsError as err:
        return Reply(f"{err}\nusage: {spec.usage}\nexample: {spec.example}", ok=False)


async def dispatch(ctx: HandlerContext, command: Command | ActionCommand) -> Reply:
    """Answer one typed command or button click; never raises."""
    try:
        if isinstance(command, ActionCommand):
            return await answer_button(ctx, command)
        return await run_command(ctx, command)
    except RuleSyntaxError as err:
        return syntax_reply(err)
    except NewswatchError as err:
        return Reply(str(err), ok=False, ephemeral=isinstance(command, ActionCommand))
    except Exception:
        log.exception(
            "chat command failed",
            extra={
                "platform": command.platform,
                "chat_id": command.chat_id,
                "actor": command.actor,
            },
        )
        return Reply(GENERIC_FAILURE, ok=False)


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("help", show_help, "help [command]", "help subscribe", "what you can ask"),
        *subscribing.SPECS,
        *quiet.SPECS,
        *info.SPECS,
        *rule_commands.SPECS,
        *backtest.SPECS,
        *rule_history.SPECS,
        *topic_commands.SPECS,
        *entity_commands.SPECS,
        *feed_commands.SPECS,
    )
}
"""Every chat command by its words; the same words on every platform."""
