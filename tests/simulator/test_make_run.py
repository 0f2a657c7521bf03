"""`make run` as a person uses it: the simulator answers a new friend, and Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from tests.support.processes import (
    ROOT,
    alive,
    descendants,
    kill_tree,
    service_env,
    wait_for,
)

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or still starting under load
        return False


def bot_texts(base: str, user_id: str) -> list[str]:
    entries = requests.get(f"{base}/simulator/api/chat", params={"user_id": user_id}, timeout=5).json()["entries"]
    return [e["payload"].get("text", "") for e in entries if e["sender"] == "bot"]


def act(base: str, **action) -> None:
    signed = requests.post(f"{base}/simulator/api/events", json=action, timeout=5).json()
    answer = requests.post(f"{base}/callback", data=signed["body"].encode(), timeout=5,
                           headers={"Content-Type": "application/json", "X-Line-Signature": signed["signature"]})
    assert answer.status_code == 200


def test_make_run_serves_the_simulator_and_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # A terminal puts `make` in its own foreground process group; Ctrl-C signals that group.
    make = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, start_new_session=True,
                            env=service_env(PORT=str(port), INSTANCE_PATH=str(tmp_path / "instance")),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: healthy(base), timeout=120, interval=0.3)
        assert requests.get(f"{base}/simulator/", timeout=5).status_code == 200
        personas = requests.get(f"{base}/simulator/api/personas", timeout=5).json()["personas"]
        user = personas[0]["user_id"]

        act(base, user_id=user, type="follow")
        wait_for(lambda: bot_texts(base, user), timeout=20)
        assert "友だち追加ありがとうございます" in bot_texts(base, user)[0]
        count = len(bot_texts(base, user))
        act(base, user_id=user, type="message", text="よくある質問")
        wait_for(lambda: len(bot_texts(base, user)) > count, timeout=20)
        assert bot_texts(base, user)[count].startswith("よくある質問")

        everything = descendants(make.pid) | {make.pid}
        assert len(everything) >= 4  # make, the launcher, gunicorn and its workers, the worker
        started = time.monotonic()
        os.killpg(make.pid, signal.SIGINT)
        wait_for(lambda: not alive(everything), timeout=15, interval=0.1)
        assert time.monotonic() - started < 10
    finally:
        output = make.stdout.read() if make.poll() is not None else b""
        kill_tree(make)
    assert f"http://127.0.0.1:{port}/simulator".encode() in output
