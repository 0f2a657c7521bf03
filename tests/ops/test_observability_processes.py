"""Metrics and logs of the real processes: gunicorn's web processes add up into one /metrics, and
a worker serves its own metrics on METRICS_PORT and logs JSON lines."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import system_clock
from bot.line.ingest import EVENT_JOB
from bot.simulator import events as line_events
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET
from tests.support.processes import (
    ROOT,
    service_env,
    start_worker,
    stop_groups,
    wait_for,
)

pytestmark = pytest.mark.slow

TOKEN = "metrics-token-for-process-tests"
POSTS = 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def clock():
    """The workers here are processes of their own, on the machine's clock, so the test's app
    and services read that clock too."""
    return system_clock


@pytest.fixture
def env(database_url, fake_line, tmp_path):
    return service_env(
        DATABASE_URL=database_url, LINE_CHANNEL_SECRET=CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN,
        LINE_API_BASE_URL=fake_line.url, SECRET_KEY="test", INSTANCE_PATH=str(tmp_path / "instance"),
        PUBLIC_BASE_URL="https://desk.example.jp", METRICS_TOKEN=TOKEN, WORKER_POLL_SECONDS="0.05", TMPDIR=str(tmp_path),
    )


def test_metrics_add_up_every_gunicorn_web_process_and_their_files_go_at_exit(env, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "web.log", "wb") as log:  # the child keeps its own copy
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "python:bot.gunicorn_conf", "--workers", "2",
             "--bind", f"127.0.0.1:{port}", "bot:create_app()"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60, interval=0.2)
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
        for n in range(POSTS):  # a new connection each: gunicorn's processes share them out
            body = line_events.body(line_events.text(f"U{n:032x}", f"r{n}", "ヘルプ"))
            answer = requests.post(f"{base}/callback", data=body.encode(), timeout=5, headers={
                "Content-Type": "application/json", "X-Line-Signature": line_events.signature(CHANNEL_SECRET, body)})
            assert answer.status_code == 200
        metrics_dir = next(tmp_path.glob("desk-metrics-*"))
        assert len(list(metrics_dir.glob("counter_*.db"))) >= 2  # each web process keeps its counts there
        for _ in range(6):  # whichever process answers the scrape reports the whole service
            scraped = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
            assert sample(scraped.text, "desk_webhook_events_total", type="message") == POSTS
            assert sample(scraped.text, "desk_jobs", kind=EVENT_JOB, status="pending") == POSTS
    finally:
        stop_groups(web)
    assert not list(tmp_path.glob("desk-metrics-*"))


def test_a_worker_serves_its_own_metrics_and_logs_json_lines(env, line):
    port = free_port()
    worker = start_worker({**env, "METRICS_PORT": str(port), "LOG_FORMAT": "json"})
    try:
        line.post(line.follow("U" + "6" * 32))
        wait_for(lambda: line.received("U" + "6" * 32), timeout=30)
        url = f"http://127.0.0.1:{port}/metrics"
        wait_for(lambda: answers(url), timeout=10)
        scraped = requests.get(url, timeout=5).text
        assert sample(scraped, "desk_job_run_seconds_count", kind=EVENT_JOB) >= 1
        assert sample(scraped, "desk_line_api_request_seconds_count", call="reply", outcome="ok") >= 1
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=20)[0].decode()
    records = [json.loads(line) for line in output.splitlines()]
    assert any(r["message"].startswith("worker started") and r["level"] == "INFO" for r in records)
    assert all({"time", "level", "logger", "message", "request_id"} <= set(r) for r in records)
