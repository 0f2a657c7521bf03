"""POST /callback under bad input: correctly signed bodies of any JSON shape, forged signatures,
replays, oversized bodies and wrong content types. Never a 5xx, never a worker that dies, never a
user left unanswered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.simulator import events as line_events
from models import Job, LineUser, WebhookEvent
from tests.conftest import CHANNEL_SECRET, make_jobs_due

USERS = ["U" + c * 32 for c in "0123"]
FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# --- strategies -------------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
                    st.sampled_from(["", "\x00", "\u202e", "🙂", "\u3000", "0" * 300]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=20)


def nested(depth: int, leaf: Any = "底") -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


deep = st.integers(min_value=150, max_value=250).map(nested)
huge = st.integers(min_value=90_000, max_value=110_000).map(lambda n: "長" * (n // 3))
odd_values = st.one_of(json_values, deep, huge)

KEYS = ["type", "mode", "timestamp", "source", "webhookEventId", "deliveryContext", "replyToken",
        "message", "postback", "follow", "unknownField"]


@st.composite
def events(draw) -> Any:
    """A well-formed event of any kind, then perhaps mangled: keys dropped, values of the wrong type,
    extra fields, an unknown type; or something that is not an event at all."""
    user = draw(st.sampled_from(USERS))
    token = "rt" + draw(st.text(alphabet="0123456789abcdef", min_size=8, max_size=8))
    event = draw(st.sampled_from([
        lambda: line_events.text(user, token, "こんにちは"),
        lambda: line_events.follow(user, token),
        lambda: line_events.unfollow(user),
        lambda: line_events.sticker(user, token),
        lambda: line_events.postback(user, token, "menu:book"),
        lambda: line_events.postback(user, token, "date:x", {"date": "2026-12-02"}),
    ]))()
    how = draw(st.sampled_from(["keep", "mangle", "mangle", "anything"]))
    if how == "anything":
        return draw(odd_values)
    if how == "mangle":
        for key in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True)):
            if draw(st.booleans()):
                event.pop(key, None)
            else:
                event[key] = draw(odd_values)
        if draw(st.booleans()):
            event["type"] = draw(st.sampled_from(["memberJoined", "videoPlayComplete", "beacon", "unsend",
                                                   "activated", "newKindOfEvent", "", "message"]))
        if draw(st.booleans()) and isinstance(event.get("message"), dict):
            event["message"]["text"] = draw(st.one_of(huge, st.text(), json_values))
        if draw(st.booleans()) and isinstance(event.get("source"), dict):
            event["source"]["userId"] = draw(st.one_of(st.sampled_from(USERS), json_values))
    return event


bodies = st.one_of(
    st.builds(lambda evs, dest: {"destination": dest, "events": evs},
              st.lists(events(), min_size=1, max_size=5), st.one_of(st.just("Udeadbeef"), json_values)),
    st.dictionaries(st.sampled_from(["destination", "events", "extra"]), odd_values, max_size=3),
    odd_values,
)

# --- helpers ----------------------------------------------------------------------------------


def signed_post(client, body: str | bytes, *, content_type: str | None = "application/json",
                signature: str | None = None, secret: str = CHANNEL_SECRET):
    raw = body.encode() if isinstance(body, str) else body
    headers = {"X-Line-Signature": signature if signature is not None else line_events.signature(secret, raw)}
    if content_type is None:
        return client.post("/callback", data=raw, headers=headers)
    return client.post("/callback", data=raw, content_type=content_type, headers=headers)


def stored(app) -> int:
    with app.extensions["db"].transaction() as session:
        return session.scalar(select(func.count()).select_from(WebhookEvent))


def jobs_by_status(services) -> dict[str, int]:
    with services.db.transaction() as session:
        return dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())


def drain(worker, services) -> dict[str, int]:
    """Run the worker until every job is finished one way or the other, retries included."""
    for _ in range(10):
        worker.run_until_idle()
        make_jobs_due(services.db)
        if not {"pending", "running"} & set(jobs_by_status(services)):
            break
    return jobs_by_status(services)


def still_answered(line, worker, services, user: str) -> None:
    """The user's next message is answered. A user whose garbage included an unfollow has blocked
    the account and must add it again to talk (LINE lets no blocked user send anything)."""
    with services.db.transaction() as session:
        blocked = session.scalar(select(LineUser.blocked_at).where(LineUser.line_user_id == user))
    if blocked is not None:
        assert line.post(line.follow(user)).status_code == 200
        drain(worker, services)
    before = len(line.received(user))
    assert line.post(line.text(user, "メニュー")).status_code == 200
    drain(worker, services)
    assert len(line.received(user)) > before, f"{user} sent a message and got no answer"


# --- fuzzing ----------------------------------------------------------------------------------


@FUZZ
@given(payload=bodies, ascii_only=st.booleans())
def test_no_signed_body_of_any_shape_gets_a_5xx_or_stops_the_worker_or_a_user(
        app, client, line, worker, services, payload, ascii_only):
    body = json.dumps(payload, ensure_ascii=ascii_only)
    note(body[:3000])
    response = signed_post(client, body)
    assert response.status_code in (200, 400, 413), response.status_code
    statuses = drain(worker, services)  # raises if the worker does
    assert not {"pending", "running"} & set(statuses), statuses
    assert "dead" not in statuses, "bad input made a job fail until it gave up"
    for user in USERS:
        if user in body:
            still_answered(line, worker, services, user)


@pytest.mark.parametrize("body", [
    '{"destination": "x", "events": [' + "[" * 100_000 + "]" * 100_000 + "]}",
    '{"destination": "x", "events": [' + '{"a":' * 50_000 + "1" + "}" * 50_000 + "]}",
    '{"destination": "x", "events": [{"type": "message", "x": NaN, "y": Infinity}]}',
    '{"destination": "x", "events": [{"type": "message", "source": {"type": "user", "userId": "\\ud800"}}]}',
    '{"destination": "x", "events": [{"type": "follow", "webhookEventId": "\\udfff\\u0000"}]}',
    '{"destination": "x", "events": [{"type": "x", "t": "a\\u0000b", "\\u0000": 1}]}',
    '{"destination": "x", "events": [{"type": "x"}], "events": 5}',
    '{"destination": "x", "events": [{"type": "x", "timestamp": 1e400}]}',
    '\ufeff{"destination": "x", "events": []}',
], ids=["deep-lists", "deep-objects", "nan", "lone-surrogate-user", "surrogate-and-nul-id", "nul", "dup-key",
        "huge-float", "bom"])
def test_awkward_but_signed_json_gets_an_answer_below_500_and_the_worker_copes(app, client, worker, services, body):
    response = signed_post(client, body)
    assert response.status_code in (200, 400), response.status_code
    statuses = drain(worker, services)
    assert not {"pending", "running", "dead"} & set(statuses), statuses


def test_a_user_whose_garbage_and_real_message_arrive_in_one_body_gets_the_real_one_answered(line, worker, services):
    user = USERS[0]
    garbage = [{**line_events.text(user, line.token(user), "x"), "message": [1, 2]},
               {**line_events.follow(user, line.token(user)), "type": "brandNewEvent"},
               {"source": {"type": "user", "userId": user}, "type": "message", "message": {"type": "text"}},
               "not an event", 42, None]
    response = line.post(*garbage, line.text(user, "こんにちは"))
    assert response.status_code == 200
    statuses = drain(worker, services)
    assert set(statuses) == {"done"}, statuses
    assert line.received(user), "the real message was not answered"


# --- forged, replayed, oversized, mistyped ----------------------------------------------------


def _flip(signature: str) -> str:
    import base64

    raw = bytearray(base64.b64decode(signature))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("forge", [
    _flip,
    lambda s: line_events.signature("another-channel-secret", "anything"),
    lambda s: "",
    lambda s: "not base64 at all!!",
    lambda s: s[:-4],
    lambda s: "A" * 10_000,
    lambda s: s.lower(),
], ids=["bit-flipped", "other-secret", "empty", "non-base64", "truncated", "huge", "case-changed"])
def test_a_forged_signature_is_refused_with_400_and_nothing_is_stored(app, client, line, forge):
    body = line_events.body(line.text(USERS[0], "こんにちは"))
    response = signed_post(client, body, signature=forge(line_events.signature(CHANNEL_SECRET, body)))
    assert response.status_code == 400
    assert stored(app) == 0


def test_a_body_signed_with_another_secret_is_refused(app, client, line):
    body = line_events.body(line.text(USERS[0], "こんにちは"))
    assert signed_post(client, body, secret="another-channel-secret").status_code == 400
    assert stored(app) == 0


def test_a_replayed_body_is_acknowledged_stored_once_and_answered_once(app, client, line, worker, services):
    user = USERS[1]
    event = line.text(user, "こんにちは")
    body = line_events.body(event)
    assert signed_post(client, body).status_code == 200
    drain(worker, services)
    answered = line.received(user)
    assert answered
    assert signed_post(client, body).status_code == 200  # the same bytes posted again
    # The same event in a new body (other destination, re-signed): the webhookEventId decides.
    assert signed_post(client, line_events.body(event, destination="Uother")).status_code == 200
    assert stored(app) == 1
    drain(worker, services)
    assert line.received(user) == answered


def test_an_event_without_an_id_replayed_in_the_same_body_is_stored_once(app, client, line):
    event = line.text(USERS[2], "こんにちは")
    del event["webhookEventId"]
    body = line_events.body(event)
    assert signed_post(client, body).status_code == 200
    assert signed_post(client, line_events.body(event, event)).status_code == 200
    assert stored(app) == 1


def test_an_oversized_body_gets_413_and_nothing_is_stored(app, client, line):
    body = line_events.body(line.text(USERS[0], "あ" * 400_000))  # 1.2 MB in UTF-8
    assert signed_post(client, body).status_code == 413
    assert stored(app) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None, "application/json; charset=utf-8"])
def test_a_correctly_signed_body_with_another_content_type_is_stored_or_refused_but_never_a_5xx(
        app, client, line, content_type):
    body = line_events.body(line.text(USERS[3], "こんにちは"))
    response = signed_post(client, body, content_type=content_type)
    assert response.status_code in (200, 400, 415), response.status_code
    assert stored(app) == (1 if response.status_code == 200 else 0)


def test_a_body_that_is_not_utf8_is_refused_with_400(app, client):
    body = b'{"destination": "x", "events": [{"type": "message", "t": "\xff\xfe"}]}'
    assert signed_post(client, body).status_code == 400
    assert stored(app) == 0


def test_a_message_carrying_a_nul_or_a_lone_surrogate_escape_is_stored_and_answered(client, line, worker, services):
    # Before the fix, PostgreSQL's jsonb refused \u0000 and no database could encode \ud800: a 500,
    # and the user's message was lost.
    user = USERS[3]
    body = line_events.body(line.text(user, "予約\u0000したい")).replace("したい", "したい\\ud800")
    assert signed_post(client, body).status_code == 200
    statuses = drain(worker, services)
    assert set(statuses) == {"done"}, statuses
    assert line.received(user)
