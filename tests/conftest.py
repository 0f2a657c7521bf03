"""Shared fixtures: a fresh migrated database per test (SQLite and PostgreSQL), the fake LINE
platform, the app and its test client, and an in-process worker."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import update

from bot import create_app
from bot.clock import FrozenClock
from bot.config import Config
from bot.demo import load_demo_data
from bot.services import Services
from bot.simulator import events as line_events
from bot.queue.worker import Worker
from models import Job
from models.migrate import upgrade
from tests.support import log_scan
from tests.support.chat import TUESDAY_MORNING, Chat
from tests.support.fake_line import FakeLine
from tests.support.live_server import LiveServer, live_server
from tests.support.postgres import Cluster, start_cluster

CHANNEL_SECRET = "test-channel-secret-0123456789ab"
ACCESS_TOKEN = "test-access-token"
TEMPLATE_DB = "desk_template"
CHROMIUM = "/usr/bin/chromium"
MACHINE_DATE = Path(__file__).resolve().parent / "support" / "machine_date"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def pytest_configure(config) -> None:
    """DESK_TEST_MACHINE_DATE=2028-02-29T09:00+09:00 moves the wall clock of this process and of
    every Python process the tests start there (and lets it run on) for the whole session: the
    check that no test leans on the machine's date (tests/support/machine_date/sitecustomize.py)."""
    moment = os.environ.get("DESK_TEST_MACHINE_DATE")
    if not moment:
        return
    if "DESK_TEST_MACHINE_SHIFT" not in os.environ:  # the first process of the run fixes the shift
        real_now = datetime.now().astimezone()  # the machine's own date, on purpose
        os.environ["DESK_TEST_MACHINE_SHIFT"] = str((datetime.fromisoformat(moment) - real_now).total_seconds())
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(MACHINE_DATE), os.environ.get("PYTHONPATH")]))
    loaded = sys.modules.get("sitecustomize")
    if getattr(loaded, "TRAVELLING", None) is None:  # not started with the folder on PYTHONPATH
        spec = importlib.util.spec_from_file_location("machine_date", MACHINE_DATE / "sitecustomize.py")
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
    loaded.start()


@pytest.fixture(autouse=True)
def _nothing_personal_is_logged() -> Iterator[log_scan.Recorder]:
    """Fails a test during which the service logged a name, phone, e-mail, token or secret."""
    yield from log_scan.watch([CHANNEL_SECRET, ACCESS_TOKEN])


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium per test process, shared by every browser test (Playwright may
    be started only once per process)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-test-deps (Debian's chromium package)")
    playwright = sync_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def live(database_url, tmp_path) -> Iterator[LiveServer]:
    """The real app and a worker in simulator mode on a loopback port, with the demo data."""
    with live_server(database_url, tmp_path / "instance") as server:
        yield server


@pytest.fixture
def console_page(browser, live) -> Iterator[Any]:
    """A browser tab for the console that fails the test on a script error or any resource the
    page asks for and does not get (the browser's own favicon request aside)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP",
                                  timezone_id="Asia/Tokyo", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(8000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
    yield page
    context.close()
    assert not problems, f"the page reported: {problems}"


@pytest.fixture
def simulator_page(browser, live) -> Iterator[Any]:
    """A browser tab on the simulator page that fails the test on a script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="ja-JP",
                                  timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(5000)  # the page polls every 700 ms; a turn takes well under a second
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live.url}/simulator/")
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = start_cluster()
    cluster.migrated_database(TEMPLATE_DB)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "desk.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "desk.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = "t_" + uuid.uuid4().hex[:12]
    yield cluster.create_database(name, template=TEMPLATE_DB)
    cluster.drop_database(name)


@pytest.fixture
def fake_line() -> Iterator[FakeLine]:
    fake = FakeLine(ACCESS_TOKEN)
    yield fake
    fake.close()


@pytest.fixture
def config(database_url, fake_line, tmp_path) -> Config:
    return Config(
        secret_key="test-secret-key",
        database_url=database_url,
        line_channel_secret=CHANNEL_SECRET,
        line_channel_access_token=ACCESS_TOKEN,
        line_api_base_url=fake_line.url,
        simulator=False,
        instance_dir=tmp_path / "instance",
        line_read_timeout=1.0,
        job_lease_seconds=30,
        worker_threads=2,
        worker_poll_seconds=0.05,
    )


@pytest.fixture
def clock() -> FrozenClock:
    """The service's one clock, for every part a test builds: Tuesday 1 December 2026, 9:00 in
    Tokyo, standing still until the test moves it."""
    return FrozenClock(TUESDAY_MORNING)


@pytest.fixture
def app(config, clock):
    app = create_app(config, clock=clock)
    app.config["TESTING"] = True
    yield app
    app.extensions["services"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def services(config, clock) -> Iterator[Services]:
    services = Services.create(config, clock=clock)
    yield services
    services.close()


@pytest.fixture
def worker(services) -> Worker:
    return Worker(services)


@pytest.fixture
def chat(services) -> Chat:
    """A new LINE user talking to the desk (with its demo counsellors) on a Tuesday morning."""
    load_demo_data(services.db)
    return Chat(services, "U" + "a" * 32)


@dataclass
class Line:
    """Plays the LINE platform's side of a webhook: builds events with real reply tokens, signs, posts."""

    client: Any
    fake: FakeLine
    clock: Any = None  # LINE stamps events with the time they happened: here, the desk's frozen time
    secret: str = CHANNEL_SECRET

    def post(self, *events: dict[str, Any], signature: str | None = None):
        body = line_events.body(*events)
        return self.client.post(
            "/callback", data=body.encode(), content_type="application/json",
            headers={"X-Line-Signature": signature or line_events.signature(self.secret, body)},
        )

    def token(self, user_id: str, ttl: float = 60.0) -> str:
        return self.fake.store.issue_reply_token(user_id, ttl)

    def stamped(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.clock is not None:
            event["timestamp"] = int(self.clock().timestamp() * 1000)
        return event

    def follow(self, user_id: str) -> dict[str, Any]:
        return self.stamped(line_events.follow(user_id, self.token(user_id)))

    def text(self, user_id: str, said: str) -> dict[str, Any]:
        return self.stamped(line_events.text(user_id, self.token(user_id), said))

    def received(self, user_id: str) -> list[str]:
        """What the user saw, as text, in order."""
        return [d.message.get("text") or d.message.get("altText") for d in self.fake.store.messages_to(user_id)]


@pytest.fixture
def line(client, fake_line, app) -> Line:
    return Line(client, fake_line, app.extensions["services"].clock)


def make_jobs_due(db) -> None:
    """Let time pass for retries: every waiting job becomes due now."""
    with db.transaction() as session:
        session.execute(update(Job).where(Job.status == "pending").values(run_at=db.clock()))
