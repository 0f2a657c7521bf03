"""gunicorn settings for the web processes (`gunicorn --config python:bot.gunicorn_conf`)."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# The webhook answers in milliseconds; a request held this long is stuck, not slow.
timeout = 30
graceful_timeout = 10
keepalive = 5
# Access logs would carry LINE user ids in simulator URLs; the app logs what it needs itself.
accesslog = None

# /metrics adds up the metrics of every web process (prometheus-client's multiprocess mode): each
# process keeps its values in files in this directory. It must be set before any web process
# imports prometheus_client, and emptied at each start; a directory made here is removed at exit.
_METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_own_metrics_dir = None
if not os.environ.get(_METRICS_DIR_ENV):
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before bot.gunicorn_conf set PROMETHEUS_MULTIPROC_DIR: "
                           "bot/__init__.py must not import, at module level, anything that reaches bot.ops.metrics")
    _own_metrics_dir = os.environ[_METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="desk-metrics-")


def on_starting(server):
    for stale in Path(os.environ[_METRICS_DIR_ENV]).glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
