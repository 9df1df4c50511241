"""Content-Encoding decoding with one output budget across every layer.

httpx's decoders inflate each network read without a bound, layer after
layer, inside one call: a 980-byte body that is gzip of gzip of 512 MB of
zeros, sent with `Content-Encoding: gzip, gzip`, took the process past 1 GB
before the size cap saw a byte. Here every layer inflates with zlib's
`max_length`, so no layer ever holds more than the cap (plus one byte) of
output, and the first byte past the cap refuses the response. The fetcher
reads the raw stream (`httpx.Response.aiter_raw`, a public seam) and feeds it
through `BoundedDecoder`.

Codings: identity, gzip (x-gzip) and deflate (zlib-wrapped or raw, as
servers send both), stacked up to `MAX_LAYERS`; anything else is refused with
its name, since we only ever ask for `gzip, deflate`.
"""

from __future__ import annotations

import zlib

MAX_LAYERS = 3


class DecodeBudgetExceeded(Exception):
    """The decoded body would be larger than the budget."""


class UnsupportedEncoding(Exception):
    """A Content-Encoding we did not ask for and cannot decode, or a malformed body."""


class _Layer:
    """One zlib layer: gzip, or deflate with the zlib-or-raw guess httpx also makes."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        wbits = 16 + zlib.MAX_WBITS if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._obj = zlib.decompressobj(wbits)
        self._started = False
        self.produced = 0

    def decode(self, data: bytes, budget: int) -> bytes:
        try:
            out = self._obj.decompress(data, budget - self.produced + 1)
        except zlib.error as err:
            if self.coding == "deflate" and not self._started:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no header
                self._started = True
                return self.decode(data, budget)
            raise UnsupportedEncoding(f"{self.coding} body is corrupt ({err})") from None
        self._started = True
        self.produced += len(out)
        if self.produced > budget:
            raise DecodeBudgetExceeded
        return out

    def flush(self, budget: int) -> bytes:
        try:
            out = self._obj.flush()
        except zlib.error as err:
            raise UnsupportedEncoding(f"{self.coding} body is corrupt ({err})") from None
        self.produced += len(out)
        if self.produced > budget:
            raise DecodeBudgetExceeded
        return out


class BoundedDecoder:
    """Decodes a body sent with `content_encoding`; no layer produces more than `budget` bytes."""

    def __init__(self, content_encoding: str | None, budget: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        for coding in codings:
            if coding not in ("gzip", "x-gzip", "deflate"):
                raise UnsupportedEncoding(
                    f"unsupported Content-Encoding {coding[:30]!r} (we ask for gzip or deflate)"
                )
        if len(codings) > MAX_LAYERS:
            raise UnsupportedEncoding(
                f"Content-Encoding stacks {len(codings)} layers; at most {MAX_LAYERS} are read"
            )
        # Applied in the listed order, so decoded in the reverse one.
        self._layers = [_Layer(c) for c in reversed(codings)]
        self.budget = budget
        self.produced = 0

    def decode(self, chunk: bytes) -> bytes:
        for layer in self._layers:
            chunk = layer.decode(chunk, self.budget)
        return self._count(chunk)

    def flush(self) -> bytes:
        data = b""
        for layer in self._layers:
            decoded = layer.decode(data, self.budget) if data else b""
            data = decoded + layer.flush(self.budget)
        return self._count(data)

    def _count(self, data: bytes) -> bytes:
        self.produced += len(data)
        if self.produced > self.budget:
            raise DecodeBudgetExceeded
        return data
