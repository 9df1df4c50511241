"""WebSub subscriber: the protocol pieces (W3C Recommendation, 23 January 2018).

    discover(body, link_header, url) ─▶ HubLinks | None     (§4: Link header, atom:link)
    new_callback_id(), new_secret()                          (opaque id, hub.secret)
    request(client, hub, topic=…, callback=…, …)             (§5.1 subscriber request)
    verification_answer(pending, params) ─▶ challenge | None (§5.3 intent verification)
    signature_ok(secret, header, body)                       (§8 authenticated distribution)

Everything here is pure or takes its HTTP client as a parameter, so the hub
request goes through the same SSRF-guarded client as feed fetches. The store
of subscriptions, the callback routes and renewals are wired elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
from lxml import etree  # type: ignore[import-untyped]

from bot.core.errors import FeedParseError, FetchError
from bot.pipeline.parse.parser import ATOM, screen_body

__all__ = [
    "SAFETY_NET_SECONDS",
    "HubLinks",
    "PendingIntent",
    "discover",
    "lease_seconds_of",
    "new_callback_id",
    "new_secret",
    "request",
    "signature_ok",
    "verification_answer",
]

SAFETY_NET_SECONDS = 900.0
"""A feed its hub pushes is still polled, at least this often (15 min), in case a push
is lost; a longer NEWSWATCH_POLL_INTERVAL stands."""

_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256,
               "sha384": hashlib.sha384, "sha512": hashlib.sha512}  # fmt: skip
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r';\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))', re.I)
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True, slots=True)
class HubLinks:
    """Where a feed says it is published: its hub and its canonical topic URL."""

    hub: str
    topic: str


@dataclass(frozen=True, slots=True)
class PendingIntent:
    """A subscription state we asked a hub for, to match its verification request."""

    topic: str
    mode: str
    """"subscribe" or "unsubscribe"."""


def discover(body: bytes, link_header: str | None, url: str) -> HubLinks | None:
    """The hub and self URLs of a feed: the HTTP `Link` header first (§4 says it
    takes precedence), then `atom:link` in an Atom feed or an RSS channel.
    The topic defaults to the fetched URL when the feed names no self link."""
    hub, topic = _from_link_header(link_header or "", url)
    if hub is None or topic is None:
        doc_hub, doc_topic = _from_document(body, url)
        hub, topic = hub or doc_hub, topic or doc_topic
    if hub is None or not hub.startswith(("http://", "https://")):
        return None
    return HubLinks(hub=hub, topic=topic or url)


def _from_link_header(value: str, url: str) -> tuple[str | None, str | None]:
    hub = topic = None
    for match in _LINK.finditer(value):
        target, params = urljoin(url, match.group(1).strip()), match.group(2)
        rels = {
            r.lower() for m in _REL.finditer(params) for r in (m.group(1) or m.group(2)).split()
        }
        if "hub" in rels and hub is None:
            hub = target
        if "self" in rels and topic is None:
            topic = target
    return hub, topic


def _from_document(body: bytes, url: str) -> tuple[str | None, str | None]:
    try:
        if screen_body(body, None) != "xml":
            return None, None
        root = etree.fromstring(body, parser=_SAFE)
    except (FeedParseError, etree.XMLSyntaxError, ValueError):
        return None, None
    hub = topic = None
    for link in root.iter(f"{{{ATOM}}}link", "link"):
        rel, href = (link.get("rel") or "").lower().split(), link.get("href")
        if not href:
            continue
        if "hub" in rel and hub is None:
            hub = urljoin(url, href.strip())
        if "self" in rel and topic is None:
            topic = urljoin(url, href.strip())
    return hub, topic


def new_callback_id() -> str:
    """An opaque, unguessable id for a callback URL (`/websub/<id>`)."""
    return secrets.token_urlsafe(24)


def new_secret() -> str:
    """A random `hub.secret` (§5.1: under 200 bytes)."""
    return secrets.token_urlsafe(32)


async def request(
    client: httpx.AsyncClient,
    hub: str,
    *,
    topic: str,
    callback: str,
    mode: str = "subscribe",
    secret: str | None = None,
    lease_seconds: int | None = None,
) -> None:
    """Send a subscribe/unsubscribe request to a hub (§5.1); the hub answers
    202 Accepted (or 2xx) and verifies our intent later. Raises `FetchError`
    with a one-line reason when the hub is unreachable or refuses."""
    form = {"hub.mode": mode, "hub.topic": topic, "hub.callback": callback}
    if secret is not None and mode == "subscribe":
        form["hub.secret"] = secret
    if lease_seconds is not None and mode == "subscribe":
        form["hub.lease_seconds"] = str(lease_seconds)
    try:
        response = await client.post(hub, data=form)
    except httpx.HTTPError as err:
        raise FetchError(f"hub {hub} unreachable: {type(err).__name__}: {err}") from err
    if not 200 <= response.status_code < 300:
        reason = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        raise FetchError(
            f"hub {hub} refused the {mode} request: HTTP {response.status_code} {reason}".rstrip()
        )


def verification_answer(pending: PendingIntent | None, params: Mapping[str, str]) -> str | None:
    """The `hub.challenge` to echo when a verification request matches what we
    asked for (same topic and mode), else None (answer 404, §5.3.1)."""
    if pending is None:
        return None
    challenge = params.get("hub.challenge")
    if not challenge:
        return None
    if params.get("hub.mode") != pending.mode or params.get("hub.topic") != pending.topic:
        return None
    return challenge


def lease_seconds_of(params: Mapping[str, str]) -> int | None:
    """`hub.lease_seconds` of a subscribe verification, if a positive integer."""
    value = params.get("hub.lease_seconds", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def signature_ok(secret: str, header: str | None, body: bytes) -> bool:
    """True when `X-Hub-Signature: method=hexdigest` is the HMAC of `body` under
    `secret` with one of sha1/sha256/sha384/sha512, compared in constant time."""
    if not header or "=" not in header:
        return False
    method, _, given = header.strip().partition("=")
    algorithm = _ALGORITHMS.get(method.strip().lower())
    if algorithm is None:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, algorithm).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())
