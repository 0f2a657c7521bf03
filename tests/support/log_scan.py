"""A scan of everything the service logs during a test: no name, phone, e-mail, token or secret.

`watch()` is a generator for an autouse, function-scoped fixture (see tests/conftest.py): it
attaches a handler to the root logger that keeps every record at DEBUG and above (lowering the
root logger to DEBUG for the test and restoring it afterwards), and after the test fails it with
the offending lines when any formatted record, message plus exception text, contains:
- anything that looks like an e-mail address;
- a Japanese phone number (mobile 0[789]0, landline with hyphens, +81), the desk's own public
  number aside;
- the test channel secret or access token, or any `Bearer ...` token;
- one of the personal test strings below (names and readings the suites use).

What it sees: records of this test process, from every thread (the in-process worker, the fake
LINE and Microsoft servers, the Flask test client). Under pytest-xdist each worker process has its
own root logger and runs this for its own tests. What it does not see: processes the tests start
(gunicorn, `python -m bot.queue.worker`, `make run`); their logs go to their own stderr. The
`sqlalchemy` loggers keep their own WARNING level (SQLAlchemy sets it at import), as in production,
so SQL statements and their parameters are not logged and not scanned. werkzeug's INFO request
lines are skipped: they come from the test fakes' HTTP servers (the fake Graph's paths carry the
organizer mailbox) and the test live server; production serves through gunicorn with its access
log off (bot/gunicorn_conf.py). werkzeug's errors are still scanned.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator

# The desk's public number (DESK_PHONE's default) is not personal data.
ALLOWED = ("043-000-0000",)

# Personal test strings the suites type as names and readings.
PERSONAL = ("山田", "ヤマダ", "佐藤", "サトウ", "はるか", "ハルカ", "佐々木", "ササキ", "花子", "ハナコ")

PATTERNS = {
    "e-mail": re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"),
    # A number standing alone: not digits inside a longer token (a request id, a hex string).
    "mobile phone": re.compile(r"(?<![0-9A-Za-z-])0[789]0[-\s]?[0-9]{4}[-\s]?[0-9]{4}(?![0-9A-Za-z-])"),
    "phone": re.compile(r"(?<![0-9A-Za-z-])0[1-9][0-9]{0,3}-[0-9]{1,4}-[0-9]{4}(?![0-9A-Za-z-])"),
    "international phone": re.compile(r"\+81[-\s]?\(?0?\)?[1-9][0-9]{0,3}[-\s]?[0-9]{1,4}[-\s]?[0-9]{4}(?![0-9])"),
    "bearer token": re.compile(r"Bearer\s+\S+", re.IGNORECASE),
}

UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")

FORMAT = logging.Formatter("%(levelname)s %(name)s: %(message)s")


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._lines_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "werkzeug" and record.levelno == logging.INFO:
            return  # request lines of the fakes' and the live test server's HTTP servers (see above)
        try:
            line = FORMAT.format(record)
        except Exception as e:  # noqa: BLE001  a malformed record is itself worth showing, never a crash here
            line = f"{record.name}: unformattable record {record.msg!r} ({type(e).__name__})"
        with self._lines_lock:
            self.lines.append(line)


def leaks(line: str, secrets: Iterable[str]) -> list[str]:
    """What in one formatted record is personal data or a secret (empty: nothing)."""
    # NFKC: a full-width address or number is the same address or number.
    text = unicodedata.normalize("NFKC", line)
    for allowed in ALLOWED:
        text = text.replace(allowed, "")
    # Request and correlation ids are random UUIDs, whose digit groups can look like a phone number.
    text = UUID.sub("<uuid>", text)
    found = [f"{kind} {m.group(0)!r}" for kind, pattern in PATTERNS.items() for m in pattern.finditer(text)]
    found += [f"secret {s[:6]}…" for s in secrets if s and s in text]
    found += [f"personal test string {p!r}" for p in PERSONAL if p in text]
    return found


def watch(secrets: Iterable[str]) -> Iterator[Recorder]:
    """The body of the autouse fixture: record during the test, then fail on any leak."""
    secrets = tuple(secrets)
    root = logging.getLogger()
    recorder = Recorder()
    level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        yield recorder
    finally:
        root.removeHandler(recorder)
        root.setLevel(level)
    problems = [(line, found) for line in recorder.lines if (found := leaks(line, secrets))]
    if problems:
        import pytest

        shown = "\n".join(f"- {', '.join(found)} in: {line[:500]}" for line, found in problems[:10])
        pytest.fail(f"the service logged personal data or a secret ({len(problems)} records):\n{shown}",
                    pytrace=False)
