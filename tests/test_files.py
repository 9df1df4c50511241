"""bot.core.files: the one OSError → one-line mapping, and the helpers built on it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from bot.core.errors import ConfigError, PathError
from bot.core.files import (
    describe_os_error,
    ensure_directory,
    read_bytes,
    read_text,
    write_text_atomically,
)


def os_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@pytest.mark.parametrize(
    ("code", "doing", "says"),
    [
        (errno.EACCES, "read", "cannot read the rules file /r.yaml: permission denied — check its"
         " permissions and the user newswatch runs as (set by NEWSWATCH_RULES_FILE)"),
        (errno.EPERM, "write", "cannot write the rules file /r.yaml: operation not permitted"),
        (errno.EROFS, "create", "cannot create the rules file /r.yaml: the file system is"
         " read-only — choose a writable location"),
        (errno.ENOSPC, "write", "no space left on the device — free some space"),
        (errno.EIO, "read", "cannot read the rules file /r.yaml: input/output error — check the"
         " path"),
    ],
)  # fmt: skip
def test_each_error_is_one_line_with_a_fix(code: int, doing: str, says: str) -> None:
    line = describe_os_error(
        os_error(code), "/r.yaml", "the rules file", set_by="NEWSWATCH_RULES_FILE", doing=doing
    )
    assert says in line and "\n" not in line
    assert line.endswith("(set by NEWSWATCH_RULES_FILE)")


def test_a_missing_parent_is_named_when_writing(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "x.opml"
    line = describe_os_error(os_error(errno.ENOENT), target, "the export", doing="write")
    assert f"directory {tmp_path / 'nope'} does not exist — create it" in line
    reading = describe_os_error(os_error(errno.ENOENT), target, "the export")
    assert "no such file or directory — check the path" in reading


def test_read_helpers_map_errors_and_bad_text(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(PathError, match=r"not UTF-8 text \(byte 3\) — save it as UTF-8"):
        read_text(tmp_path / "latin1.txt", "the items file")
    with pytest.raises(PathError, match="is a directory"):
        read_bytes(tmp_path, "the OPML file")
    assert issubclass(PathError, ConfigError)  # callers that handle ConfigError still do


def test_atomic_write_replaces_whole_and_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.opml"
    write_text_atomically(target, "first", "the export")
    write_text_atomically(target, "second", "the export")
    assert target.read_text() == "second"
    with pytest.raises(PathError, match="is a directory"):
        write_text_atomically(tmp_path, "x", "the export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.opml"]


def test_ensure_directory(tmp_path: Path) -> None:
    ensure_directory(tmp_path / "a" / "b", "the data directory")
    ensure_directory(tmp_path / "a" / "b", "the data directory")  # already there: fine
    (tmp_path / "f").write_text("")
    with pytest.raises(PathError, match=r"cannot create the data directory .*/f: exists and is"):
        ensure_directory(tmp_path / "f", "the data directory")
