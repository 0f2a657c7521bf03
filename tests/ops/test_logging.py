"""Log lines as an operator reads them: JSON in production, text locally, each naming the request
or the job it was written for and LINE's request id, never personal data."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest

from bot.queue import jobs
from bot.config import Config
from bot.ops.logs import configure_logging, make_handler
from bot.line.outbox import DELIVER_JOB
from bot.queue.worker import Worker
from bot.clock import system_clock
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET
from tests.support import log_scan
from tests.support.fake_line import REPLY

USER = "U" + "5" * 32


@contextmanager
def capture(log_format: str) -> Iterator[Callable[[], list[str]]]:
    """Lines as the production handler writes them, for the length of a test."""
    stream = io.StringIO()
    handler = make_handler(log_format, stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: stream.getvalue().splitlines()
    finally:
        root.removeHandler(handler)


@pytest.fixture
def json_log() -> Iterator[Callable[[], list[dict]]]:
    with capture("json") as lines:
        yield lambda: [json.loads(line) for line in lines()]


@pytest.fixture
def text_log() -> Iterator[Callable[[], list[str]]]:
    with capture("text") as lines:
        yield lines


def test_a_json_line_carries_the_request_id_the_proxy_sent_and_the_response_echoes_it(line, json_log):
    response = line.client.post("/callback", data=b'{"events": []}', content_type="application/json",
                                headers={"X-Line-Signature": "forged", "X-Request-Id": "lb-7f3a-0001"})
    assert response.status_code == 400
    assert response.headers["X-Request-Id"] == "lb-7f3a-0001"
    refused = next(r for r in json_log() if r["message"] == "webhook refused: bad signature")
    assert refused["request_id"] == "lb-7f3a-0001"
    assert (refused["level"], refused["logger"]) == ("WARNING", "bot.line.webhook")
    assert abs((datetime.fromisoformat(refused["time"]) - system_clock()).total_seconds()) < 60


def test_a_request_without_a_usable_id_gets_a_new_one(client):
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz", headers={"X-Request-Id": "two words\" injected"}).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


def test_a_refused_line_reply_is_logged_with_lines_request_id_and_the_job_and_nothing_personal(
        line, fake_line, worker, json_log):
    fake_line.fail_next(REPLY, 500)
    line.post(line.text(USER, "山田花子です。電話は090-1234-5678、メールは hanako@example.com"))
    worker.run_until_idle()
    records = json_log()
    refused = next(r for r in records if r.get("line_request_id") == "fault")
    assert refused["logger"] == "bot.line.api" and refused["level"] == "WARNING"
    assert refused["job_kind"] == DELIVER_JOB and isinstance(refused["job_id"], int)
    assert refused["request_id"] is None  # written by the worker, outside any web request
    for record in records:
        if record["logger"] != "werkzeug":  # the fake LINE server's own request lines
            assert not log_scan.leaks(json.dumps(record, ensure_ascii=False), [CHANNEL_SECRET, ACCESS_TOKEN])


def test_a_failing_job_logs_its_exception_in_one_json_line(services, json_log):
    def explode(_services, _payload):
        raise RuntimeError("the disk is on fire")

    with services.db.transaction() as session:
        job_id = jobs.enqueue(session, "explode", {})
    Worker(services, {"explode": explode}).run_once()
    failed = next(r for r in json_log() if r["message"].startswith(f"job {job_id} (explode) failed"))
    assert failed["level"] == "ERROR" and failed["job_id"] == job_id and failed["job_kind"] == "explode"
    assert "RuntimeError: the disk is on fire" in failed["exception"]


def test_the_text_format_shows_the_request_and_the_job_in_brackets(client, services, text_log):
    client.post("/callback", data=b"{}", headers={"X-Line-Signature": "forged", "X-Request-Id": "req-42"})
    with services.db.transaction() as session:
        jobs.enqueue(session, "no_such_kind", {})
    Worker(services).run_until_idle()
    lines = text_log()
    assert any(re.search(r" WARNING bot\.line\.webhook webhook refused: bad signature \[req=req-42\]$", li) for li in lines)
    assert any(re.search(r" ERROR bot\.queue\.worker job \d+ \(no_such_kind\) is dead .*\[job=\d+ no_such_kind\]$", li)
               for li in lines)


def test_the_format_defaults_to_json_with_a_real_channel_and_to_text_in_simulator_mode(tmp_path):
    real = {"INSTANCE_PATH": str(tmp_path), "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t",
            "SECRET_KEY": "k", "PUBLIC_BASE_URL": "https://desk.example.jp"}
    assert Config.from_env(real).log_format == "json"
    assert Config.from_env({**real, "LOG_FORMAT": "text", "LOG_LEVEL": "warning"}).log_level == "WARNING"
    assert Config.from_env({"INSTANCE_PATH": str(tmp_path)}).log_format == "text"
    with pytest.raises(RuntimeError, match="LOG_FORMAT"):
        Config.from_env({**real, "LOG_FORMAT": "xml"})


def test_configuring_logging_leaves_a_root_logger_that_already_has_handlers_alone(config):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(config.but(log_format="json", log_level="ERROR"))
    assert root.handlers == handlers and root.level == level
