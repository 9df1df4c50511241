"""Hostile inputs (issue 11): how fast each is refused and how much memory it takes.

    .venv/bin/python benchmarks/bench_hardening.py

Each case runs in this process, timed with perf_counter and traced with
tracemalloc (Python allocations, zlib's output buffers included). Prints a
markdown table.
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.model import FeedState
from bot.core.yamlsafe import load_yaml
from bot.pipeline.fetch.fetcher import Fetcher, FetchLimits, make_http_client
from bot.pipeline.parse.parser import screen_body

NOW = datetime.now(UTC)


def measure(run: Callable[[], object]) -> tuple[float, float, str]:
    """(seconds, peak traced MiB, outcome) of one call."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        run()
        outcome = "accepted"
    except Exception as err:
        outcome = f"{type(err).__name__}: {str(err).splitlines()[0][:70]}"
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, outcome


def gzip_stream(chunks: Iterator[bytes]) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(packer.compress(c) for c in chunks) + packer.flush()


def stacked_gzip_case() -> Callable[[], object]:
    from aiohttp import web

    inner = gzip_stream(bytes(1024 * 1024) for _ in range(512))
    bomb = gzip_stream(iter([inner]))

    async def fetch() -> None:
        async def handler(_: web.Request) -> web.Response:
            return web.Response(body=bomb, headers={"Content-Encoding": "gzip, gzip"})

        web_app = web.Application()
        web_app.router.add_get("/bomb", handler)
        runner = web.AppRunner(web_app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        limits = FetchLimits(allow_private_networks=True)
        client = make_http_client(limits)
        try:
            await Fetcher(client, limits).fetch(f"http://{host}:{port}/bomb", FeedState(), NOW)
        finally:
            await client.aclose()
            await runner.cleanup()

    print(f"stacked gzip body on the wire: {len(bomb)} bytes", file=sys.stderr)
    return lambda: asyncio.run(fetch())


def alias_bomb() -> str:
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\npoll_interval: *a9\n"


def opml_import_seconds(outlines: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        opml = Path(tmp) / "big.opml"
        body = "".join(
            f"<outline text='F{i}' xmlUrl='https://f{i}.example/rss'/>" for i in range(outlines)
        )
        opml.write_text(f"<opml><body>{body}</body></opml>")
        env = dict(os.environ, NEWSWATCH_DATA_DIR=f"{tmp}/data", NEWSWATCH_SEMANTIC="off")
        exe = Path(sys.executable).with_name("newswatch")
        started = time.perf_counter()
        subprocess.run([str(exe), "feeds", "import", str(opml)], env=env, check=True,
                       capture_output=True)  # fmt: skip
        return time.perf_counter() - started


def main() -> None:
    print(f"machine: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    cases: list[tuple[str, Callable[[], object]]] = [
        ("stacked gzip: gzip of gzip of 512 MiB zeros, 10 MiB cap", stacked_gzip_case()),
        ("prolog: 100,000 spaces then x", lambda: screen_body(b" " * 100_000 + b"x", None)),
        (
            "prolog: 40 spaces then x (hung ~8 h before)",
            lambda: screen_body(b" " * 40 + b"x", None),
        ),
        ("YAML alias bomb, 9 levels", lambda: load_yaml(alias_bomb())),
        ("YAML: 100,000 nested [", lambda: load_yaml("[" * 100_000)),
    ]
    print("| case | time | peak traced memory | outcome |\n|---|---|---|---|")
    for name, run in cases:
        seconds, peak, outcome = measure(run)
        print(f"| {name} | {seconds * 1000:.1f} ms | {peak:.1f} MiB | {outcome} |")
    seconds = opml_import_seconds(100_000)
    print(
        f"| OPML import, 100,000 outlines (CLI, one transaction) | {seconds:.1f} s | – | imported |"
    )


if __name__ == "__main__":
    main()
