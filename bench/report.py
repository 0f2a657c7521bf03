"""The benchmark's arithmetic and its table: plain functions, no servers (tested in tests/bench/test_bench_report.py).

Latencies are in seconds here and printed in milliseconds (the burst's in seconds). A turn that
was never answered within the run's bound counts as an infinitely long turn, so it can only make a
percentile worse. Each database has its own targets (`Targets`); a figure with no target for a
database is printed without a verdict, and anything not measured is a miss, never a pass.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

# The load each phase puts on the service, the same for both databases.
PROBES = 3  # paired ingress probes (baseline, then the service); their median is what is judged
ACK_RATE = 500.0  # events/s for the ack-latency target
STEADY_RATE = 50.0  # turns/s
BURST_USERS = 3000
BURST_SECONDS = 10.0  # the burst's posts are spread over this long
CHAT_RATE = 2.0  # operator messages/s during the steady phase (issue 17)


@dataclass(frozen=True)
class Targets:
    """One database's targets (issue 20; 2 cores). None: the figure is shown, but nothing is set for it."""
    ingress_min_rate: float  # events/s acknowledged, median of the paired probes
    ingress_min_ratio: float  # of the baseline's rate, median of the paired probes
    ack_max_p99: float  # s at ACK_RATE, with no failed post
    turn_max_p95: float  # s at STEADY_RATE, post to answer
    burst_max_seconds: float  # from the burst's first post to its last answer, every one by reply token
    burst_max_p95: float | None = None  # s per user, post to answer
    worker_cpu_per_turn: float | None = None  # CPU s of the bot.queue.worker processes per steady turn answered
    postgres_cpu_per_turn: float | None = None  # CPU s of PostgreSQL's processes (not autovacuum), the same way
    chat_max_p95: float | None = None  # s from an operator's send to its arrival at LINE (issue 17)
    max_resident_mb: float | None = None  # peak resident memory of each web and worker process


POSTGRESQL = Targets(ingress_min_rate=1000.0, ingress_min_ratio=0.6, ack_max_p99=0.050, turn_max_p95=0.100,
                     burst_max_seconds=20.0, burst_max_p95=15.0, worker_cpu_per_turn=0.006,
                     postgres_cpu_per_turn=0.003, chat_max_p95=1.0, max_resident_mb=150.0)
SQLITE = Targets(ingress_min_rate=1000.0, ingress_min_ratio=0.3, ack_max_p99=0.050, turn_max_p95=0.150,
                 burst_max_seconds=60.0)
TARGETS = {"postgresql": POSTGRESQL, "sqlite": SQLITE}


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
class Probe:
    """One paired ingress probe: the baseline at its most, then at once the service at its most."""
    baseline: Ingress
    service: Ingress

    @property
    def ratio(self) -> float | None:
        return self.service.rate / self.baseline.rate if self.baseline.rate else None


def median(values: Sequence[float | None]) -> float | None:
    """The median; None when there is nothing, or when any value is missing (a probe that failed
    makes the median unknown rather than quietly leaving it out)."""
    if not values or any(v is None for v in values):
        return None
    return statistics.median(values)


def per_turn(cpu_seconds: float | None, turns: int) -> float | None:
    """CPU seconds per turn answered; None when no turn was answered or the CPU was not read."""
    return cpu_seconds / turns if cpu_seconds is not None and turns > 0 else None


@dataclass
class Results:
    database: str
    targets: Targets
    line_latency_ms: float | None = None  # the fake LINE's delay on every call
    probes: list[Probe] = field(default_factory=list)
    ack: Ingress = field(default_factory=Ingress)  # open loop at ACK_RATE
    steady: Turns = field(default_factory=Turns)  # open loop at STEADY_RATE
    steady_cpu: dict[str, float] = field(default_factory=dict)  # CPU s per part of the run in the steady phase
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


def _judged(limit: float | None, target: Callable[[float], str], value: float | None,
            ok: bool = True) -> tuple[str, str]:
    """The target and verdict columns for `value` <= `limit` (and `ok`); a figure with no target
    for this database gets neither."""
    if limit is None:
        return "", ""
    return target(limit), verdict(ok and _at_most(value, limit))


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if math.isinf(seconds):
        return "never"
    return f"{seconds * 1000:.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


def _s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return "never" if math.isinf(seconds) else f"{seconds:.1f}"


def _each(values: Iterable[float | None], form: str) -> str:
    shown = ["-" if v is None else format(v, form) for v in values]
    return " / ".join(shown) if shown else "-"


def _at_most(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def _ingress_rows(r: Results) -> list[Row]:
    t, probes = r.targets, r.probes
    complete = len(probes) >= PROBES and all(p.service.posted and p.baseline.posted for p in probes)
    rate = median([p.service.rate for p in probes])
    ratio = median([p.ratio for p in probes])
    errors = sum(p.service.errors for p in probes)
    return [
        Row("baseline ingress (signature check only) per probe",
            f"{_each((p.baseline.rate for p in probes), '.0f')} ev/s", "", ""),
        Row(f"ingress, max rate, median of {len(probes)} probes",
            f"{_each([rate], '.0f')} ev/s ({_each((p.service.rate for p in probes), '.0f')}; {errors} errors)",
            f">= {t.ingress_min_rate:.0f} ev/s, no errors, {PROBES} probes",
            verdict(complete and rate is not None and rate >= t.ingress_min_rate and errors == 0)),
        Row(f"ingress / baseline, median of {len(probes)} paired probes",
            f"{_each([ratio], '.2f')} ({_each((p.ratio for p in probes), '.2f')})",
            f">= {t.ingress_min_ratio:.2f}, {PROBES} probes",
            verdict(complete and ratio is not None and ratio >= t.ingress_min_ratio)),
        Row("ingress ack latency at max rate p99 per probe",
            f"{' / '.join(_ms(p.service.p99) for p in probes) or '-'} ms", "", ""),
        Row(f"ack latency at {ACK_RATE:.0f} ev/s p50/p99",
            f"{_ms(r.ack.p50)}/{_ms(r.ack.p99)} ms ({r.ack.rate:.0f} ev/s, {r.ack.errors} failed posts)",
            f"p99 <= {t.ack_max_p99 * 1000:.0f} ms, no failed post",
            verdict(_at_most(r.ack.p99, t.ack_max_p99) and r.ack.errors == 0 and r.ack.posted > 0)),
    ]


def _cpu_row(name: str, seconds: float | None, turns: int, limit: float | None) -> Row:
    each = per_turn(seconds, turns)
    value = "-" if each is None else f"{each * 1000:.1f} ms ({seconds:.1f} s over {turns} turns)"
    return Row(f"{name} CPU per turn at {STEADY_RATE:.0f}/s", value,
               *_judged(limit, lambda x: f"<= {x * 1000:.0f} ms", each))


def _steady_rows(r: Results) -> list[Row]:
    t, s, c = r.targets, r.steady, r.chat
    share = f"{100 * s.by_reply / s.answered:.1f}%" if s.answered else "-"
    out = [
        Row(f"turn latency at {STEADY_RATE:.0f}/s p50/p95/p99",
            f"{_ms(s.p50)}/{_ms(s.p95)}/{_ms(s.p99)} ms ({s.answered}/{max(s.planned, s.posted)} answered)",
            f"p95 <= {t.turn_max_p95 * 1000:.0f} ms", verdict(_at_most(s.p95, t.turn_max_p95) and s.posted > 0)),
        Row("  replies by reply token (rest pushed)", f"{share} ({s.by_reply}/{s.answered})", "", ""),
        _cpu_row("worker", r.steady_cpu.get("workers"), s.answered, t.worker_cpu_per_turn),
    ]
    if t.postgres_cpu_per_turn is not None:
        out.append(_cpu_row("PostgreSQL", r.steady_cpu.get("postgres"), s.answered, t.postgres_cpu_per_turn))
    out.append(Row(f"operator's chat message to LINE during {STEADY_RATE:.0f} turns/s p50/p95",
                   f"{_ms(c.p50)}/{_ms(c.p95)} ms ({c.delivered}/{c.sent} delivered, {c.by_reply} by reply)",
                   *_judged(t.chat_max_p95, lambda x: f"p95 <= {x * 1000:.0f} ms", c.p95, c.sent > 0)))
    return out


def _burst_rows(r: Results) -> list[Row]:
    t, b = r.targets, r.burst
    everyone = max(b.planned, b.posted)
    last = "never" if b.last_answer_after is None else f"{b.last_answer_after:.1f} s"
    return [
        Row(f"burst: {b.posted} users in {r.burst_send_seconds:.1f} s, last answered after",
            f"{last} ({b.answered}/{everyone} answered)",
            f"<= {t.burst_max_seconds:.0f} s from the first post, {BURST_USERS} users all answered",
            verdict(b.posted >= BURST_USERS and _at_most(b.last_answer_after, t.burst_max_seconds))),
        Row("  burst replies by reply token", f"{b.by_reply}/{everyone}", "every one",
            verdict(b.posted > 0 and b.by_reply == everyone)),
        Row("  burst turn latency per user p50/p95/p99", f"{_s(b.p50)}/{_s(b.p95)}/{_s(b.p99)} s",
            *_judged(t.burst_max_p95, lambda x: f"p95 <= {x:.0f} s", b.p95, b.posted > 0)),
    ]


def _memory_rows(r: Results) -> list[Row]:
    limit = r.targets.max_resident_mb

    def target(x: float) -> str:
        return f"<= {x:.0f} MB each"

    if not r.memory_mb:
        return [Row("peak resident memory", "not read", *_judged(limit, target, None))]
    return [Row(f"peak resident (VmHWM) {label}", f"{mb:.0f} MB", *_judged(limit, target, mb))
            for label, mb in r.memory_mb.items()]


def rows(r: Results) -> list[Row]:
    return _ingress_rows(r) + _steady_rows(r) + _burst_rows(r) + _memory_rows(r)


def missed(r: Results) -> int:
    return sum(1 for row in rows(r) if row.verdict == "MISS")


def render(r: Results) -> str:
    table = rows(r)
    head = Row("measure", "value", "target", "verdict")
    widths = [max(len(getattr(x, name)) for x in [head, *table]) for name in ("measure", "value", "target")]
    latency = "-" if r.line_latency_ms is None else f"{r.line_latency_ms:g} ms"
    lines = [f"== {r.database} (the fake LINE answers every call after {latency}) =="]
    for row in [head, *table]:
        lines.append(f"{row.measure:<{widths[0]}}  {row.value:<{widths[1]}}  {row.target:<{widths[2]}}  {row.verdict}"
                     .rstrip())
    count = missed(r)
    lines.append(f"{count} target(s) missed" if count else "every target met")
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)
