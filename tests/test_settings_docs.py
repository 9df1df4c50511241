"""The settings are documented, and what is documented is real.

- the README's settings table lists exactly the settings class's variables
  (and NEWSWATCH_CONFIG), so a new setting must be documented and a removed
  one must leave the table;
- every setting is read by the code (outside the settings module), so
  nothing documented is dead;
- `config/newswatch.example.yaml` names every setting and loads through the
  real settings loader.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.core.settings import ENV_NAMES, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLE = ROOT / "config" / "newswatch.example.yaml"
CODE = [ROOT / "bot", ROOT / "handlers", ROOT / "filters"]
SETTINGS_MODULE = ROOT / "bot" / "core" / "settings.py"
READ_ELSEWHERE = {"NEWSWATCH_CONFIG"}
"""Read by the settings loader itself, not a field."""


def readme_settings_table() -> list[str]:
    """Every variable in the first column of the table under '### Settings'."""
    section = README.read_text(encoding="utf-8").split("### Settings", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "README has no settings table under '### Settings'"
    names = []
    for row in rows:
        first_cell = row.split("|")[1]
        names += re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell)
    return names


def test_the_readme_table_is_the_settings_class_both_ways() -> None:
    documented = readme_settings_table()
    assert len(documented) == len(set(documented)), "a variable is listed twice"
    real = set(ENV_NAMES.values()) | READ_ELSEWHERE
    assert sorted(real - set(documented)) == [], "settings missing from README's table"
    assert sorted(set(documented) - real) == [], "README documents settings the code lacks"


def settings_attributes_read() -> set[str]:
    """Names read as `<…settings>.name` anywhere in the code (in the settings module
    also as `self.name`, which its derived properties such as the database URL do)."""
    read: set[str] = set()
    for folder in CODE:
        for path in folder.rglob("*.py"):
            owners = ("settings", "self") if path == SETTINGS_MODULE else ("settings",)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and _owner(node.value).endswith(owners):
                    read.add(node.attr)
    return read


def _owner(node: ast.expr) -> str:
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name if isinstance(name, str) else ""


def test_every_setting_is_read_by_the_code() -> None:
    unread = sorted(set(Settings.model_fields) - settings_attributes_read())
    assert unread == [], f"settings no code reads (wire them or remove them): {unread}"


def test_the_example_file_names_every_setting_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    named = set(re.findall(r"^#? ?([a-z_]+):", text, flags=re.MULTILINE))
    assert sorted(set(Settings.model_fields) - named) == []
    for variable in [*ENV_NAMES.values(), "NEWSWATCH_CONFIG"]:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(EXAMPLE))
    settings = load_settings()
    defaults = Settings()
    for key in re.findall(r"^([a-z_]+):", text, flags=re.MULTILINE):  # the lines set in it
        assert getattr(settings, key) == getattr(defaults, key), key
