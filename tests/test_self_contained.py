"""The clone tests itself: no code, test, benchmark or tool names a path outside the
repository. (`.ci/run` proves the rest by running the suite on a copy of the
committed tree alone in a temporary directory.)"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("bot", "handlers", "filters", "config", "tests", "benchmarks", "tools")
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "/" + "work/", r"\.\./\.\./"]))
"""The team's reference folder beside the clone, this machine's workspace, or a
climb out of the repository."""


def test_nothing_names_a_path_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in FOLDERS
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in {".py", ".yaml", ".toml", ".cfg", ".ini", ".sh"} and path.is_file()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []
