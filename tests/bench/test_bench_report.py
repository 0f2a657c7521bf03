"""The benchmark's pure parts (bench/report.py): percentiles, matching answers to posts, verdicts."""

from __future__ import annotations

import math

import pytest

from bench import report
from bench.report import (
    ChatSend,
    ChatSends,
    Ingress,
    Post,
    Results,
    Turns,
    match_answers,
    percentile,
    chat_summary,
    render,
    rows,
    turn_summary,
)


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order of input does not matter
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_an_unanswered_turn_counts_as_infinitely_slow():
    assert percentile([0.1] * 98 + [math.inf] * 2, 99) == math.inf
    assert percentile([0.1] * 99 + [math.inf], 99) == 0.1


def _post(user: str, token: str, at: float, status: int = 200) -> Post:
    return Post(user, token, started=at, due=at, finished=at + 0.01, status=status)


def test_answers_match_by_reply_token_else_by_the_users_next_push():
    posts = [_post("U1", "t1", 0.0), _post("U2", "t2", 0.0), _post("U2", "t3", 5.0), _post("U3", "t4", 1.0)]
    found = match_answers(posts, replies={"t1": 0.2, "t3": 5.3}, pushes={"U2": [4.0], "U3": [0.5]})
    assert found[0] == report.Answered(0.2, True)
    assert found[1] == report.Answered(4.0, False)  # U2's push answers its first post
    assert found[2] == report.Answered(5.3, True)
    assert 3 not in found  # U3's push came before U3 posted


def test_turn_summary_counts_replies_and_the_last_answer():
    posts = [_post(f"U{i}", f"t{i}", i * 0.1) for i in range(10)]
    replies = {f"t{i}": i * 0.1 + 0.2 for i in range(9)}
    summary = turn_summary(posts, replies, {"U9": [5.0]})
    assert (summary.posted, summary.answered, summary.by_reply) == (10, 10, 9)
    assert summary.last_answer_after == pytest.approx(5.0)
    assert summary.p50 == pytest.approx(0.2)
    missing = turn_summary(posts, replies, {})
    assert missing.answered == 9 and missing.last_answer_after is None and missing.p99 == math.inf


def _met() -> Results:
    return Results(
        database="PostgreSQL",
        baseline=Ingress(posted=18000, acknowledged=18000, rate=1800.0, p50=0.004, p99=0.02),
        ingress=Ingress(posted=12000, acknowledged=12000, rate=1200.0, p50=0.006, p99=0.03),
        ack=Ingress(posted=4000, acknowledged=4000, rate=500.0, p50=0.004, p99=0.040),
        steady=Turns(posted=1000, answered=1000, by_reply=1000, p50=0.1, p95=0.25, p99=0.4),
        chat=ChatSends(sent=40, delivered=40, p50=0.1, p95=0.6),
        burst=Turns(posted=3000, answered=3000, by_reply=3000, last_answer_after=45.0),
        burst_send_seconds=10.0,
        memory_mb={"web worker 1": 120.0, "bot.queue.worker 1": 140.0},
    )


def _verdicts(results: Results) -> dict[str, str]:
    return {row.measure: row.verdict for row in rows(results) if row.verdict}


def test_every_target_met_passes():
    verdicts = _verdicts(_met())
    assert set(verdicts.values()) == {"PASS"}
    assert len(verdicts) == 7 + 2  # seven targets plus one memory row per process
    assert render(_met()).splitlines()[-1] == "every target met"


@pytest.mark.parametrize("change, missed", [
    (lambda r: setattr(r.ingress, "rate", 999.0), "ingress, max rate"),
    (lambda r: setattr(r.ingress, "errors", 1), "ingress, max rate"),
    (lambda r: setattr(r.baseline, "rate", 2500.0), "ingress / baseline"),
    (lambda r: setattr(r.ack, "p99", 0.051), "ack latency"),
    (lambda r: setattr(r.steady, "p95", 0.301), "turn latency"),
    (lambda r: setattr(r.steady, "p95", math.inf), "turn latency"),
    (lambda r: setattr(r.chat, "p95", 1.001), "operator's chat message"),
    (lambda r: setattr(r.chat, "sent", 0), "operator's chat message"),
    (lambda r: setattr(r.burst, "last_answer_after", 60.5), "burst:"),
    (lambda r: setattr(r.burst, "last_answer_after", None), "burst:"),
    (lambda r: setattr(r.burst, "by_reply", 2999), "  burst replies by reply token"),
    (lambda r: r.memory_mb.update({"bot.queue.worker 2": 151.0}), "peak resident (VmHWM) bot.queue.worker 2"),
])
def test_each_target_missed_is_a_miss(change, missed):
    results = _met()
    change(results)
    misses = [m for m, v in _verdicts(results).items() if v == "MISS"]
    assert len(misses) == 1 and misses[0].startswith(missed), misses
    assert render(results).splitlines()[-1] == "1 target(s) missed"


def test_targets_at_the_limit_pass():
    results = _met()
    results.ingress.rate, results.baseline.rate = 1000.0, 2000.0  # ratio exactly 0.5
    results.ack.p99, results.steady.p95, results.burst.last_answer_after = 0.050, 0.300, 60.0
    results.chat.p95 = 1.0
    results.memory_mb = {"web worker 1": 150.0}
    assert set(_verdicts(results).values()) == {"PASS"}


def test_nothing_measured_is_never_a_pass():
    verdicts = _verdicts(Results(database="SQLite"))
    assert verdicts and set(verdicts.values()) == {"MISS"}


def test_posts_never_sent_count_against_the_phase():
    posts = [_post(f"U{i}", f"t{i}", i * 0.01) for i in range(90)]
    summary = report.ingress_summary(posts, planned=100)
    assert summary.errors == 10 and summary.p99 == math.inf and summary.p50 == pytest.approx(0.01)
    turns = turn_summary(posts, {f"t{i}": i * 0.01 + 0.1 for i in range(90)}, {}, planned=100)
    assert turns.p50 == pytest.approx(0.1) and turns.p95 == math.inf
    assert turns.last_answer_after is None  # ten were never posted: the burst is not "all answered"


def test_an_operators_chat_message_is_timed_from_its_commit_to_its_reply_or_else_its_push():
    sends = [ChatSend(10.0, "tok", "k1"), ChatSend(11.0, None, "k2"), ChatSend(12.0, "expired", "k3"),
             ChatSend(13.0, None, "k4")]
    replies = {"tok": 10.2}
    pushes = {"k2": 11.5, "k3": 12.9}  # k3: its token was refused, so it was pushed; k4 never arrived
    summary = chat_summary(sends, replies, pushes)
    assert (summary.sent, summary.delivered, summary.by_reply) == (4, 3, 1)
    assert summary.p50 == pytest.approx(0.5) and summary.p95 == math.inf
    assert chat_summary(sends[:3], replies, pushes).p95 == pytest.approx(0.9)
