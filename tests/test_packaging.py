"""The package runs anywhere: a wheel built from exactly what the Dockerfile copies,
installed (not editable) into a fresh virtual environment with the Dockerfile's
extras, runs `newswatch demo` and `newswatch run --help` from an empty directory.

This is what `docker build` does, without Docker: if a file the code reads at
run time is not package data, the demo fails here. It needs PyPI (pip builds
with setuptools and installs the dependencies), and takes a few minutes the
first time (pip's cache makes later runs faster).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache")
SUMMARY = re.compile(r"^demo: (\d+) feeds, (\d+) polls .* (\d+) alerts, (\d+) delivered", re.M)


def dockerfile_copies() -> list[str]:
    """The source paths of the Dockerfile's COPY lines (build context relative)."""
    sources: list[str] = []
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("COPY "):
            continue
        words = shlex.split(line)
        if not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def dockerfile_extras() -> str:
    """The extras of the Dockerfile's `pip install ".[…]"`, e.g. "semantic,fulltext"."""
    found = re.search(r'pip install\s+"\.\[([^\]]*)\]"', DOCKERFILE.read_text(encoding="utf-8"))
    assert found, 'the Dockerfile no longer installs the package as pip install ".[extras]"'
    return found.group(1)


def test_the_dockerfile_is_read_as_expected() -> None:
    assert {"pyproject.toml", "README.md", "bot", "handlers", "filters", "config"} <= set(
        dockerfile_copies()
    )
    assert "semantic" in dockerfile_extras().split(",")


def run(argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{argv[:4]} exited {done.returncode}:\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def clean_environment(home: Path) -> dict[str, str]:
    """The environment without any newswatch, Telegram or Slack setting."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("NEWSWATCH_", "TELEGRAM_", "SLACK_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.setdefault("HOME", str(home))
    return env


@pytest.mark.slow
def test_a_wheel_of_what_the_dockerfile_copies_runs_the_demo_from_an_empty_directory(
    tmp_path: Path,
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for source in dockerfile_copies():
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=IGNORED)
        else:
            shutil.copy2(origin, context / source)
    build = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
         "-w", str(tmp_path / "dist"), str(context)],
        cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert "project.license` as a TOML table is deprecated" not in build
    (wheel,) = (tmp_path / "dist").glob("newswatch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith("/METADATA")))
    assert b"License-Expression: MIT" in metadata

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, timeout=300)
    python, newswatch = venv / "bin" / "python", venv / "bin" / "newswatch"
    run(  # --no-compile: byte-compiling sympy and the rest costs about a minute
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
         "--no-compile", f"{wheel}[{dockerfile_extras()}]"],
        cwd=tmp_path, timeout=1500,
    )  # fmt: skip

    empty = tmp_path / "empty"
    empty.mkdir()
    env = clean_environment(tmp_path)
    demo = run([str(newswatch), "demo"], cwd=empty, env=env, timeout=600)
    summary = SUMMARY.search(demo)
    assert summary, demo[-3000:]
    feeds, polls, alerts, delivered = (int(n) for n in summary.groups())
    assert feeds >= 8 and polls > feeds and alerts > 0 and delivered == alerts
    assert "Traceback" not in demo
    assert list(empty.iterdir()) == [], "the demo left files in the working directory"

    help_text = run([str(newswatch), "run", "--help"], cwd=empty, env=env, timeout=120)
    assert "Start the service" in help_text
