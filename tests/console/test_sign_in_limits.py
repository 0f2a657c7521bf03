"""Guessing an operator's password: rotating addresses buys nothing, parallel requests pass the
check one at a time, and a long run of failures locks the address until an admin lifts it."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlalchemy import func, select

from bot.console import throttle
from models import SignInAttempt
from tests.support.console import (
    ADMIN_EMAIL,
    PASSWORD,
    audit_rows,
    create_operator,
    db,
    sign_in,
)


def from_ip(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def test_rotating_ip_addresses_waits_longer_after_each_failure(app, clock):
    create_operator(app)
    for n in range(throttle.ACCOUNT_FREE):
        assert sign_in(from_ip(app, f"198.51.100.{n}"), ADMIN_EMAIL, "guess").status_code == 401
    # The next try from yet another address must wait a second, then two, then four ...
    assert sign_in(from_ip(app, "198.51.100.50"), ADMIN_EMAIL, PASSWORD).status_code == 429
    assert json.loads(audit_rows(app, "sign_in_refused")[-1].detail)["reason"] == "account_delay"
    clock.advance(timedelta(seconds=1))
    assert sign_in(from_ip(app, "198.51.100.51"), ADMIN_EMAIL, "guess").status_code == 401
    clock.advance(timedelta(seconds=1))
    assert sign_in(from_ip(app, "198.51.100.52"), ADMIN_EMAIL, PASSWORD).status_code == 429
    clock.advance(timedelta(seconds=1))
    assert sign_in(from_ip(app, "198.51.100.53"), ADMIN_EMAIL, PASSWORD).status_code == 302


def test_a_long_run_of_failures_locks_the_address_until_an_admin_lifts_it(app, clock):
    create_operator(app)
    for n in range(throttle.ACCOUNT_LOCK):
        clock.advance(throttle.account_wait(n))
        assert sign_in(from_ip(app, f"203.0.113.{n}"), ADMIN_EMAIL, "guess").status_code == 401
    clock.advance(timedelta(hours=2))  # waiting does not lift a lock
    locked = sign_in(from_ip(app, "203.0.113.200"), ADMIN_EMAIL, PASSWORD)
    assert locked.status_code == 429 and "管理者に解除を依頼" in locked.get_data(as_text=True)

    result = app.test_cli_runner().invoke(args=["operator-unlock", ADMIN_EMAIL])
    assert result.exit_code == 0, result.output
    assert sign_in(from_ip(app, "203.0.113.201"), ADMIN_EMAIL, PASSWORD).status_code == 302
    assert [r.action for r in audit_rows(app, "operator_unlocked")] == ["operator_unlocked"]


def test_parallel_guesses_pass_the_check_one_at_a_time(app):
    create_operator(app)
    start = threading.Barrier(12)
    codes: list[int] = []

    def guess() -> None:
        client = from_ip(app, "192.0.2.99")
        start.wait()
        codes.append(sign_in(client, ADMIN_EMAIL, "guess").status_code)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with db(app).transaction() as session:
        recorded = session.scalar(select(func.count()).select_from(SignInAttempt))
    assert recorded == codes.count(401) == throttle.LIMIT
    assert codes.count(429) == 12 - throttle.LIMIT
