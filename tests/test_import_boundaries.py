"""The folders' direction holds: entry points -> handlers -> adapters and models; the conversation
core imports none of them; adapters never reach back into the console or the worker; nothing
imports a test module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB_AND_DATABASE = ("flask", "werkzeug", "sqlalchemy", "psycopg", "requests", "httpx", "urllib3", "linebot",
                    "msal", "alembic")

# (modules under this folder, may not import modules starting with any of these)
RULES = [
    ("conversations", ("bot", "handlers", "models", "tests") + WEB_AND_DATABASE),
    ("models", ("bot", "handlers", "tests", "flask", "linebot", "msal", "requests")),
    ("bot/line", ("bot.console", "bot.queue.worker", "bot.simulator", "tests")),
    ("bot/teams", ("bot.console", "bot.queue.worker", "bot.simulator", "bot.line", "tests")),
    ("handlers", ("bot.console", "bot.queue.worker", "bot.simulator", "bot.cli", "tests")),
    ("bot", ("tests",)),
    ("tests", ()),  # below: no test module imports another
]


def imports_of(source: str, module: str) -> set[str]:
    """Every module this source imports, absolute, with each `from X import y` also as X.y."""
    found: set[str] = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def violations(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        name = module_name(path)
        for imported in sorted(imports_of(path.read_text(), name)):
            parts = imported.split(".")
            if folder == "tests" and parts[0] == "tests" and any(p.startswith("test_") for p in parts):
                found.append(f"{name} imports the test module {imported}")
            elif any(imported == f or imported.startswith(f + ".") or (f.endswith("_") and imported.startswith(f))
                   for f in forbidden):
                found.append(f"{name} imports {imported}")
    return found


@pytest.mark.parametrize(("folder", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_each_folder_imports_only_in_its_direction(folder, forbidden):
    assert violations(folder, forbidden) == []


def test_a_forbidden_import_is_caught(tmp_path):
    assert imports_of("from sqlalchemy import select\nimport flask", "conversations.x") >= {"sqlalchemy", "flask"}
    assert "bot.console.auth" in imports_of("from ..console import auth", "bot.line.webhook")
    assert "tests.line.test_webhook" in imports_of("from tests.line.test_webhook import X", "tests.ops.test_y")
