"""Pure renderers for the Telegram front-end: a `handlers.Reply` becomes HTML.

Reply text is plain text from the handlers and may quote anything a user or
a feed wrote (rule names, queries, feed titles), so every part is escaped
with `escape_html` and only our own tags remain: `Reply.code` goes in
`<pre>`, the outcome of a button in `<i>`. A message is at most 4096 UTF-16
code units; the measure is the raw HTML, which is never shorter than what
Telegram shows. Too long a reply is split into several messages, never cut
(`bot.platforms.render.split_text`): at line breaks, a long line at words,
each message escaped on its own, a long `code` block as several `<pre>`
blocks, so each message is valid HTML by itself.
"""

from __future__ import annotations

from bot.platforms.render import clean_text, fit_text, pack_parts, split_text, utf16_len
from bot.platforms.telegram.render import TELEGRAM_TEXT_LIMIT, escape_html
from handlers import Reply

_PRE = len("<pre></pre>")

CALLBACK_ANSWER_LIMIT = 200
"""answerCallbackQuery shows at most 200 characters."""
EMPTY_REPLY = "done"


def render_reply(reply: Reply) -> list[str]:
    """The reply as Telegram HTML messages, each ≤ 4096 units: the escaped text, then
    `code` in `<pre>`, split into as many messages as it takes."""
    pieces = split_text(
        reply.text.strip(), TELEGRAM_TEXT_LIMIT, escape=escape_html, measure=utf16_len
    )
    code = reply.code.strip("\n")
    if code:
        limit = TELEGRAM_TEXT_LIMIT - _PRE
        pieces += [
            f"<pre>{chunk}</pre>"
            for chunk in split_text(code, limit, escape=escape_html, measure=utf16_len)
        ]
    return pack_parts(pieces, TELEGRAM_TEXT_LIMIT, measure=utf16_len) or [escape_html(EMPTY_REPLY)]


def callback_answer(reply: Reply) -> str:
    """The short plain text for answerCallbackQuery (no markup is parsed there)."""
    return fit_text(clean_text(reply.text) or EMPTY_REPLY, CALLBACK_ANSWER_LIMIT)


def alert_with_outcome(alert_html: str, outcome: str) -> str | None:
    """The alert's HTML with the button's outcome as a last, escaped, italic line.

    None when the two no longer fit in one message (the caller then only
    removes the buttons).
    """
    line = clean_text(outcome)
    if not line:
        return None
    joined = f"{alert_html}\n\n<i>{escape_html(line)}</i>"
    return joined if utf16_len(joined) <= TELEGRAM_TEXT_LIMIT else None
