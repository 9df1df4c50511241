"""Normalize feed entries into Stories: canonical URLs, title keys and stable keys.

A story's identity must survive the ways feeds disguise the same link: tracking
parameters, AMP variants, `www.`, default ports, fragments, parameter order and
trailing slashes. `canonical_url` folds those away; `story_from_entry` hashes
the result into `Story.key` so the same article polled twice, from two feeds or
in two snapshots, is one story.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.core.model import Entry, Feed, Story
from bot.core.sentences import lead_sentence
from bot.core.text import (
    MAX_CONTENT_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    bounded,
    fold_text,
)
from bot.pipeline.dedupe.fingerprint import fingerprint, story_lead

TRACKING_PARAMS = frozenset(
    {
        # ad and social click ids
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid",
        "li_fat_id", "_ga", "_gl", "mc_cid", "mc_eid", "mkt_tok", "oly_anon_id", "oly_enc_id",
        "vero_id", "wickedid", "s_cid", "spm", "guccounter", "guce_referrer",
        "guce_referrer_sig",
        # newsroom campaign tags: BBC (at_*), Daily Mail (ito, ns_*), NYT (smid, smtyp),
        # CNN (cnn-*), Microsoft (ocid), generic (cmpid, CMP, icid, xtor, ref_src)
        "at_medium", "at_campaign", "at_link_id", "at_link_origin", "at_link_type",
        "at_format", "at_ptr_name", "at_bbc_team", "at_custom1", "at_custom2",
        "at_custom3", "at_custom4", "ito", "ns_mchannel", "ns_campaign", "ns_source",
        "ns_linkname", "ns_fee", "smid", "smtyp", "ocid", "cmpid", "cmp", "icid", "xtor",
        "ref_src", "ref_url", "wt.mc_id", "wt.mc_ev", "__twitter_impression",
    }
)  # fmt: skip
"""Query parameters (compared case-insensitively) that only track the click; any
`utm_*` parameter is dropped as well."""

AMP_PARAMS = frozenset({("amp", "1"), ("amp", "true"), ("amp", ""), ("outputtype", "amp")})
"""Query parameters (name, value; case-insensitive) that ask for the AMP variant."""

TITLE_PREFIXES = (
    "live",
    "live updates",
    "watch",
    "update",
    "updated",
    "breaking",
    "breaking news",
    "just in",
    "developing",
    "exclusive",
    "video",
    "listen",
)
"""Labels dropped from the start of a title key ("LIVE: …", "BREAKING - …")."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PREFIX = re.compile(
    r"^\s*(?:(?:" + "|".join(re.escape(p) for p in TITLE_PREFIXES) + r")\s*[:|–—-]\s*)+",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
_KEY_LENGTH = 20
_FUTURE_TOLERANCE = timedelta(hours=1)


def canonical_url(url: str) -> str:
    """The identity form of a link: what is left when tracking and variants are folded.

    Lower-cases scheme and host, drops `www.`/`amp.` host prefixes, default
    ports, the fragment, tracking parameters and AMP switches; turns AMP paths
    (`/amp/`, trailing `/amp`, `.amp.html`) back into the article path; sorts
    the remaining query; drops a trailing slash; IDNA-encodes the host.
    Anything that is not an absolute http(s)-style URL is returned stripped.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return text
    if not parts.scheme or not host:
        return text
    scheme = parts.scheme.lower()
    netloc = _canonical_host(host)
    if ":" in netloc:
        netloc = f"[{netloc}]"  # an IPv6 literal keeps its brackets
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    return urlunsplit(
        (scheme, netloc, _canonical_path(parts.path), _canonical_query(parts.query), "")
    )


def _canonical_host(host: str) -> str:
    """Lower-case, IDNA-encoded host without a `www.` or `amp.` prefix."""
    host = host.lower().rstrip(".")
    for prefix in ("www.", "amp."):
        if host.startswith(prefix) and "." in host[len(prefix) :]:
            host = host[len(prefix) :]
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _canonical_path(path: str) -> str:
    """The article path with AMP variants undone and no trailing slash."""
    segments = [segment for segment in path.split("/") if segment.lower() != "amp"]
    path = "/".join(segments)
    if path.lower().endswith(".amp.html"):
        path = path[: -len(".amp.html")] + ".html"
    return path.rstrip("/")


def _canonical_query(query: str) -> str:
    """The query without tracking or AMP parameters, sorted by name then value."""
    kept = [
        (name, value)
        for name, value in parse_qsl(query, keep_blank_values=True)
        if not _is_noise_param(name, value)
    ]
    return urlencode(sorted(kept))


def _is_noise_param(name: str, value: str) -> bool:
    """Whether a query parameter only tracks the click or asks for AMP."""
    folded = name.lower()
    if folded.startswith("utm_") or folded in TRACKING_PARAMS:
        return True
    return (folded, value.lower()) in AMP_PARAMS


def normalize_title(title: str) -> str:
    """The title key: case-folded, accents stripped, punctuation dropped, spaces collapsed.

    Also drops the labels in TITLE_PREFIXES ("LIVE:", "WATCH:", "UPDATE:",
    "BREAKING:" …) so a re-labelled item keys the same as the original.
    """
    return fold_text(_PREFIX.sub("", title))


def story_key(
    *, canonical: str, feed_id: int, guid: str | None, publisher: str, title_key: str
) -> str:
    """A stable 20-hex-digit key: the canonical URL, else feed + GUID, else publisher + title."""
    if canonical:
        basis = f"url:{canonical}"
    elif guid:
        basis = f"guid:{feed_id}:{guid}"
    else:
        basis = f"title:{fold_text(publisher)}:{title_key}"
    return hashlib.sha1(basis.encode()).hexdigest()[:_KEY_LENGTH]


def story_from_entry(
    entry: Entry, *, feed: Feed, publisher: str, fetched_at: datetime, fingerprinted: bool = True
) -> Story:
    """Normalize one parsed feed entry into a Story ready for dedup and matching.

    With `fingerprinted=False` the SimHash is left at 0, for callers that
    compute it later (`with_fingerprint`) only for stories they have not seen.

    `published` falls back to `fetched_at`, and a date more than an hour after
    `fetched_at` (a feed's clock or time zone gone wrong) is clamped to it, so a
    bogus future date can never pin a story to the top or outlive dedup windows.
    """
    summary = bounded(entry.summary.strip(), MAX_SUMMARY_CHARS)
    title = _SPACES.sub(" ", bounded(entry.title, MAX_TITLE_CHARS)).strip()
    title = title or lead_sentence(summary)[:200]
    link = (entry.link or "").strip()
    canonical = canonical_url(link) if link else ""
    title_key = normalize_title(title)
    guid = entry.guid.strip() if entry.guid and entry.guid.strip() else None
    return Story(
        key=story_key(
            canonical=canonical,
            feed_id=feed.id,
            guid=guid,
            publisher=publisher,
            title_key=title_key,
        ),
        title=title,
        summary=summary,
        content=bounded(entry.content.strip(), MAX_CONTENT_CHARS),
        url=link,
        canonical_url=canonical,
        publisher=publisher,
        published=_published(entry.published, fetched_at),
        fetched_at=fetched_at,
        guid=guid,
        feed_id=feed.id,
        title_key=title_key,
        fingerprint=fingerprint(title_key, story_lead(summary)) if fingerprinted else 0,
    )


def with_fingerprint(story: Story) -> Story:
    """The story with its near-duplicate fingerprint computed (if it has none yet)."""
    if story.fingerprint:
        return story
    return replace(story, fingerprint=fingerprint(story.title_key, story_lead(story.summary)))


def _published(published: datetime | None, fetched_at: datetime) -> datetime:
    """The publication time in UTC, defaulted and clamped against the fetch time."""
    if published is None:
        return fetched_at
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    if published > fetched_at + _FUTURE_TOLERANCE:
        return fetched_at
    return published.astimezone(UTC)
