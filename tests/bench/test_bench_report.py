"""The benchmark's pure parts (bench/report.py): percentiles, matching answers to posts, medians,
CPU per turn, and each database's verdicts."""

from __future__ import annotations

import math

import pytest

from bench import report
from bench.report import (
    POSTGRESQL,
    SQLITE,
    ChatSend,
    ChatSends,
    Ingress,
    Post,
    Probe,
    Results,
    Turns,
    chat_summary,
    match_answers,
    median,
    per_turn,
    percentile,
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


def _probe(baseline: float, service: float, errors: int = 0) -> Probe:
    return Probe(Ingress(posted=15000, acknowledged=15000, rate=baseline, p50=0.004, p99=0.02),
                 Ingress(posted=8000, acknowledged=8000 - errors, errors=errors, rate=service, p50=0.006, p99=0.03))


def _met_postgresql() -> Results:
    return Results(
        database="PostgreSQL",
        targets=POSTGRESQL,
        line_latency_ms=50.0,
        probes=[_probe(2000.0, 1400.0), _probe(2100.0, 1500.0), _probe(1900.0, 1300.0)],
        ack=Ingress(posted=4000, acknowledged=4000, rate=500.0, p50=0.004, p99=0.040),
        steady=Turns(posted=1000, answered=1000, by_reply=1000, p50=0.05, p95=0.08, p99=0.2),
        steady_cpu={"web": 1.0, "workers": 5.0, "postgres": 2.5, "its autovacuum": 4.0},
        chat=ChatSends(sent=40, delivered=40, p50=0.1, p95=0.6),
        burst=Turns(posted=3000, answered=3000, by_reply=3000, p95=12.0, last_answer_after=18.0),
        burst_send_seconds=10.0,
        memory_mb={"web worker 1": 120.0, "bot.queue.worker 1": 140.0},
    )


def _met_sqlite() -> Results:
    """SQLite's targets met, and its figures that have no target there far beyond PostgreSQL's."""
    results = _met_postgresql()
    results.database, results.targets = "SQLite", SQLITE
    results.probes = [_probe(2000.0, 1000.0), _probe(2100.0, 1100.0), _probe(3000.0, 1050.0)]
    results.ack.p99, results.steady.p95 = 0.045, 0.14
    results.steady_cpu = {"workers": 30.0, "postgres": 0.0}
    results.chat.p50, results.chat.p95 = 2.0, 5.0
    results.burst.p95, results.burst.last_answer_after = 50.0, 59.0
    results.memory_mb = {"web worker 1": 400.0}
    return results


def _verdicts(results: Results) -> dict[str, str]:
    return {row.measure: row.verdict for row in rows(results) if row.verdict}


def test_every_postgresql_target_met_passes():
    verdicts = _verdicts(_met_postgresql())
    assert set(verdicts.values()) == {"PASS"}
    assert len(verdicts) == 10 + 2  # ten targets plus one memory row per process
    assert render(_met_postgresql()).splitlines()[-1] == "every target met"


def test_every_sqlite_target_met_passes_and_the_figures_without_a_target_there_get_no_verdict():
    results = _met_sqlite()
    verdicts = _verdicts(results)
    assert set(verdicts.values()) == {"PASS"}
    assert len(verdicts) == 6  # ingress rate and ratio, ack, turn p95, the burst's time and its replies
    unjudged = [row.measure for row in rows(results) if not row.verdict]
    for measure in ("worker CPU per turn", "operator's chat message", "  burst turn latency", "peak resident"):
        assert any(m.startswith(measure) for m in unjudged), measure
    assert not any(row.measure.startswith("PostgreSQL CPU") for row in rows(results))
    assert render(results).splitlines()[-1] == "every target met"


def _set_rates(attribute: str, rates: tuple[float, ...]):
    def change(r: Results) -> None:
        for probe, rate in zip(r.probes, rates):
            getattr(probe, attribute).rate = rate
    return change


@pytest.mark.parametrize("change, missed", [
    (lambda r: (_set_rates("baseline", (1500.0,) * 3)(r), _set_rates("service", (999.0, 999.0, 1500.0))(r)),
     "ingress, max rate"),  # the ratios still 0.67, 0.67, 1.0
    (lambda r: setattr(r.probes[2].service, "errors", 1), "ingress, max rate"),
    (_set_rates("baseline", (2400.0, 2600.0, 1900.0)), "ingress / baseline"),  # 0.58, 0.58, 0.68
    (lambda r: setattr(r.ack, "p99", 0.051), "ack latency"),
    (lambda r: setattr(r.ack, "errors", 1), "ack latency"),
    (lambda r: setattr(r.steady, "p95", 0.101), "turn latency"),
    (lambda r: setattr(r.steady, "p95", math.inf), "turn latency"),
    (lambda r: r.steady_cpu.update(workers=6.1), "worker CPU per turn"),
    (lambda r: r.steady_cpu.pop("workers"), "worker CPU per turn"),
    (lambda r: r.steady_cpu.update(postgres=3.1), "PostgreSQL CPU per turn"),
    (lambda r: setattr(r.chat, "p95", 1.001), "operator's chat message"),
    (lambda r: setattr(r.chat, "sent", 0), "operator's chat message"),
    (lambda r: setattr(r.burst, "last_answer_after", 20.5), "burst:"),
    (lambda r: setattr(r.burst, "last_answer_after", None), "burst:"),
    (lambda r: setattr(r.burst, "by_reply", 2999), "  burst replies by reply token"),
    (lambda r: setattr(r.burst, "p95", 15.1), "  burst turn latency"),
    (lambda r: r.memory_mb.update({"bot.queue.worker 2": 151.0}), "peak resident (VmHWM) bot.queue.worker 2"),
])
def test_each_postgresql_target_missed_is_a_miss(change, missed):
    results = _met_postgresql()
    change(results)
    misses = [m for m, v in _verdicts(results).items() if v == "MISS"]
    assert len(misses) == 1 and misses[0].startswith(missed), misses
    assert render(results).splitlines()[-1] == "1 target(s) missed"


@pytest.mark.parametrize("change, missed", [
    (_set_rates("service", (999.0, 999.0, 1500.0)), "ingress, max rate"),
    (_set_rates("baseline", (3400.0, 3700.0, 3000.0)), "ingress / baseline"),  # 0.294, 0.297, 0.35
    (lambda r: setattr(r.ack, "errors", 1), "ack latency"),
    (lambda r: setattr(r.steady, "p95", 0.151), "turn latency"),
    (lambda r: setattr(r.burst, "last_answer_after", 60.5), "burst:"),
    (lambda r: setattr(r.burst, "by_reply", 2999), "  burst replies by reply token"),
])
def test_each_sqlite_target_missed_is_a_miss(change, missed):
    results = _met_sqlite()
    change(results)
    misses = [m for m, v in _verdicts(results).items() if v == "MISS"]
    assert len(misses) == 1 and misses[0].startswith(missed), misses


def test_the_median_of_three_paired_probes_leaves_out_one_probe_caught_by_a_slow_minute():
    results = _met_postgresql()
    results.probes[0].baseline.rate = 4000.0  # this probe's ratio 0.35; the others' 0.71 and 0.68
    assert report.median([p.ratio for p in results.probes]) == pytest.approx(1300 / 1900)
    assert set(_verdicts(results).values()) == {"PASS"}


def test_fewer_than_three_probes_is_a_miss_even_with_every_figure_met():
    results = _met_postgresql()
    results.probes = results.probes[:2]
    misses = [m for m, v in _verdicts(results).items() if v == "MISS"]
    assert len(misses) == 2
    assert misses[0].startswith("ingress, max rate") and misses[1].startswith("ingress / baseline")


def test_a_median_with_a_value_missing_is_unknown():
    assert median([0.5, 0.7, 0.6]) == 0.6
    assert median([0.5, 0.7]) == pytest.approx(0.6)
    assert median([0.5, None, 0.7]) is None
    assert median([]) is None
    assert Probe(Ingress(), Ingress(rate=1000.0)).ratio is None  # a baseline that took nothing


def test_cpu_per_turn_divides_the_phases_cpu_by_the_turns_answered():
    assert per_turn(12.0, 2000) == pytest.approx(0.006)
    assert per_turn(12.0, 0) is None
    assert per_turn(None, 2000) is None


def test_targets_at_the_limit_pass():
    results = _met_postgresql()
    results.probes = [_probe(2000.0, 1200.0)] * 3  # ratio exactly 0.6
    results.ack.p99, results.steady.p95, results.burst.last_answer_after = 0.050, 0.100, 20.0
    results.burst.p95, results.chat.p95 = 15.0, 1.0
    results.steady_cpu.update(workers=6.0, postgres=3.0)
    results.memory_mb = {"web worker 1": 150.0}
    assert set(_verdicts(results).values()) == {"PASS"}
    sqlite = _met_sqlite()
    sqlite.probes = [_probe(3000.0, 1000.0), _probe(4000.0, 1200.0), _probe(10000.0, 1000.0)]
    assert report.median([p.ratio for p in sqlite.probes]) == 0.3  # and the rates' median 1,000 ev/s
    sqlite.ack.p99, sqlite.steady.p95, sqlite.burst.last_answer_after = 0.050, 0.150, 60.0
    assert set(_verdicts(sqlite).values()) == {"PASS"}


@pytest.mark.parametrize("targets", [POSTGRESQL, SQLITE])
def test_nothing_measured_is_never_a_pass(targets):
    verdicts = _verdicts(Results(database="-", targets=targets))
    assert verdicts and set(verdicts.values()) == {"MISS"}


def test_the_header_names_the_fake_lines_delay():
    header = render(_met_postgresql()).splitlines()[0]
    assert header == "== PostgreSQL (the fake LINE answers every call after 50 ms) =="
    results = _met_sqlite()
    results.line_latency_ms = 0.0
    assert "after 0 ms" in render(results).splitlines()[0]


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
