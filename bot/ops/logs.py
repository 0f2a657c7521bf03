"""Logging for every process (web, worker, CLI): JSON lines in production, readable text locally.

Each record carries the id of the web request or the job it was written for, held in context
variables and added by a filter on the handler, so no log call has to pass it. Records about a
LINE or Graph call carry that platform's request id as a field (`line_request_id`,
`graph_request_id`, `graph_client_request_id`), given with `extra=` by the adapters.
"""

from __future__ import annotations

import logging
import random
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO

from pythonjsonlogger.json import JsonFormatter

FORMATS = ("json", "text")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_job: ContextVar[tuple[int, str] | None] = ContextVar("job", default=None)

# An id from a proxy or load balancer is kept only when it cannot smuggle anything into a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The incoming X-Request-Id when it looks like an id, else a new one."""
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    # Not uuid4: an id needs to be unique, not unguessable, and this is ten times cheaper on the
    # webhook's path (no system call). Python reseeds `random` in every forked process.
    return f"{random.getrandbits(128):032x}"


def set_request_id(value: str | None) -> None:
    _request_id.set(value)


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def job_context(job_id: int, kind: str) -> Iterator[None]:
    """Every record written while a job runs names the job."""
    token = _job.set((job_id, kind))
    try:
        yield
    finally:
        _job.reset(token)


class ContextFilter(logging.Filter):
    """Adds request_id (None outside a request) and, inside a job, job_id and job_kind."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        job = _job.get()
        if job is not None:
            record.job_id, record.job_kind = job
        return True


class TextFormatter(logging.Formatter):
    """`time level logger message [req=… job=… kind]`, for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        context = []
        if getattr(record, "request_id", None):
            context.append(f"req={record.request_id}")
        if getattr(record, "job_id", None) is not None:
            context.append(f"job={record.job_id} {getattr(record, 'job_kind', '')}")
        return f"{text} [{' '.join(context)}]" if context else text


class _TimeFirstJsonFormatter(JsonFormatter):
    def process_log_record(self, log_data):
        return {"time": log_data.pop("time", None), **log_data}


def json_formatter() -> logging.Formatter:
    return _TimeFirstJsonFormatter(
        ["levelname", "name", "message", "request_id"],
        rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        timestamp="time",
        # Not ASCII-escaped: a reader (and the tests' personal-data scan) sees the text as written.
        json_ensure_ascii=False,
    )


def make_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler with the chosen format and the request/job context filter."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(config) -> None:
    """Set up the root logger once per process, from LOG_FORMAT and LOG_LEVEL.

    A process whose root logger already has handlers (pytest's capture, a host's own logging
    set-up) is left as it is: this must never double every line or take over a test's handlers.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(make_handler(config.log_format))
    root.setLevel(config.log_level)
