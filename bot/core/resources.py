"""Files that ship inside the installed package, found with `importlib.resources`.

newswatch reads its default config, migrations, replay corpus and model from
package data. They are used as real files (SQLite, alembic and onnxruntime
want paths), so an install that keeps packages zipped is refused clearly.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bot.core.errors import ConfigError


def package_path(package: str, *parts: str) -> Path:
    """The file or folder `parts` inside `package`, as a path on disk."""
    found = resources.files(package).joinpath(*parts)
    if not isinstance(found, Path):
        raise ConfigError(
            f"{package}/{'/'.join(parts)} is not a file on disk: install newswatch unzipped"
            " (pip install newswatch)"
        )
    return found
