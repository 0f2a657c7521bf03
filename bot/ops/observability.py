"""The web app's observability: a request id on every request and log record (LINE's webhook,
answered before Flask, sets its own and counts its refusals: bot/line/webhook.py), and `/metrics`
behind a bearer token (METRICS_TOKEN; 404 while it is unset).

Everything here runs on the webhook's hot path except the scrape itself: a few microseconds per
request, never a database query.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from models.booking import (
    ATTENDED,
    CANCELLED,
    CONFIRMED,
    EXPIRED,
    HELD,
    NO_SHOW,
    RELEASED,
)
from models.job import DEAD, PENDING, RUNNING

from bot.clock import Clock
from bot.ops import logs
from bot.ops import metrics
from bot.ops import snapshot
from bot.services import current_services

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

BOOKING_STATUSES = (HELD, CONFIRMED, CANCELLED, EXPIRED, RELEASED, ATTENDED, NO_SHOW)
JOB_STATUSES = (PENDING, RUNNING, DEAD)


def init_observability(app: Flask) -> None:
    app.before_request(_take_request_id)
    app.after_request(_echo_request_id)
    app.teardown_request(_forget_request_id)
    app.extensions["probe"] = probe = snapshot.Probe(app.extensions["db"].url)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(probe, app.extensions["services"].clock))
    app.extensions["metrics_registry"] = registry
    app.register_blueprint(bp)


def _take_request_id() -> None:
    g.request_id = logs.request_id_from(request.headers.get("X-Request-Id"))
    logs.set_request_id(g.request_id)


def _echo_request_id(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-Id"] = request_id
    return response


def _forget_request_id(_error: BaseException | None) -> None:
    logs.set_request_id(None)


@bp.get("/metrics")
def scrape():
    token = current_services().config.metrics_token
    if not token:
        return Response("Not Found\n", 404, mimetype="text/plain")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response("Unauthorized\n", 401, mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
    body = metrics.process_metrics() + generate_latest(current_app.extensions["metrics_registry"])
    return Response(body, 200, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


class DatabaseCollector:
    """Gauges read from the database at scrape time, so every host and process reports the same."""

    def __init__(self, probe: snapshot.Probe, clock: Clock) -> None:
        self._probe, self._clock = probe, clock
        from handlers.registry import HANDLERS

        self._kinds = tuple(HANDLERS)  # every job kind, so a drained queue reads 0 rather than vanishing

    def collect(self):
        up = GaugeMetricFamily("desk_database_up", "1 when the metrics' database queries succeeded")
        try:
            with self._probe.connect() as conn:
                taken = snapshot.take(conn, self._clock())
        except Exception as e:  # noqa: BLE001  a scrape must still answer, saying the database is down
            log.warning("metrics: database queries failed (%s)", type(e).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily("desk_jobs", "Jobs in the queue by kind and status (done ones left out)",
                                 labels=["kind", "status"])
        kinds = sorted(set(self._kinds) | {kind for kind, _ in taken.jobs})
        for kind in kinds:
            for status in JOB_STATUSES:
                jobs.add_metric([kind, status], taken.jobs.get((kind, status), 0))
        yield jobs
        yield GaugeMetricFamily("desk_job_oldest_due_age_seconds",
                                "How long the oldest due pending job has waited past its run time",
                                value=taken.oldest_due_seconds)
        bookings = GaugeMetricFamily("desk_bookings", "Bookings by status", labels=["status"])
        for status in sorted(set(BOOKING_STATUSES) | set(taken.bookings)):
            bookings.add_metric([status], taken.bookings.get(status, 0))
        yield bookings
        yield GaugeMetricFamily("desk_operator_alerts_open", "Operator alerts not yet resolved",
                                value=taken.open_alerts)
        if taken.quota_remaining is not None:
            yield GaugeMetricFamily("desk_line_quota_remaining_ratio",
                                    "Share of this month's LINE message quota still left (1: all, 0: none), as last read",
                                    value=taken.quota_remaining)
