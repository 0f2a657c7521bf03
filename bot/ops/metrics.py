"""Prometheus metrics of this process: webhook traffic, LINE and Graph calls, jobs.

The database's view (queue depth, bookings by status, open alerts) is collected at scrape time by
`bot.ops.observability.DatabaseCollector`, so it is right however many processes and hosts run.

gunicorn runs several web processes: `bot/gunicorn_conf.py` sets PROMETHEUS_MULTIPROC_DIR before
any of them imports prometheus_client, which then keeps every process's values in files there, and
`/metrics` adds them up. A worker (`python -m bot.queue.worker`) serves its own on METRICS_PORT.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    start_http_server,
)

log = logging.getLogger(__name__)

# The *_created series only double the output; rates come from the counters themselves.
disable_created_metrics()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# LINE's documented webhook event types; anything else is counted as "other" so a forged or new
# type cannot add label values without bound.
LINE_EVENT_TYPES = (
    "message", "follow", "unfollow", "join", "leave", "memberJoined", "memberLeft", "postback",
    "videoPlayComplete", "beacon", "accountLink", "things", "unsend", "membership", "module",
    "activated", "deactivated", "botSuspended", "botResumed", "delivery",
)
REFUSAL_REASONS = ("missing_signature", "bad_signature", "not_utf8", "not_a_payload", "too_large", "other")

CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)
JOB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

WEBHOOK_EVENTS = Counter("desk_webhook_events", "LINE webhook events accepted, by event type", ["type"])
WEBHOOK_REFUSED = Counter("desk_webhook_refused", "Webhook requests refused, by reason", ["reason"])
LINE_SECONDS = Histogram("desk_line_api_request_seconds", "LINE Messaging API calls: time and outcome",
                         ["call", "outcome"], buckets=CALL_BUCKETS)
LINE_ERRORS = Counter("desk_line_api_errors", "LINE calls that did not succeed, by HTTP status "
                      "(none: no answer)", ["call", "status"])
GRAPH_SECONDS = Histogram("desk_graph_api_request_seconds", "Microsoft Graph calls: time and outcome",
                          ["call", "outcome"], buckets=CALL_BUCKETS)
GRAPH_ERRORS = Counter("desk_graph_api_errors", "Graph calls that did not succeed, by HTTP status "
                       "(none: no answer or no token)", ["call", "status"])
JOB_SECONDS = Histogram("desk_job_run_seconds", "Job executions by kind, and how long they took", ["kind"],
                        buckets=JOB_BUCKETS)
MESSAGES_SENT = Counter("desk_line_messages_sent", "Messages (requests of up to five) delivered to a user, by "
                        "method (reply: free; push: counts against the monthly quota) and kind", ["method", "kind"])
JOB_FAILURES = Counter("desk_job_failures", "Failed job attempts by kind: retried later, or dead",
                       ["kind", "result"])

# Resolved once: the webhook counts on its hot path without a label lookup.
_EVENT_COUNTERS = {t: WEBHOOK_EVENTS.labels(t) for t in (*LINE_EVENT_TYPES, "other")}
_REFUSAL_COUNTERS = {r: WEBHOOK_REFUSED.labels(r) for r in REFUSAL_REASONS}


def count_webhook_events(events: Iterable[Any]) -> None:
    other = _EVENT_COUNTERS["other"]
    for event in events:
        kind = event.get("type") if isinstance(event, dict) else None
        # A signed body may carry any JSON as "type" (a list is not even hashable): only a string counts.
        (_EVENT_COUNTERS.get(kind, other) if isinstance(kind, str) else other).inc()


def count_webhook_refusal(reason: str) -> None:
    _REFUSAL_COUNTERS.get(reason, _REFUSAL_COUNTERS["other"]).inc()


def observe_line_call(call: str, outcome: str, status: int | None, seconds: float) -> None:
    LINE_SECONDS.labels(call, outcome).observe(seconds)
    if outcome not in ("ok", "duplicate"):  # a 409 on a retry key means LINE already has the message
        LINE_ERRORS.labels(call, str(status or "none")).inc()


def count_sent(method: str, kind: str | None) -> None:
    MESSAGES_SENT.labels(method, kind or "notice").inc()


def observe_graph_call(call: str, outcome: str, status: int | None, seconds: float) -> None:
    GRAPH_SECONDS.labels(call, outcome).observe(seconds)
    if outcome != "ok":
        GRAPH_ERRORS.labels(call, str(status or "none")).inc()


@contextmanager
def timed_job(kind: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        JOB_SECONDS.labels(kind).observe(time.perf_counter() - started)


def job_failed(kind: str, status: str) -> None:
    JOB_FAILURES.labels(kind, "dead" if status == "dead" else "retry").inc()


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def _process_registry() -> CollectorRegistry:
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def process_metrics() -> bytes:
    """This process's metrics in Prometheus' text format (under gunicorn: every web process's)."""
    return generate_latest(_process_registry())


def serve_worker_metrics(config) -> None:
    """Serve this process's metrics on METRICS_BIND:METRICS_PORT (off when the port is 0)."""
    if not config.metrics_port:
        return
    start_http_server(config.metrics_port, addr=config.metrics_bind, registry=_process_registry())
    log.info("metrics served on %s:%s", config.metrics_bind, config.metrics_port)
