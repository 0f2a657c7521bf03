"""The service's processes for the fault suite and the benchmark: gunicorn web and the bot.queue.worker
processes, each in its own process group, a worker SIGKILLed and started again, and the whole
service restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.processes import stop_groups

ROOT = Path(__file__).resolve().parents[2]


class Service:
    """gunicorn web and the workers, each in its own process group, logging to files."""

    def __init__(self, env: dict[str, str], logs: Path, workers: int) -> None:
        self.env, self.logs = env, logs
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.kills = 0
        self.restarts = 0
        self._start_all(workers)

    def _start_all(self, workers: int) -> None:
        self.web = self._start("web", [sys.executable, "-m", "gunicorn", "--config", "python:bot.gunicorn_conf",
                                       "--bind", f"127.0.0.1:{self.port}", "bot:create_app()"])
        self.workers = [self._start(f"worker{i}", [sys.executable, "-m", "bot.queue.worker"]) for i in range(workers)]

    def _start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as out:  # the child keeps its own copy
            return subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.web.returncode}; see {self.logs}/web.log")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("the web server did not come up")

    def kill_worker(self, index: int) -> None:
        """SIGKILL one worker (its whole group, mid-job or not) and start a new one in its place."""
        process = self.workers[index]
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(10)
        self.kills += 1
        self.workers[index] = self._start(f"worker{index}", [sys.executable, "-m", "bot.queue.worker"])
        self.restarts += 1

    def start_again(self, env: dict[str, str]) -> None:
        """After `stop()` (a deploy, or the night): every process started again with `env`."""
        self.env = env
        self._start_all(len(self.workers))
        self.wait_ready()

    def workers_alive(self) -> bool:
        return all(p.poll() is None for p in self.workers)

    def stop(self) -> None:
        stop_groups(*self.workers, self.web)
