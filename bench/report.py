"""The benchmark's arithmetic and its table: plain functions, no servers (tested in tests/bench/test_bench_report.py).

Latencies are in seconds here and printed in milliseconds. A turn that was never answered within
the run's bound counts as an infinitely long turn, so it can only make a percentile worse.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# The targets (2-core machine, PostgreSQL).
INGRESS_MIN_RATE = 1000.0  # events/s acknowledged
INGRESS_MIN_RATIO = 0.5  # of the baseline's rate, same run
ACK_RATE = 500.0  # events/s for the ack-latency target
ACK_MAX_P99 = 0.050  # s
STEADY_RATE = 50.0  # turns/s
TURN_MAX_P95 = 0.300  # s
BURST_USERS = 3000
BURST_SECONDS = 10.0
BURST_MAX_SECONDS = 60.0
MAX_RESIDENT_MB = 150.0
# Issue 17: an operator's chat message reaches LINE within 1 s p95 while the 50 turns/s phase runs.
CHAT_RATE = 2.0  # operator messages/s during the steady phase
CHAT_MAX_P95 = 1.0  # s, from the commit of the operator's send to its arrival at LINE


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `values`; None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 <= p <= 100:
        raise ValueError("p must be within 0..100")
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Post:
    """One webhook post as the load generator saw it (times on the shared monotonic clock)."""
    user_id: str
    token: str
    started: float  # when the request began to be sent
    due: float  # when the schedule wanted it sent (open loop); == started in closed loop
    finished: float
    status: int  # HTTP status; 0 for no answer


@dataclass(frozen=True)
class Answered:
    at: float
    by_reply: bool


def match_answers(posts: Sequence[Post], replies: dict[str, float],
                  pushes: dict[str, Sequence[float]]) -> dict[int, Answered]:
    """Which post each answer belongs to: a reply by its token; a push (the fallback) to the
    earliest still unanswered post of that user sent before it. Keys are indexes into `posts`."""
    found: dict[int, Answered] = {}
    waiting: dict[str, list[int]] = defaultdict(list)
    for index, post in enumerate(posts):
        at = replies.get(post.token)
        if at is not None:
            found[index] = Answered(at, True)
        else:
            waiting[post.user_id].append(index)
    for user, indexes in waiting.items():
        indexes.sort(key=lambda i: posts[i].started)
        times = sorted(pushes.get(user, ()))
        t = 0
        for index in indexes:
            while t < len(times) and times[t] < posts[index].started:
                t += 1
            if t == len(times):
                break
            found[index] = Answered(times[t], False)
            t += 1
    return found


@dataclass
class Ingress:
    """One load-generator phase's acknowledgements."""
    posted: int = 0
    acknowledged: int = 0  # answered 200
    errors: int = 0  # anything else, or no answer
    rate: float = 0.0  # acknowledged per second over the phase
    p50: float | None = None
    p99: float | None = None


def ingress_summary(posts: Sequence[Post], *, from_due: bool = False, planned: int = 0) -> Ingress:
    """Rate of 200s over the span of the phase; latency from the send (or, open loop, from when the
    schedule wanted it sent, so a generator that fell behind cannot hide the server's slowness).
    Posts planned but never sent (the server fell too far behind) count as errors and as
    infinitely slow."""
    if not posts:
        return Ingress(errors=planned)
    ok = [p for p in posts if p.status == 200]
    unsent = max(0, planned - len(posts))
    begin = min(p.due if from_due else p.started for p in posts)
    end = max(p.finished for p in posts)
    latencies = [(p.finished - (p.due if from_due else p.started)) if p.status == 200 else math.inf for p in posts]
    latencies += [math.inf] * unsent
    return Ingress(posted=len(posts), acknowledged=len(ok), errors=len(posts) - len(ok) + unsent,
                   rate=len(ok) / (end - begin) if end > begin else 0.0,
                   p50=percentile(latencies, 50), p99=percentile(latencies, 99))


@dataclass
class Turns:
    posted: int = 0
    planned: int = 0  # posts the phase meant to send (more than posted when the server fell too far behind)
    answered: int = 0
    by_reply: int = 0
    rate: float = 0.0  # posts per second achieved
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    last_answer_after: float | None = None  # seconds from the phase's first scheduled post; None if any is missing


def turn_summary(posts: Sequence[Post], replies: dict[str, float], pushes: dict[str, Sequence[float]],
                 *, planned: int = 0) -> Turns:
    """Turn latencies from each post to its answer; a turn planned but never posted, or never
    answered, is infinitely slow."""
    if not posts:
        return Turns()
    answers = match_answers(posts, replies, pushes)
    latencies = [answers[i].at - p.started if i in answers else math.inf for i, p in enumerate(posts)]
    latencies += [math.inf] * max(0, planned - len(posts))
    start = min(p.due for p in posts)
    span = max(p.started for p in posts) - min(p.started for p in posts)
    complete = len(answers) == len(posts) >= planned
    last = max(a.at for a in answers.values()) - start if complete else None
    return Turns(posted=len(posts), planned=max(planned, len(posts)), answered=len(answers), by_reply=sum(a.by_reply for a in answers.values()),
                 rate=(len(posts) - 1) / span if span > 0 else 0.0,
                 p50=percentile(latencies, 50), p95=percentile(latencies, 95), p99=percentile(latencies, 99),
                 last_answer_after=last)


@dataclass(frozen=True)
class ChatSend:
    """One operator message (handlers.chats.send): when its transaction committed, and how to find it
    at LINE: the reply token it may go by, and the retry key of its push."""
    committed: float
    reply_token: str | None
    retry_key: str


@dataclass
class ChatSends:
    sent: int = 0
    delivered: int = 0
    by_reply: int = 0
    p50: float | None = None
    p95: float | None = None


def chat_summary(sends: Sequence[ChatSend], replies: dict[str, float], pushes: dict[str, float]) -> ChatSends:
    """Each operator message's time from its commit to its arrival at LINE (the reply by its token,
    else the push by its retry key); one never delivered is infinitely slow."""
    latencies, by_reply = [], 0
    for send in sends:
        reply = replies.get(send.reply_token) if send.reply_token else None
        at = reply if reply is not None else pushes.get(send.retry_key)
        by_reply += reply is not None
        latencies.append(at - send.committed if at is not None else math.inf)
    return ChatSends(sent=len(sends), delivered=sum(not math.isinf(x) for x in latencies), by_reply=by_reply,
                     p50=percentile(latencies, 50), p95=percentile(latencies, 95))


@dataclass
class Results:
    database: str
    baseline: Ingress = field(default_factory=Ingress)
    ingress: Ingress = field(default_factory=Ingress)
    ack: Ingress = field(default_factory=Ingress)  # open loop at ACK_RATE
    steady: Turns = field(default_factory=Turns)  # open loop at STEADY_RATE
    chat: ChatSends = field(default_factory=ChatSends)  # operator messages sent during the steady phase
    burst: Turns = field(default_factory=Turns)
    burst_send_seconds: float = 0.0  # how long posting the burst took
    memory_mb: dict[str, float] = field(default_factory=dict)  # process label -> peak resident (VmHWM)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    target: str
    verdict: str  # PASS, MISS, or "" for a number shown without a target


def verdict(ok: bool | None) -> str:
    return "PASS" if ok else "MISS"


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if math.isinf(seconds):
        return "never"
    return f"{seconds * 1000:.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


def _at_most(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def rows(r: Results) -> list[Row]:
    out: list[Row] = []
    ratio = r.ingress.rate / r.baseline.rate if r.baseline.rate else None
    out.append(Row("baseline ingress (signature check only)",
                   f"{r.baseline.rate:.0f} ev/s, p50/p99 {_ms(r.baseline.p50)}/{_ms(r.baseline.p99)} ms", "", ""))
    out.append(Row("ingress, max rate (events acknowledged)",
                   f"{r.ingress.rate:.0f} ev/s ({r.ingress.errors} errors)",
                   f">= {INGRESS_MIN_RATE:.0f} ev/s, no errors",
                   verdict(r.ingress.rate >= INGRESS_MIN_RATE and r.ingress.errors == 0 and r.ingress.posted > 0)))
    out.append(Row("ingress ack latency at max rate p50/p99", f"{_ms(r.ingress.p50)}/{_ms(r.ingress.p99)} ms", "", ""))
    out.append(Row("ingress / baseline (same run)", "-" if ratio is None else f"{ratio:.2f}",
                   f">= {INGRESS_MIN_RATIO:.2f}", verdict(ratio is not None and ratio >= INGRESS_MIN_RATIO)))
    out.append(Row(f"ack latency at {ACK_RATE:.0f} ev/s p50/p99",
                   f"{_ms(r.ack.p50)}/{_ms(r.ack.p99)} ms ({r.ack.rate:.0f} ev/s, {r.ack.errors} errors)",
                   f"p99 <= {ACK_MAX_P99 * 1000:.0f} ms",
                   verdict(_at_most(r.ack.p99, ACK_MAX_P99) and r.ack.errors == 0 and r.ack.posted > 0)))
    s = r.steady
    out.append(Row(f"turn latency at {STEADY_RATE:.0f}/s p50/p95/p99",
                   f"{_ms(s.p50)}/{_ms(s.p95)}/{_ms(s.p99)} ms ({s.answered}/{max(s.planned, s.posted)} answered)",
                   f"p95 <= {TURN_MAX_P95 * 1000:.0f} ms", verdict(_at_most(s.p95, TURN_MAX_P95) and s.posted > 0)))
    share = f"{100 * s.by_reply / s.answered:.1f}%" if s.answered else "-"
    out.append(Row("  replies by reply token (rest pushed)", f"{share} ({s.by_reply}/{s.answered})", "", ""))
    c = r.chat
    out.append(Row(f"operator's chat message to LINE during {STEADY_RATE:.0f} turns/s p50/p95",
                   f"{_ms(c.p50)}/{_ms(c.p95)} ms ({c.delivered}/{c.sent} delivered, {c.by_reply} by reply)",
                   f"p95 <= {CHAT_MAX_P95 * 1000:.0f} ms", verdict(_at_most(c.p95, CHAT_MAX_P95) and c.sent > 0)))
    b = r.burst
    last = "never" if b.last_answer_after is None else f"{b.last_answer_after:.1f} s"
    out.append(Row(f"burst: {b.posted} users in {r.burst_send_seconds:.1f} s, last answered after",
                   f"{last} ({b.answered}/{max(b.planned, b.posted)} answered)", f"<= {BURST_MAX_SECONDS:.0f} s, all answered",
                   verdict(b.posted >= BURST_USERS and b.last_answer_after is not None
                           and b.last_answer_after <= BURST_MAX_SECONDS)))
    out.append(Row("  burst replies by reply token", f"{b.by_reply}/{max(b.planned, b.posted)}", "every one",
                   verdict(b.posted > 0 and b.by_reply == max(b.planned, b.posted))))
    out.append(Row("  burst turn latency p50/p95/p99", f"{_ms(b.p50)}/{_ms(b.p95)}/{_ms(b.p99)} ms", "", ""))
    if not r.memory_mb:
        out.append(Row("peak resident memory", "not read", f"<= {MAX_RESIDENT_MB:.0f} MB each", "MISS"))
    for label, mb in r.memory_mb.items():
        out.append(Row(f"peak resident (VmHWM) {label}", f"{mb:.0f} MB", f"<= {MAX_RESIDENT_MB:.0f} MB",
                       verdict(mb <= MAX_RESIDENT_MB)))
    return out


def render(r: Results) -> str:
    table = rows(r)
    head = Row("measure", "value", "target", "verdict")
    widths = [max(len(getattr(x, name)) for x in [head, *table]) for name in ("measure", "value", "target")]
    lines = [f"== {r.database} =="]
    for row in [head, *table]:
        lines.append(f"{row.measure:<{widths[0]}}  {row.value:<{widths[1]}}  {row.target:<{widths[2]}}  {row.verdict}"
                     .rstrip())
    missed = sum(1 for row in table if row.verdict == "MISS")
    lines.append(f"{missed} target(s) missed" if missed else "every target met")
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)
