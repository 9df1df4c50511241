"""glibc malloc tuning and the frozen startup heap (bot/core/memory.py)."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

from bot.core import memory
from bot.core.settings import load_settings
from bot.service.app import build_app


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


class _Node:
    """A tracked object in a cycle, as the collector walks them."""

    def __init__(self) -> None:
        self.me = self


def _in_a_generation(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects())


def test_freeze_takes_what_is_alive_out_of_the_collectors_walk_and_thaw_gives_it_back() -> None:
    alive = _Node()
    try:
        assert memory.freeze_heap() > 0
        assert not _in_a_generation(alive)  # frozen objects are in no generation
        fresh = _Node()
        assert _in_a_generation(fresh)  # what comes after is collected as usual
    finally:
        memory.thaw_heap()
    assert gc.get_freeze_count() == 0
    assert _in_a_generation(alive)


async def test_the_app_freezes_its_startup_heap_until_it_closes(tmp_path: Path) -> None:
    before = _Node()
    settings = load_settings(
        overrides={"data_dir": tmp_path, "database_url": f"sqlite:///{tmp_path}/m.db"}
    )
    app = await build_app(settings)
    try:
        assert gc.get_freeze_count() > 0
        assert not _in_a_generation(before)
        assert not _in_a_generation(app.rulebook)
    finally:
        await app.close()
    assert gc.get_freeze_count() == 0
    assert _in_a_generation(app.rulebook)
