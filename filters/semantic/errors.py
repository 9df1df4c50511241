"""The semantic tier's error, in a module of its own so every backend can raise it
without importing the package that loads the backends (no import cycle)."""

from __future__ import annotations

from bot.core.errors import NewswatchError


class SemanticUnavailableError(NewswatchError):
    """The semantic tier cannot run: runtime packages or model files are missing."""
