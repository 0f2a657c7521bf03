"""The console's fixtures: a world of two counsellors with a booked user each, and its operators."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import create_app
from models import Booking, Chat, ChatTemplate, Counsellor, LineUser, MessageLog, OperatorAlert
from tests.support.console import (
    OTHER,
    OWN,
    PASSWORD,
    PEOPLE,
    TOKYO,
    VIEWER_EMAIL,
    create_operator,
    db,
    signed_in_admin,
)


@pytest.fixture
def world(app):
    """The two counsellors, their booked users and operators; the ids to fill routes in with."""
    start = db(app).clock().astimezone(TOKYO).replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=7)
    ids: dict[str, dict[str, object]] = {}
    with db(app).transaction() as session:
        for n, (who, p) in enumerate(PEOPLE.items()):
            counsellor = Counsellor(name=p["counsellor"][0], email=p["counsellor"][1], topics=["その他"],
                                    weekly={}, days_off=[])
            user = LineUser(line_user_id=p["user"], followed_at=start - timedelta(days=8), flagged_at=start)
            session.add_all([counsellor, user])
            session.flush()
            booking = Booking(reference=p["reference"], user_id=user.id, counsellor_id=counsellor.id, topic="その他",
                              starts_at=start + timedelta(hours=n), ends_at=start + timedelta(hours=n, minutes=30),
                              status="confirmed", confirmed_at=start - timedelta(days=7), name=p["name"],
                              furigana=p["furigana"], age=25, email=p["email"], phone=p["phone"],
                              consultation=p["said"], teams_status="failed", handoff_error="403")
            session.add(booking)
            session.flush()
            session.add(MessageLog(user_id=user.id, direction="in", kind="text", text=p["said"],
                                   payload={"type": "text", "text": p["said"]}, flow="booking", step="consultation"))
            alert = OperatorAlert(kind="handoff_failed", booking_id=booking.id, message="Teams の会議を作れませんでした")
            session.add(alert)
            session.flush()
            ids[who] = {"user_id": user.id, "reference": booking.reference, "counsellor_id": counsellor.id,
                        "alert_id": alert.id, "version": "2026-04-01", "faq_key": "cost"}
    admin = create_operator(app)
    viewer = create_operator(app, VIEWER_EMAIL, "viewer", PASSWORD, "統計 閲覧")
    own = create_operator(app, PEOPLE[OWN]["counsellor"][1], "counsellor", PASSWORD, PEOPLE[OWN]["counsellor"][0],
                          "--counsellor-email", PEOPLE[OWN]["counsellor"][1])
    # Each user is in a chat: the first counsellor's own, and one the admin answers.
    with db(app).transaction() as session:
        now = db(app).clock()
        template = ChatTemplate(title="受付のご挨拶", body="お問い合わせありがとうございます。")
        session.add(template)
        for who, holder in ((OWN, own), (OTHER, admin)):
            chat = Chat(user_id=ids[who]["user_id"], status="active", requested_at=now, taken_at=now,
                        operator_id=holder.id, last_message_at=now)
            session.add(chat)
            session.flush()
            ids[who]["chat_id"] = chat.id
            ids[who]["template_id"] = template.id
    for found in ids.values():  # the logins page's routes act on the viewer's login
        found.update(operator_id=viewer.id, action="unlock")
    return ids


@pytest.fixture
def admin(app):
    """A client signed in to the console as an admin."""
    return signed_in_admin(app)


@pytest.fixture
def build(config, clock):
    """Builds apps with these changes to the test configuration, on the test clock."""
    apps = []

    def build(**changes):
        app = create_app(config.but(**changes), clock=clock)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["services"].close()
