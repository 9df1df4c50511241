"""glibc malloc tuning (bot/core/memory.py)."""

from __future__ import annotations

import os
import sys

import pytest

from bot.core import memory


def _on_glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):
        return False


glibc_only = pytest.mark.skipif(not _on_glibc(), reason="glibc's malloc only")


@glibc_only
def test_glibc_takes_the_settings() -> None:
    assert memory.tune_malloc()


@glibc_only
def test_trim_returns_freed_pages() -> None:
    # Many mid-sized blocks freed together leave free pages inside the heap.
    blocks = [bytearray(64 * 1024) for _ in range(400)]
    keep = blocks[-1]  # the heap top stays in use: only pages inside it can go back
    del blocks
    assert memory.trim_malloc()
    del keep


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_a_no_op_off_linux(monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    monkeypatch.setattr(memory.sys, "platform", platform)
    assert memory.tune_malloc() is False
    assert memory.trim_malloc() is False


def test_a_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_glibc(name: str) -> str | None:
        raise ValueError(f"unrecognized configuration name {name!r}")

    monkeypatch.setattr(memory.sys, "platform", "linux")
    monkeypatch.setattr(memory.os, "confstr", no_glibc)
    assert memory.tune_malloc() is False
    assert memory.trim_malloc() is False
