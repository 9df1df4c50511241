"""Waiting in tests for something another task or process does, with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(
    condition: Callable[[], object], *, within: float = 15.0, what: str = "the condition"
) -> None:
    """Return once `condition()` is true; fail the test after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, f"timed out after {within:g} s waiting for {what}"
        await asyncio.sleep(0.05)
