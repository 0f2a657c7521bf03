"""The bench's fake LINE (bench/line.py): every call answered after the set delay, concurrent calls
delayed side by side rather than one after another."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bench.line import ACCESS_TOKEN, BenchLine
from tests.support.fake_line import QUOTA, REPLY

AUTHORIZED = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


@pytest.fixture
def line():
    fake = BenchLine(latency_ms=300)
    yield fake
    fake.close()


def _timed_quota(url: str) -> tuple[int, float]:
    started = time.monotonic()
    status = requests.get(url + QUOTA, headers=AUTHORIZED, timeout=10).status_code
    return status, time.monotonic() - started


def test_concurrent_calls_are_each_delayed_but_not_one_after_another(line):
    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(_timed_quota, [line.url] * 20))
    elapsed = time.monotonic() - started
    assert [status for status, _ in answers] == [200] * 20
    assert min(took for _, took in answers) >= 0.3
    assert elapsed < 20 * 0.3 / 2  # one after another they would take 6 s


def test_a_reply_counts_as_arrived_only_after_the_delay(line):
    token = line.store.issue_reply_token("U-bench-line", 60)
    sent = time.monotonic()
    response = requests.post(line.url + REPLY, headers=AUTHORIZED, timeout=10,
                             json={"replyToken": token, "messages": [{"type": "text", "text": "こんにちは"}]})
    assert response.status_code == 200
    replies, _ = line.calls.snapshot()
    assert replies[token] - sent >= 0.3


def test_a_negative_delay_is_refused():
    with pytest.raises(ValueError):
        BenchLine(latency_ms=-1)
