"""docs/configuration.md is the deployer's only list of settings: every environment variable the
code reads must be in it, or a deployer cannot know it exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"

# The ways the code reads a setting: env.get("X"), env["X"], os.environ.get("X"), os.environ["X"],
# _int/_float/_list(env, "X", ...), and a constant named *_ENV holding the variable's name.
READS = [
    re.compile(r"""\b(?:env|environ)(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']"""),
    re.compile(r"""\b_(?:int|float|list)\(\s*env\s*,\s*["']([A-Z][A-Z0-9_]+)["']"""),
    re.compile(r"""\b\w*_ENV\s*=\s*["']([A-Z][A-Z0-9_]+)["']"""),
]


def settings_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for folder in ("bot", "models", "conversations", "handlers", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in READS:
                names.update(pattern.findall(text))
    return names


def test_every_setting_the_code_reads_is_in_the_configuration_reference():
    names = settings_read_by_the_code()
    # The patterns still find the settings (a refactor that renames the helpers must update them).
    assert {"LINE_CHANNEL_SECRET", "WEB_CONCURRENCY", "CONSOLE_SSO_CLIENT_ID", "RETENTION_DAYS",
            "PROMETHEUS_MULTIPROC_DIR"} <= names
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", REFERENCE.read_text(encoding="utf-8")))
    assert sorted(names - documented) == []
