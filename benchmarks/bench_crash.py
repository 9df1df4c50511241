"""Benchmark: the crash and fault scenarios of tests/test_crash.py, with their figures.

    .venv/bin/python benchmarks/bench_crash.py [--postgres URL] [--markdown FILE]

Runs the real service (`python -m bot run`, as a subprocess, configured by
environment variables) against the fake Telegram Bot API and a loopback feed:

- SIGKILL during delivery of 1,000 alerts, 20 times, on SQLite;
- two instances on one PostgreSQL database, either killed at random, 6 kills;
- PostgreSQL going away (a TCP proxy cuts every connection and refuses new
  ones for 4 s) mid-poll and again mid-delivery.

For each: alerts queued, messages Telegram received, duplicates, lost, and
how long each restart (or the database's return) took to send again. The
PostgreSQL scenarios need `--postgres` or NEWSWATCH_TEST_POSTGRES_URL (a
fresh database is created on that server and dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_crash import (  # noqa: E402
    POSTGRES_URL_VARIABLE,
    Outcome,
    check,
    database_outage,
    sigkill_during_delivery,
    two_instances_killed,
)


def row(result: Outcome) -> str:
    back = result.back_to_work
    median = statistics.median(back) if back else 0.0
    return (
        f"| {result.scenario} | {result.faults} | {result.alerts} | {result.received} "
        f"| {result.duplicates} | {result.lost} | {median:.1f} s / {max(back, default=0.0):.1f} s "
        f"| {result.lease:g} s | {result.seconds:.0f} s |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get(POSTGRES_URL_VARIABLE))
    parser.add_argument("--markdown", type=Path, help="append the table to this file")
    args = parser.parse_args()
    logging.getLogger("aiohttp.server").disabled = True  # a killed client's half request
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folders = [Path(tmp) / name for name in ("sqlite", "two", "outage")]
        for folder in folders:
            folder.mkdir()
        results.append(await sigkill_during_delivery(folders[0]))
        check(results[-1])  # prints its line; fails loudly if a property broke
        if args.postgres:
            results.append(await two_instances_killed(args.postgres, folders[1]))
            check(results[-1])
            results.append(await database_outage(args.postgres, folders[2]))
            check(results[-1])
        else:
            print(f"PostgreSQL scenarios skipped: set {POSTGRES_URL_VARIABLE} or --postgres")
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    header = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load after the runs {load}",
        "",
        "| scenario | faults | alerts | messages received | duplicates | lost "
        "| back to work (median / max) | lease | wall |",
        "|---|---|---|---|---|---|---|---|---|",
        *(row(result) for result in results),
    ]
    text = "\n".join(header)
    print(text)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
