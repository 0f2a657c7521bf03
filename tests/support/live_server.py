"""The real app in simulator mode on a loopback port, with a worker, inside the test process.

The web server is werkzeug's threaded server in a thread; the worker is `bot.queue.worker.Worker` in
another. The Messaging API calls the worker makes go to the server's own /simulator/line, as in
`make run` without a LINE channel.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from bot import create_app
from bot.clock import FrozenClock
from bot.config import Config
from bot.demo import load_demo_data
from bot.services import Services
from bot.simulator.store import DatabaseStore
from bot.queue.worker import Worker
from tests.support.chat import TUESDAY_MORNING


class _QuietHandler(WSGIRequestHandler):
    """No access log: the page polls several times a second."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _placeholder(environ, start_response):  # until the app exists (it needs the port first)
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@dataclass
class LiveServer:
    url: str
    app: Flask
    config: Config
    worker: Worker
    clock: FrozenClock

    @property
    def store(self) -> DatabaseStore:
        return self.app.extensions["simulator_store"]

    @property
    def personas(self) -> list[dict[str, str]]:
        return self.store.personas()

    def chat(self, user_id: str) -> list[dict[str, Any]]:
        return self.store.chat(user_id)


@contextmanager
def live_server(database_url: str, instance_dir: Path, **config_changes: Any) -> Iterator[LiveServer]:
    """Serve the app in simulator mode, with the demo personas, until the block ends. Its clock
    starts on Tuesday 1 December 2026, 9:00 in Tokyo, and runs on from there in real time."""
    server = make_server("127.0.0.1", 0, _placeholder, threaded=True, request_handler=_QuietHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    config = Config(
        secret_key="live-server-secret-key",
        database_url=database_url,
        line_channel_secret="live-server-channel-secret",
        line_channel_access_token="live-server-access-token",
        line_api_base_url=f"{url}/simulator/line",
        simulator=True,
        port=server.server_port,
        public_base_url=url,
        instance_dir=instance_dir,
        line_read_timeout=5.0,
        worker_threads=2,
        worker_poll_seconds=0.05,
    ).but(**config_changes)
    clock = FrozenClock(TUESDAY_MORNING, tick=True)
    app = create_app(config, clock=clock)
    server.app = app
    load_demo_data(app.extensions["db"], app.extensions["simulator_store"], operators=True)

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                               name="live-server", daemon=True)
    serving.start()
    services = Services.create(config, clock=clock)
    worker = Worker(services)
    working = threading.Thread(target=worker.run, name="live-worker", daemon=True)
    working.start()
    try:
        yield LiveServer(url=url, app=app, config=config, worker=worker, clock=clock)
    finally:
        worker.stop()
        working.join(10)
        server.shutdown()
        serving.join(10)
        server.server_close()
        services.close()
        app.extensions["db"].dispose()
