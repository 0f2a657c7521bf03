"""Only bot/clock.py reads the wall clock: every rule asks the service's one clock, so the suite
(which freezes that clock) gives the same answers on any day."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "conversations", "models")
THE_CLOCK = ROOT / "bot" / "clock.py"

# (what the call is made on, the function): datetime.now(), date.today(), time.time() ...
WALL_CLOCK_CALLS = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "time_ns"), ("time", "localtime"), ("time", "gmtime"), ("time", "ctime"),
    ("func", "now"), ("func", "current_timestamp"), ("func", "current_date"), ("func", "localtimestamp"),
}
WALL_CLOCK_NAMES = {"time", "time_ns"}  # `from time import time`
DATABASE_CLOCK_SQL = re.compile(r"\bnow\(\)|\bcurrent_(timestamp|date|time)\b|\blocaltimestamp\b", re.IGNORECASE)


def _receiver(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def wall_clock_reads(source: str) -> list[tuple[int, str]]:
    """Where this module reads the machine's (or the database's) clock, as (line, what)."""
    tree = ast.parse(source)
    imported_from_time = {alias.asname or alias.name for node in ast.walk(tree)
                          if isinstance(node, ast.ImportFrom) and node.module == "time"
                          for alias in node.names if alias.name in WALL_CLOCK_NAMES}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and (_receiver(func.value), func.attr) in WALL_CLOCK_CALLS:
                found.append((node.lineno, f"{_receiver(func.value)}.{func.attr}()"))
            elif isinstance(func, ast.Name) and func.id in imported_from_time:
                found.append((node.lineno, f"{func.id}()"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and DATABASE_CLOCK_SQL.search(node.value):
            found.append((node.lineno, f"SQL {DATABASE_CLOCK_SQL.search(node.value).group(0)}"))
    return found


def project_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py") if p != THE_CLOCK)


def test_no_module_but_the_clock_reads_the_wall_clock():
    offenders = [f"{path.relative_to(ROOT)}:{line}: {what}"
                 for path in project_modules() for line, what in wall_clock_reads(path.read_text())]
    assert offenders == [], "read the service's clock (services.clock, db.clock, now_in(session)) instead:\n" + \
        "\n".join(offenders)


def test_the_scan_covers_the_whole_service():
    scanned = {str(p.relative_to(ROOT)) for p in project_modules()}
    assert {"bot/console/auth.py", "conversations/engine.py", "models/base.py"} <= scanned
    assert "bot/clock.py" not in scanned


@pytest.mark.parametrize("source", [
    "from datetime import datetime\nnow = datetime.now()",
    "import datetime\ntoday = datetime.date.today()",
    "from datetime import date\nday = date.today()",
    "import time\nstamp = time.time()",
    "from time import time as wall\nstamp = wall()",
    "from sqlalchemy import func\nq = func.now()",
    "QUERY = 'UPDATE jobs SET run_at = now() WHERE id = 1'",
    "QUERY = 'SELECT CURRENT_TIMESTAMP'",
])
def test_each_way_of_reading_the_wall_clock_is_caught(source):
    assert wall_clock_reads(source)


@pytest.mark.parametrize("source", [
    "import time\nstarted = time.monotonic()",
    "import time\nelapsed = time.perf_counter()",
    "now = services.clock()",
    "from datetime import datetime\nparsed = datetime.fromisoformat('2026-12-01T09:00:00+09:00')",
    "label = 'known'",
])
def test_monotonic_timers_and_the_services_clock_are_allowed(source):
    assert wall_clock_reads(source) == []
