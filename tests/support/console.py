"""Driving the operator console in tests: operators, signing in, CSRF tokens, the audit log."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import AuditEntry, Booking, Counsellor, LineUser, Operator
from tests.support.chat import TUESDAY_MORNING

PASSWORD = "correct horse battery staple"
ADMIN_EMAIL = "admin@desk.example.jp"
VIEWER_EMAIL = "viewer@desk.example.jp"


def db(app):
    return app.extensions["db"]


def create_operator(app, email=ADMIN_EMAIL, role="admin", password=PASSWORD, name="窓口 管理者", *extra: str) -> Operator:
    """Through the real `flask --app bot create-operator` command."""
    args = ["create-operator", "--email", email, "--name", name, "--role", role, *extra]
    args += ["--sso-only"] if password is None else ["--password", password]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    return operator(app, email)


def create_counsellor_operator(app, counsellor_email: str, name: str = "相談員") -> Operator:
    """An operator with the counsellor role for an existing counsellor row (same e-mail)."""
    return create_operator(app, counsellor_email, "counsellor", PASSWORD, name, "--counsellor-email", counsellor_email)


def operator(app, email) -> Operator:
    with db(app).transaction() as session:
        return session.scalar(select(Operator).where(Operator.email == email))


def counsellor(app, email: str) -> Counsellor:
    with db(app).transaction() as session:
        return session.scalar(select(Counsellor).where(Counsellor.email == email))


def audit_rows(app, action: str | None = None) -> list[AuditEntry]:
    with db(app).transaction() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list(session.scalars(query))


def csrf_token(page) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client, email=ADMIN_EMAIL, password=PASSWORD):
    token = csrf_token(client.get("/console/login"))
    return client.post("/console/login", data={"email": email, "password": password, "csrf_token": token})


def signed_in_client(app, email=ADMIN_EMAIL):
    client = app.test_client()
    response = sign_in(client, email)
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    return client


def signed_in_admin(app):
    """A client signed in as a newly created admin."""
    create_operator(app)
    return signed_in_client(app)


def post_form(client, page_url: str, action_url: str, data: dict | None = None):
    """Open the page that holds a form (for its CSRF token), then post the form to `action_url`."""
    token = csrf_token(client.get(page_url))
    return client.post(action_url, data={**(data or {}), "csrf_token": token})


def goes_to_login(response) -> bool:
    return response.status_code in (302, 303) and urlsplit(response.location).path == "/console/login"


# -- a booked world and helpers the console's tests share ----------------------------------------

TOKYO = ZoneInfo("Asia/Tokyo")


AOKI, ISHII = "aoki.satomi@desk.example.jp", "ishii.kenta@desk.example.jp"


OWN, OTHER = "own", "other"


PEOPLE = {
    OWN: dict(counsellor=("相談 一郎", "ichiro@desk.example.jp"), user="U" + "1" * 32, reference="OWN-0001",
              name="山田 花子", furigana="ヤマダ ハナコ", email="hanako.yamada@example.jp", phone="090-1111-2222",
              said="上司からのパワハラについて相談したい"),
    OTHER: dict(counsellor=("相談 二郎", "jiro@desk.example.jp"), user="U" + "2" * 32, reference="OTH-0002",
                name="佐々木 次郎", furigana="ササキ ジロウ", email="jiro.sasaki@example.jp", phone="080-3333-4444",
                said="残業代が払われていないことについて"),
}


def personal_data(who: str) -> list[str]:
    p = PEOPLE[who]
    return [p["name"], p["furigana"], p["email"], p["phone"], p["said"]]


def at_desk(app, moment: datetime = TUESDAY_MORNING) -> None:
    """The console's clock: Tuesday 1 December 2026, 9:00 in Tokyo unless told otherwise."""
    app.extensions["services"].clock.set(moment)


def insert_booking(app, reference: str, counsellor_email: str, starts_at: datetime, topic: str = "キャリア・転職",
                   status: str = "confirmed", teams_status: str = "created", name: str = "山田 太郎") -> int:
    """A booking (and its LINE user) straight in the database, for lists and calendars."""
    with db(app).transaction() as session:
        counsellor_id = session.scalar(select(Counsellor.id).where(Counsellor.email == counsellor_email))
        user = LineUser(line_user_id="U" + reference.lower().ljust(32, "0"))
        session.add(user)
        session.flush()
        booking = Booking(reference=reference, user_id=user.id, counsellor_id=counsellor_id, topic=topic,
                          starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30), status=status,
                          teams_status=teams_status, name=name, furigana="ヤマダ タロウ", age=25,
                          email="taro@example.jp", phone="09012345678", consultation="転職の相談",
                          confirmed_at=starts_at - timedelta(days=3))
        session.add(booking)
        session.flush()
        return booking.id


def tokyo(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TOKYO)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def fill(rule, values: dict[str, object]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1).split(":")[-1]
        assert name in values, f"{rule.rule}: no test value for <{name}>"
        return str(values[name])

    return re.sub(r"<([^>]+)>", value, rule.rule)
