"""A loopback stand-in for the Telegram Bot API (aiohttp.web on 127.0.0.1).

It serves `/bot<token>/<method>` like the real API (form, JSON or query
parameters; `{"ok": …}` envelopes) for getMe, getUpdates (long poll with a
queue the test pushes to), sendMessage, editMessageText, answerCallbackQuery,
getChatMember, getChat, setMyCommands, getMyCommands, setWebhook,
deleteWebhook, getWebhookInfo and editMessageReplyMarkup, and behaves like it
where it matters:

- HTML parse mode is parsed for real: only Telegram's tag subset, balanced,
  with `&lt; &gt; &amp; &quot;` and numeric entities; anything else is
  `400 Bad Request: can't parse entities: …`. Text over 4096 UTF-16 units
  after parsing is `400 Bad Request: message is too long`.
- Limits: per chat 1 message/s, per group (negative id) 20/min, overall
  30/s; over them, `429` with `parameters.retry_after` (whole seconds).
  `tolerance` absorbs loopback jitter (the real API is more lenient still).
- Blocked chats answer 403, unknown chats 400 "chat not found", migrated
  groups 400 with `migrate_to_chat_id`, and `fail_next` injects 5xx.
- getUpdates answers 409 while a webhook is set, as Telegram does, and one
  bot has one poller: a getUpdates arriving while another client's long poll
  is open ends that one with 409 "terminated by other getUpdates request"
  (counted in `get_updates_conflicts`).

Clients can tell themselves apart with `base_url_for(name)`, the server root
under a path prefix (as a self-hosted Bot API behind a proxy would be);
`get_updates_callers` lists the name of each getUpdates ("" without one).

Every accepted message is recorded in `messages` (edits in `edits`). To play
the users' side, build updates with `message_update` / `click_update` (a
button press on a message the bot posted, carrying its text and entities as
Telegram would) and `push_update` them for getUpdates, or POST them to the
registered webhook with `deliver_webhook` (with the registered secret) or
`post_webhook` (with any headers). `chat_types` makes a chat a channel;
`admins` / `owners` answer getChatMember.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

Params = dict[str, Any]
_REQUEST: contextvars.ContextVar[web.Request] = contextvars.ContextVar("request")
_JSON_FIELDS = {"reply_markup", "link_preview_options", "entities", "commands", "scope"}
_JSON_FIELDS |= {"allowed_updates", "reply_parameters"}
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler"}
_TAGS |= {"a", "code", "pre", "blockquote"}
_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>"
)
_ATTR = re.compile(r"([^\s=>]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>\"']+))?")
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]+)|#[xX]([0-9a-fA-F]+));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ADMIN_RIGHTS = (
    "can_be_edited",
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
_ALLOWED_ATTRS = {"a": {"href"}, "span": {"class"}, "code": {"class"}, "blockquote": {"expandable"}}
_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; the message is what the API would say."""


def _decode_entity(match: re.Match[str]) -> str:
    named, decimal, hexa = match.groups()
    if named:
        return _NAMED[named]
    code = int(decimal) if decimal else int(hexa, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise EntityParseError(f"invalid numeric entity {match.group(0)!r}")
    return chr(code)


def _unescape(value: str, offset: int) -> str:
    out, pos = [], 0
    for match in _ENTITY.finditer(value):
        out += [value[pos : match.start()], _decode_entity(match)]
        pos = match.end()
    if "&" in value[pos:]:
        raise EntityParseError(f"unsupported HTML entity at byte offset {offset}")
    return "".join([*out, value[pos:]])


def _check_attrs(name: str, raw: str, offset: int) -> dict[str, str]:
    attrs = {}
    for key, value in _ATTR.findall(raw):
        if key.lower() not in _ALLOWED_ATTRS.get(name, set()):
            raise EntityParseError(f'unsupported attribute "{key}" of tag "{name}"')
        attrs[key.lower()] = _unescape(value.strip("\"'"), offset)
    href = attrs.get("href", "")
    if name == "a" and not re.match(r"(https?|tg)://[^\s]+$", href):
        raise EntityParseError(f"unsupported URL {href[:40]!r} in a tag at byte offset {offset}")
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityParseError(f'tag "span" must have class "tg-spoiler" at byte offset {offset}')
    return attrs


def parse_telegram_html(text: str) -> str:
    """The plain text Telegram shows for `text` in HTML parse mode; EntityParseError if invalid."""
    return parse_telegram_html_entities(text)[0]


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _entity(name: str, attrs: dict[str, str], start: int, end: int) -> Params:
    kind = _ENTITY_TYPES[name]
    if name == "blockquote" and "expandable" in attrs:
        kind = "expandable_blockquote"
    entity: Params = {"type": kind, "offset": start, "length": end - start}
    if name == "a":
        entity["url"] = attrs["href"]
    return entity


def parse_telegram_html_entities(text: str) -> tuple[str, list[Params]]:
    """(plain text, message entities with UTF-16 offsets) as Telegram parses HTML mode.

    EntityParseError for anything Telegram would refuse. Empty entities are
    dropped; `<code>` directly inside `<pre>` folds into the `pre` entity.
    """
    out: list[str] = []
    stack: list[tuple[str, dict[str, str], int]] = []
    entities: list[Params] = []
    pos, shown = 0, 0
    while pos < len(text):
        offset = len(text[:pos].encode())
        char = text[pos]
        if char == "<":
            match = _TAG.match(text, pos)
            if match is None:
                raise EntityParseError(f'unexpected "<" at byte offset {offset}')
            closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3)
            if name not in _TAGS:
                raise EntityParseError(f'unsupported start tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1][0] != name:
                    raise EntityParseError(f'unmatched end tag "{name}" at byte offset {offset}')
                _, found, start = stack.pop()
                parents = [entry[0] for entry in stack]
                if shown > start and not (name == "code" and parents[-1:] == ["pre"]):
                    entities.append(_entity(name, found, start, shown))
            else:
                stack.append((name, _check_attrs(name, attrs, offset), shown))
            pos = match.end()
            continue
        if char == "&":
            entity = _ENTITY.match(text, pos)
            if entity is None:
                raise EntityParseError(f"unsupported HTML entity at byte offset {offset}")
            piece, pos = _decode_entity(entity), entity.end()
        else:
            piece, pos = char, pos + 1
        out.append(piece)
        shown += _utf16(piece)
    if stack:
        raise EntityParseError(f'can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """A message the fake accepted (sendMessage) or changed (editMessageText)."""

    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None
    reply_markup: Any
    link_preview_options: Any
    at: float
    reply_to: int | None = None
    """The message this one answers (`reply_parameters.message_id`), if any."""


@dataclass(eq=False)
class _LongPoll:
    """An open getUpdates request."""

    request: web.Request
    terminated: bool = False

    def open(self) -> bool:
        """Whether its client still waits for the answer (it may have hung up)."""
        transport = self.request.transport
        return transport is not None and not transport.is_closing()


class ApiError(Exception):
    """An error answer: HTTP status, description and optional `parameters`."""

    def __init__(self, status: int, description: str, **parameters: int) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


@dataclass
class _Traffic:
    """Accepted send times, to enforce the limits."""

    last_by_chat: dict[int, float] = field(default_factory=dict)
    by_group: dict[int, deque[float]] = field(default_factory=dict)
    overall: deque[float] = field(default_factory=deque)


def _user_object(user_id: int) -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": f"user{user_id}",
        "username": f"u{user_id}",
    }


class FakeTelegramApi:
    """The Bot API on loopback: see the module docstring. Use `async with`."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        per_chat_interval: float = 1.0,
        group_per_minute: int = 20,
        global_per_second: int = 30,
        tolerance: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.per_chat_interval, self.group_per_minute = per_chat_interval, group_per_minute
        self.global_per_second, self.tolerance, self._clock = global_per_second, tolerance, clock
        self.blocked_chats: set[int] = set()
        self.unknown_chats: set[int] = set()
        self.migrated: dict[int, int] = {}
        self.admins: dict[int, set[int]] = {}
        self.owners: dict[int, set[int]] = {}
        self.chat_types: dict[int, str] = {}
        """Chat id → `channel` (or another type) where the id alone does not say."""
        self.commands_by_scope: dict[str, list[Any]] = {}
        """setMyCommands per scope: `default`, or `chat:<id>` for BotCommandScopeChat."""
        self.get_updates_calls: list[Params] = []
        self.get_updates_callers: list[str] = []
        """The `base_url_for` name of each getUpdates caller, in order."""
        self.get_updates_conflicts = 0
        self._long_polls: list[_LongPoll] = []
        self.webhook_deletions = 0
        self.member_lookups = 0
        self.messages: list[PostedMessage] = []
        self.edits: list[PostedMessage] = []
        self.callback_answers: list[Params] = []
        self.commands: list[Any] = []
        self.webhook: Params | None = None
        self.rate_limited = 0
        self.rejected: list[tuple[int, str]] = []
        self._current: dict[tuple[int, int], PostedMessage] = {}
        self._traffic = _Traffic()
        self._failures: dict[str, list[int]] = {}
        self._updates: list[Params] = []
        self._next_update_id = 1
        self._incoming_ids = itertools.count(100_000)
        self._callback_ids = itertools.count(1)
        self._update_arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self._methods: dict[str, Callable[[Params], Any]] = {
            "getme": self._bot_user,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "getchatmember": self._get_chat_member,
            "getchat": self._get_chat,
            "setmycommands": self._set_my_commands,
            "getmycommands": lambda _params: self.commands,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
        }

    # ── lifecycle and test controls ──

    async def start(self) -> str:
        """Listen on a free loopback port; returns the server root (TELEGRAM_API_BASE_URL)."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{client}/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    def base_url_for(self, client: str) -> str:
        """The server root for one named client (see `get_updates_callers`)."""
        return f"{self.base_url}/{client}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegramApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def fail_next(self, count: int, *, status: int = 500, method: str = "sendMessage") -> None:
        """Answer the next `count` calls of `method` with HTTP `status` (429s carry
        `retry_after: 1`, as Telegram's flood control does)."""
        self._failures.setdefault(method.lower(), []).extend([status] * count)

    def push_update(self, update: Params) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        numbered = self.numbered(update)
        self._updates.append(numbered)
        self._update_arrived.set()
        return int(numbered["update_id"])

    def numbered(self, update: Params) -> Params:
        """The update with the next update_id (unless it has one)."""
        if "update_id" in update:
            return update
        update_id = self._next_update_id
        self._next_update_id += 1
        return {"update_id": update_id, **update}

    def pending_updates(self) -> int:
        """Updates queued for getUpdates and not yet confirmed by a later offset."""
        return len(self._updates)

    # ── the users' side: updates as Telegram would send them ──

    def chat_object(self, chat_id: int) -> Params:
        """The Chat for an id: positive private, `-100…` supergroup, else group; or `chat_types`."""
        kind = self.chat_types.get(chat_id)
        if kind is None and chat_id > 0:
            kind = "private"
        if kind is None:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        if kind == "private":
            return {"id": chat_id, "type": "private", "first_name": f"user{chat_id}"}
        return {"id": chat_id, "type": kind, "title": f"chat {chat_id}"}

    def message_update(
        self,
        chat_id: int,
        text: str | None,
        *,
        user_id: int | None = None,
        sender_chat_id: int | None = None,
        **fields: Any,
    ) -> Params:
        """A `message` (or, in a channel, a `channel_post`) with `text` (None for a
        service message), a command entity when it starts with `/`, from `user_id`
        or on behalf of `sender_chat_id`."""
        chat = self.chat_object(chat_id)
        message: Params = {"message_id": next(self._incoming_ids), "date": int(time.time())}
        message |= {"chat": chat, **({} if text is None else {"text": text}), **fields}
        if user_id is not None:
            message["from"] = _user_object(user_id)
        channel = chat["type"] == "channel"
        if sender_chat_id is not None or channel:
            message["sender_chat"] = self.chat_object(sender_chat_id or chat_id)
        if text is not None and text.startswith("/"):
            length = _utf16(text.split()[0]) if text.split() else 1
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return {"channel_post" if channel else "message": message}

    def push_message(self, chat_id: int, text: str | None, **kwargs: Any) -> int:
        """`push_update(message_update(...))`."""
        return self.push_update(self.message_update(chat_id, text, **kwargs))

    def click_update(self, chat_id: int, message_id: int, user_id: int, data: str) -> Params:
        """A `callback_query`: `user_id` pressed the button with `data` under one of the
        bot's messages, which comes with its current text, entities and keyboard."""
        posted = self._current[(chat_id, message_id)]
        text, entities = posted.text, list[Params]()
        if posted.parse_mode == "HTML":
            text, entities = parse_telegram_html_entities(posted.text)
        message = self._message_object(chat_id, message_id, text)
        message |= {"entities": entities, "reply_markup": posted.reply_markup}
        query = {"id": f"cb{next(self._callback_ids)}", "from": _user_object(user_id)}
        query |= {"message": message, "chat_instance": f"ci{chat_id}", "data": data}
        return {"callback_query": query}

    def member_update(self, chat_id: int, old: str, new: str, *, user_id: int = 1) -> Params:
        """A `my_chat_member`: the bot's status in the chat went from `old` to `new`."""
        bot, user = self._bot_user(), _user_object(user_id)
        change: Params = {"chat": self.chat_object(chat_id), "from": user}
        change |= {"date": int(time.time())}
        change["old_chat_member"] = self._member(old, bot)
        change["new_chat_member"] = self._member(new, bot)
        return {"my_chat_member": change}

    async def deliver_webhook(self, update: Params) -> int:
        """POST the update to the registered webhook with its secret, as Telegram does."""
        assert self.webhook is not None, "no webhook is set"
        secret = self.webhook.get("secret_token")
        return await self.post_webhook(update, {SECRET_HEADER: secret} if secret else {})

    async def post_webhook(self, update: Params | bytes, headers: dict[str, str]) -> int:
        """POST the update (or raw bytes) to the registered webhook URL with these
        headers; returns the HTTP status."""
        assert self.webhook is not None, "no webhook is set"
        url = self.webhook["url"]
        body = update if isinstance(update, bytes) else json.dumps(self.numbered(update)).encode()
        headers = {"Content-Type": "application/json", **headers}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as answer,
        ):
            return answer.status

    def texts(self, chat_id: int) -> list[str]:
        """The text (as sent, before entity parsing) of each message to one chat."""
        return [m.text for m in self.messages if m.chat_id == chat_id]

    # ── dispatch ──

    async def _handle(self, request: web.Request) -> web.Response:
        _REQUEST.set(request)
        if request.match_info["token"] != self.token:
            return _error_response(ApiError(401, "Unauthorized"))
        name = request.match_info["method"].lower()
        method = self._methods.get(name)
        if method is None:
            return _error_response(ApiError(404, "Not Found: method not found"))
        try:
            failures = self._failures.get(name)
            if failures:
                status = failures.pop(0)
                if status == 429:
                    raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
                raise ApiError(status, "Internal Server Error")
            result = method(await _read_params(request))
            if inspect.isawaitable(result):
                result = await result
        except ApiError as error:
            return _error_response(error)
        return web.json_response({"ok": True, "result": result})

    # ── messages ──

    def _send_message(self, params: Params) -> Params:
        chat_id = self._reachable_chat(params)
        text = self._checked_text(params, chat_id)
        self._take_rate_slot(chat_id)
        message_id = len(self.messages) + 1
        posted = self._posted(params, chat_id, message_id)
        self.messages.append(posted)
        self._current[(chat_id, message_id)] = posted
        return self._message_object(chat_id, message_id, text)

    def _edit_message_text(self, params: Params) -> Params:
        chat_id = self._reachable_chat(params)
        message_id = int(params.get("message_id", 0))
        current = self._current.get((chat_id, message_id))
        if current is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        text = self._checked_text(params, chat_id)
        posted = self._posted(params, chat_id, message_id)
        return self._edit(current, posted, text)

    def _edit_message_reply_markup(self, params: Params) -> Params:
        chat_id = self._reachable_chat(params)
        current = self._current.get((chat_id, int(params.get("message_id", 0))))
        if current is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        posted = PostedMessage(**{**current.__dict__, "reply_markup": markup, "at": self._clock()})
        shown = parse_telegram_html(current.text) if current.parse_mode == "HTML" else current.text
        return self._edit(current, posted, shown)

    def _edit(self, current: PostedMessage, posted: PostedMessage, text: str) -> Params:
        chat_id, message_id = posted.chat_id, posted.message_id
        if (posted.text, posted.reply_markup) == (current.text, current.reply_markup):
            raise ApiError(400, "Bad Request: message is not modified: content is the same")
        self._take_rate_slot(chat_id)
        self.edits.append(posted)
        self._current[(chat_id, message_id)] = posted
        return self._message_object(chat_id, message_id, text)

    def _posted(self, params: Params, chat_id: int, message_id: int) -> PostedMessage:
        return PostedMessage(
            chat_id=chat_id,
            message_id=message_id,
            text=str(params.get("text", "")),
            parse_mode=params.get("parse_mode"),
            reply_markup=params.get("reply_markup"),
            link_preview_options=params.get("link_preview_options"),
            at=self._clock(),
            reply_to=(params.get("reply_parameters") or {}).get("message_id"),
        )

    def _message_object(self, chat_id: int, message_id: int, text: str) -> Params:
        chat, bot = self.chat_object(chat_id), self._bot_user()
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": bot,
            "text": text,
        }

    def _reachable_chat(self, params: Params) -> int:
        """The chat id, or the error the API gives for an unknown, blocked or migrated chat."""
        try:
            chat_id = int(params.get("chat_id", ""))
        except ValueError:
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id in self.unknown_chats:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked_chats:
            who = "blocked by the user" if chat_id > 0 else "kicked from the group chat"
            raise ApiError(403, f"Forbidden: bot was {who}")
        if chat_id in self.migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.migrated[chat_id],
            )
        return chat_id

    def _checked_text(self, params: Params, chat_id: int) -> str:
        """The text as shown after entity parsing; 400 for bad HTML, empty or long text."""
        raw = str(params.get("text", ""))
        try:
            text = parse_telegram_html(raw) if params.get("parse_mode") == "HTML" else raw
        except EntityParseError as error:
            self.rejected.append((chat_id, raw))
            raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return text

    def _take_rate_slot(self, chat_id: int) -> None:
        """Count one message, or answer 429 with retry_after if it breaks a limit."""
        now, traffic, slack = self._clock(), self._traffic, self.tolerance
        waits = [0.0]
        last = traffic.last_by_chat.get(chat_id)
        if last is not None and now - last < self.per_chat_interval - slack:
            waits.append(last + self.per_chat_interval - now)
        group = traffic.by_group.setdefault(chat_id, deque()) if chat_id < 0 else None
        windows = [(group, self.group_per_minute, 60.0)]
        windows.append((traffic.overall, self.global_per_second, 1.0))
        for times, limit, period in windows:
            while times and times[0] <= now - period + slack:
                times.popleft()
            if times is not None and len(times) >= limit:
                waits.append(times[0] + period - now)
        if max(waits) > 0:
            self.rate_limited += 1
            retry_after = max(1, math.ceil(max(waits)))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        traffic.last_by_chat[chat_id] = now
        traffic.overall.append(now)
        if group is not None:
            group.append(now)

    # ── updates, chats, commands, webhooks ──

    async def _get_updates(self, params: Params) -> list[Params]:
        request = _REQUEST.get()
        self.get_updates_calls.append(params)
        self.get_updates_callers.append(request.match_info.get("client", ""))
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._terminate_long_polls()
        poll = _LongPoll(request)
        self._long_polls.append(poll)
        try:
            return await self._wait_for_updates(params, poll)
        finally:
            self._long_polls.remove(poll)

    def _terminate_long_polls(self) -> None:
        """End every open long poll: only the newest getUpdates of a bot is served."""
        for other in self._long_polls:
            if other.open() and not other.terminated:
                other.terminated = True
                self.get_updates_conflicts += 1
        self._update_arrived.set()

    async def _wait_for_updates(self, params: Params, poll: _LongPoll) -> list[Params]:
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        deadline = self._clock() + float(params.get("timeout", 0))
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        while not self._updates and self._clock() < deadline and not poll.terminated:
            self._update_arrived.clear()
            try:
                await asyncio.wait_for(self._update_arrived.wait(), deadline - self._clock())
            except TimeoutError:
                break
        if poll.terminated:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        return self._updates[:limit]

    def _bot_user(self, params: Params | None = None) -> Params:
        """getMe, and the `from` of the bot's own messages."""
        bot_id = int(self.token.split(":")[0])
        names = {"first_name": "newswatch", "username": "newswatch_test_bot"}
        return {"id": bot_id, "is_bot": True, **names, "can_join_groups": True}

    def _get_chat_member(self, params: Params) -> Params:
        self.member_lookups += 1
        chat_id = self._reachable_chat(params)
        user_id = int(params.get("user_id", 0))
        user = _user_object(user_id)
        if user_id in self.owners.get(chat_id, set()):
            return self._member("creator", user)
        if user_id in self.admins.get(chat_id, set()):
            return self._member("administrator", user)
        return self._member("member", user)

    def _member(self, status: str, user: Params) -> Params:
        if status == "administrator":
            return {"status": status, "user": user, **dict.fromkeys(_ADMIN_RIGHTS, False)}
        if status == "creator":
            return {"status": status, "user": user, "is_anonymous": False}
        if status == "kicked":
            return {"status": status, "user": user, "until_date": 0}
        return {"status": status, "user": user}

    def _get_chat(self, params: Params) -> Params:
        chat = self.chat_object(self._reachable_chat(params))
        gifts = ["unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription"]
        gift_types = dict.fromkeys([*gifts, "gifts_from_channels"], False)
        extra = {"accent_color_id": 0, "max_reaction_count": 11}
        return {**chat, **extra, "accepted_gift_types": gift_types}

    def _set_my_commands(self, params: Params) -> bool:
        commands = list(params.get("commands") or [])
        for command in commands:
            name, about = command.get("command", ""), command.get("description", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name) or not 1 <= len(about) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        scope = params.get("scope") or {"type": "default"}
        key = f"chat:{scope['chat_id']}" if scope.get("type") == "chat" else scope["type"]
        self.commands_by_scope[key] = commands
        if key == "default":
            self.commands = commands
        return True

    def _set_webhook(self, params: Params) -> bool:
        self.webhook = params if params.get("url") else None
        return True

    def _delete_webhook(self, params: Params) -> bool:
        self.webhook_deletions += 1
        return self._set_webhook({})

    def _answer_callback_query(self, params: Params) -> bool:
        self.callback_answers.append(params)
        return True

    def _get_webhook_info(self, params: Params) -> Params:
        url = (self.webhook or {}).get("url", "")
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}


async def _read_params(request: web.Request) -> Params:
    """Query, form or JSON parameters, with JSON-valued fields decoded."""
    params: Params = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    for name in _JSON_FIELDS & params.keys():
        if isinstance(params[name], str):
            params[name] = json.loads(params[name])
    return params


def _error_response(error: ApiError) -> web.Response:
    body: Params = {"ok": False, "error_code": error.status, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return web.json_response(body, status=error.status)
