"""Files and directories newswatch reads and writes, with one-line errors.

Every command and the service read paths the user gave (rules and feeds
files, NEWSWATCH_CONFIG, --input, OPML files, the data directory) and write a
few (`feeds export --output`, the data directory). Any `OSError` on such a
path becomes a `PathError` whose message is one line naming the path, what
it is for, what is wrong and how to fix it:

    cannot write the OPML export /missing-dir/x.opml: directory /missing-dir
    does not exist — create it or choose another --output

`describe_os_error` is the one mapping (errno → reason and fix); the helpers
below use it, and the CLI's last resort uses it for any `OSError` that gets
past them, so no file error reaches the user as a traceback.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from bot.core.errors import PathError

_REASONS = {
    errno.EACCES: ("permission denied", "check its permissions and the user newswatch runs as"),
    errno.EPERM: (
        "operation not permitted",
        "check its permissions and the user newswatch runs as",
    ),
    errno.EISDIR: ("is a directory", "name a file, not a directory"),
    errno.ENOTDIR: ("a part of the path is a file, not a directory", "check the path"),
    errno.EEXIST: ("exists and is not a directory", "remove it or choose another path"),
    errno.EROFS: ("the file system is read-only", "choose a writable location"),
    errno.ENOSPC: ("no space left on the device", "free some space"),
    errno.ELOOP: ("too many symbolic links", "check the links along the path"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter path"),
}


def describe_os_error(
    err: OSError, path: Path | str, what: str, *, set_by: str = "", doing: str = "read"
) -> str:
    """One line for `err` on `path`: "cannot read the rules file x.yaml: no such file
    or directory — check the path (set by NEWSWATCH_RULES_FILE)". `what` is the
    thing's role ("the rules file"); `set_by` names the setting or option that
    gives the path; `doing` is what newswatch tried: read, write or create."""
    reason = os_error_reason(err, path, writing=doing != "read")
    where = f" (set by {set_by})" if set_by else ""
    return f"cannot {doing} {what} {path}: {reason}{where}"


def os_error_reason(err: OSError, path: Path | str, *, writing: bool = False) -> str:
    """What is wrong and what to do, e.g. "is a directory — name a file, not a directory"."""
    reason, advice = _reason(err, Path(path), writing=writing)
    return f"{reason} — {advice}"


def _reason(err: OSError, path: Path, *, writing: bool) -> tuple[str, str]:
    if err.errno == errno.ENOENT:
        parent = path.parent
        if writing and not parent.is_dir():
            return f"directory {parent} does not exist", "create it or choose another path"
        return "no such file or directory", "check the path"
    if err.errno in _REASONS:
        return _REASONS[err.errno]
    return (err.strerror or type(err).__name__).lower(), "check the path"


def read_text(path: Path, what: str, *, set_by: str = "") -> str:
    """The UTF-8 text of `path`; PathError (one line) if it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise PathError(describe_os_error(err, path, what, set_by=set_by)) from None
    except UnicodeDecodeError as err:
        raise PathError(
            f"cannot read {what} {path}: not UTF-8 text (byte {err.start}) — save it as UTF-8"
        ) from None


def read_bytes(path: Path, what: str, *, set_by: str = "") -> bytes:
    """The bytes of `path`; PathError (one line) if it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise PathError(describe_os_error(err, path, what, set_by=set_by)) from None


def write_text_atomically(path: Path, text: str, what: str, *, set_by: str = "") -> None:
    """Write `text` to `path` via a temporary file in the same directory and a
    rename, so `path` is never left half-written; PathError (one line) on failure."""
    temporary: str | None = None
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
        temporary = None
    except OSError as err:
        raise PathError(describe_os_error(err, path, what, set_by=set_by, doing="write")) from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def ensure_directory(path: Path, what: str, *, set_by: str = "") -> None:
    """Create `path` (and its parents) unless it is a directory already;
    PathError (one line) when it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PathError(describe_os_error(err, path, what, set_by=set_by, doing="create")) from None
