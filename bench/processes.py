"""The benchmark's processes: starting the baseline, their memory, where the CPU went, py-spy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from tests.chaos.service import Service
from tests.support.processes import descendants

ROOT = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the processes -------------------------------------------------------------------------------

def start_baseline(env: dict[str, str], port: int, logs: Path) -> subprocess.Popen:
    with open(logs / "baseline.log", "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "python:bot.gunicorn_conf",
             "--bind", f"127.0.0.1:{port}", "bench.baseline_app:app"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_http(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def peak_resident_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def gunicorn_workers(service: Service) -> list[int]:
    return sorted(descendants(service.web.pid))


def memory(service: Service) -> dict[str, float]:
    found: dict[str, float] = {}
    labelled = [(f"web master (pid {service.web.pid})", service.web.pid)]
    labelled += [(f"web worker {n} (pid {pid})", pid) for n, pid in enumerate(gunicorn_workers(service), 1)]
    labelled += [(f"bot.queue.worker {n} (pid {p.pid})", p.pid) for n, p in enumerate(service.workers, 1)]
    for label, pid in labelled:
        mb = peak_resident_mb(pid)
        if mb is not None:
            found[label] = mb
    return found


# -- where the CPU went ---------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _is_autovacuum(pid: int) -> bool:
    # Autovacuum is PostgreSQL's own housekeeping after the floods, not the statements' cost; its
    # workers come and go, so what one that ended within a phase used is not counted.
    try:
        return b"autovacuum worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class CpuMeter:
    """CPU seconds used by each part of the run between `start` and `stop`: the web processes, the
    workers, PostgreSQL's processes, and this process (the fake LINE platform). The load generator
    is a process of its own, gone by the time a phase is measured, so it is not counted."""

    def __init__(self, service: Service, cluster: Any) -> None:
        self.service, self.cluster = service, cluster
        self.before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        web = {self.service.web.pid} | descendants(self.service.web.pid)
        workers = {p.pid for p in self.service.workers} | {c for p in self.service.workers for c in descendants(p.pid)}
        postgres: set[int] = set()
        if self.cluster is not None:
            postmaster = int(Path(self.cluster.root, "data", "postmaster.pid").read_text().split()[0])
            postgres = {postmaster} | descendants(postmaster)
        vacuuming = {pid for pid in postgres if _is_autovacuum(pid)}
        mine = os.times()
        return {"web": sum(map(_cpu_seconds, web)), "workers": sum(map(_cpu_seconds, workers)),
                "postgres": sum(map(_cpu_seconds, postgres - vacuuming)),
                "its autovacuum": sum(map(_cpu_seconds, vacuuming)), "fake LINE (bench)": mine.user + mine.system}

    def start(self) -> None:
        self.before = self._now()

    def stop(self) -> dict[str, float]:
        """CPU seconds per part since `start`: "web", "workers", "postgres", "its autovacuum", "fake LINE (bench)"."""
        after = self._now()
        return {k: after[k] - self.before.get(k, 0.0) for k in after}


# -- py-spy ---------------------------------------------------------------------------------------

def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log("py-spy is not installed (.venv/bin/pip install py-spy): no profile")
        return None
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
                             "--format", "raw", "--nonblocking", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise_profile(path: Path, top: int = 12) -> str:
    """Self and inclusive sample shares per function from py-spy's raw (collapsed) stacks."""
    own, inclusive, total = Counter(), Counter(), 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"{path}: no profile written"
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [f.rsplit(":", 1)[0] + ")" if f.endswith(")") and ":" in f else f
                  for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return f"{path.name}: no samples"
    out = [f"{path.name}: {total} samples", "  self:"]
    out += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    out.append("  inclusive (project and library frames below the thread's loop):")
    skip = ("threading.py", "concurrent/futures/thread.py", "(run)", "_bootstrap")
    ranked = [(f, n) for f, n in inclusive.most_common() if not any(s in f for s in skip)]
    out += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in ranked[:top * 2]]
    return "\n".join(out)
