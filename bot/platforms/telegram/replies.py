"""Pure renderers for the Telegram front-end: a `handlers.Reply` becomes HTML.

Reply text is plain text from the handlers and may quote anything a user or
a feed wrote (rule names, queries, feed titles), so every part is escaped
with `escape_html` and only our own tags remain: `Reply.code` goes in
`<pre>`, the outcome of a button in `<i>`. A message is at most 4096 UTF-16
code units; the measure is the raw HTML, which is never shorter than what
Telegram shows. Too long a reply is cut at a line break (or, failing that,
at a word) with "…", and the cut is made on the plain text before escaping,
so it never splits an entity.
"""

from __future__ import annotations

from bot.platforms.render import ELLIPSIS, clean_text, fit_text, utf16_len
from bot.platforms.telegram.render import TELEGRAM_TEXT_LIMIT, escape_html
from handlers import Reply

CALLBACK_ANSWER_LIMIT = 200
"""answerCallbackQuery shows at most 200 characters."""
EMPTY_REPLY = "done"


def _fit_escaped(text: str, budget: int) -> str:
    return fit_text(text, budget, escape_html, utf16_len)


def fit_lines(text: str, budget: int) -> str:
    """`text` escaped, ≤ `budget` UTF-16 units: whole lines while they fit, then "…".

    When the lines that fit fill less than half the budget (one very long
    line), the cut falls at a word instead.
    """
    escaped = escape_html(text)
    if utf16_len(escaped) <= budget:
        return escaped
    tail = f"\n{ELLIPSIS}"
    room = budget - utf16_len(tail)
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        cost = utf16_len(escape_html(line)) + (1 if kept else 0)
        if used + cost > room:
            break
        kept.append(escape_html(line))
        used += cost
    if kept and used >= budget // 2:
        return "\n".join(kept) + tail
    return _fit_escaped(text, budget)


def render_reply(reply: Reply) -> str:
    """The reply as Telegram HTML: escaped text, then `code` in `<pre>`, ≤ 4096 units."""
    code, text = reply.code.strip("\n"), reply.text.strip()
    block = ""
    if code:
        share = TELEGRAM_TEXT_LIMIT // 2 if text else TELEGRAM_TEXT_LIMIT
        block = f"<pre>{_fit_escaped(code, share - len('<pre></pre>'))}</pre>"
    if not text:
        return block or escape_html(EMPTY_REPLY)
    room = TELEGRAM_TEXT_LIMIT - (utf16_len(block) + 1 if block else 0)
    body = fit_lines(text, room)
    return f"{body}\n{block}" if block else body


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
