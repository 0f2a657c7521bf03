"""A database first run in simulator mode, then given a real LINE channel: the published demo
logins open nothing, the desk says so at start-up, and one command removes the demo rows."""

from __future__ import annotations

from sqlalchemy import select

from bot import create_app
from bot.demo import DEMO_OPERATORS, DEMO_PASSWORD, load_demo_data
from models import Counsellor, Operator, OperatorAlert
from tests.support.console import audit_rows, csrf_token, db, goes_to_login


def sign_in_with(client, email: str, password: str):
    token = csrf_token(client.get("/console/login"))
    return client.post("/console/login", data={"email": email, "password": password, "csrf_token": token})


def test_a_demo_login_left_from_the_simulator_is_refused_once_a_line_channel_is_set(config, clock, caplog):
    simulated = create_app(config.but(simulator=True), clock=clock)
    load_demo_data(simulated.extensions["db"], operators=True)
    simulated.extensions["services"].close()

    live = create_app(config, clock=clock)  # the same database, now with a LINE channel
    try:
        for email, *_ in DEMO_OPERATORS:
            response = sign_in_with(live.test_client(), email, DEMO_PASSWORD)
            assert response.status_code == 401
            assert live.test_client().get("/console/users").status_code != 200
        assert {r.operator_email for r in audit_rows(live, "sign_in_failed")} >= {e for e, *_ in DEMO_OPERATORS}
        [alert] = alerts(live)
        assert "demo-data --remove" in alert.message and "3 demo logins" in alert.message
        assert any("demo-data --remove" in r.getMessage() for r in caplog.records)
    finally:
        live.extensions["services"].close()


def test_the_remove_command_retires_the_demo_logins_and_counsellors_even_after_use(config, clock):
    app = create_app(config.but(simulator=True), clock=clock)
    try:
        load_demo_data(app.extensions["db"], operators=True)
        client = app.test_client()
        assert sign_in_with(client, "admin@desk.example.jp", DEMO_PASSWORD).status_code == 302  # leaves an audit trail
        result = app.test_cli_runner().invoke(args=["demo-data", "--remove"])
        assert result.exit_code == 0, result.output
        assert goes_to_login(client.get("/console/"))  # the open session ended too
        for email, *_ in DEMO_OPERATORS:
            assert sign_in_with(app.test_client(), email, DEMO_PASSWORD).status_code == 401
        with db(app).transaction() as session:
            assert session.scalars(select(Counsellor).where(Counsellor.active.is_(True))).all() == []
            assert all(o.password_hash is None and not o.active for o in session.scalars(select(Operator)))
    finally:
        app.extensions["services"].close()


def test_no_demo_data_is_created_once_a_line_channel_is_set(app):
    result = app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code == 0 and "no demo data" in result.output
    with db(app).transaction() as session:
        assert session.scalars(select(Operator)).all() == [] and session.scalars(select(Counsellor)).all() == []


def alerts(app) -> list[OperatorAlert]:
    with db(app).transaction() as session:
        return list(session.scalars(select(OperatorAlert).where(OperatorAlert.kind == "demo_data")))


def test_demo_counsellors_from_the_simulator_are_never_offered_on_a_live_desk(config, clock, services):
    from tests.support.chat import Chat, play, says, tap
    from tests.support.scripts import AGREED

    simulated = create_app(config.but(simulator=True), clock=clock)
    assert simulated.test_cli_runner().invoke(args=["demo-data"]).exit_code == 0
    simulated.extensions["services"].close()

    live = create_app(config, clock=clock)
    try:
        [alert] = alerts(live)
        assert "3 demo counsellors" in alert.message
        answer = play(Chat(services, "U" + "4" * 32), AGREED + [(tap("相談を予約する"), says("テーマ"))])
        offered = Chat(services, "U" + "4" * 32).tap("キャリア・転職", answer)
        assert "ご予約いただける日がありません" in offered.text  # the demo counsellors do not count
    finally:
        live.extensions["services"].close()
