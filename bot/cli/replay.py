"""A loopback HTTP server that replays captured feed snapshots, for the demo.

Each channel is a folder of snapshots of one real feed (file names sort by
capture time). The server serves a channel's current snapshot at
`/<channel>.xml` with an ETag (304 on a matching If-None-Match), and `advance()`
moves every channel to its next snapshot, as if the feeds were live.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from aiohttp import web

from bot.core.resources import package_path

BUNDLED_CORPUS = package_path("bot.cli", "corpus")


@dataclass
class Channel:
    name: str
    snapshots: list[Path]
    position: int = 0

    @property
    def current(self) -> Path:
        return self.snapshots[min(self.position, len(self.snapshots) - 1)]


def discover_channels(corpus: Path) -> list[Channel]:
    """One channel per folder of .xml snapshots (edge cases get one channel each)."""
    channels = []
    for folder in sorted(path for path in corpus.iterdir() if path.is_dir()):
        files = sorted(folder.glob("*.xml"))
        if folder.name.startswith("_"):
            channels += [
                Channel(f"{folder.name.strip('_')}-{f.stem.split('-')[0]}", [f]) for f in files
            ]
        elif files:
            channels.append(Channel(folder.name, files))
    return channels


@dataclass
class ReplayServer:
    """Serves `corpus` on 127.0.0.1 (random port) until closed."""

    corpus: Path = BUNDLED_CORPUS
    channels: list[Channel] = field(default_factory=list)
    requests: int = 0
    _runner: web.AppRunner | None = None
    _port: int = 0

    @property
    def ticks(self) -> int:
        """How many advances until every channel has shown its last snapshot."""
        return max((len(channel.snapshots) for channel in self.channels), default=0)

    def url(self, channel: Channel) -> str:
        return f"http://127.0.0.1:{self._port}/{channel.name}.xml"

    def advance(self) -> None:
        for channel in self.channels:
            channel.position += 1

    async def __aenter__(self) -> ReplayServer:
        self.channels = discover_channels(self.corpus)
        app = web.Application()
        app.router.add_get("/{name}.xml", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.Response:
        self.requests += 1
        channel = next((c for c in self.channels if c.name == request.match_info["name"]), None)
        if channel is None:
            raise web.HTTPNotFound()
        body = channel.current.read_bytes()
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/xml", headers={"ETag": etag})
