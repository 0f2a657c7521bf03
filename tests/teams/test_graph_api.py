"""The Microsoft Graph adapter with the real MSAL and requests, against fake Entra ID and Graph over TLS."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import msal
import pytest
import requests
import trustme

from bot.teams.graph_api import PERMISSION_HINT, GraphApi, GraphOutcome
from tests.support.fake_microsoft import FakeMicrosoft, trusting
from tests.support.graph_requests import COUNSELLOR, START, SUBJECT, USER_EMAIL, meeting, settings_for



@pytest.fixture
def ms() -> Iterator[FakeMicrosoft]:
    before = os.environ.get("REQUESTS_CA_BUNDLE")
    with FakeMicrosoft.running() as fake:
        yield fake
    assert os.environ.get("REQUESTS_CA_BUNDLE") == before


@pytest.fixture
def graph(ms) -> Iterator[GraphApi]:
    api = GraphApi(settings_for(ms))
    yield api
    api.close()


class socket_closed_port:
    """A loopback port nobody listens on."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        return sock.getsockname()[1]  # bound but not listening: connections are refused

    def __exit__(self, *exc) -> None:
        self._sock.close()


def test_the_token_is_fetched_once_and_cached_across_calls(ms, graph):
    first = graph.create_event(meeting())
    second = graph.create_event(meeting())
    moved = graph.update_event(first.event_id, START + timedelta(hours=1), START + timedelta(hours=2))
    cancelled = graph.cancel_event(second.event_id, "ご予約が取り消されました。")

    assert [r.outcome for r in (first, second, moved, cancelled)] == [GraphOutcome.OK] * 4
    assert ms.entra.token_requests == 1
    assert len({c.headers["Authorization"] for c in ms.graph.calls}) == 1


def test_the_counsellor_is_a_required_attendee_and_the_user_only_when_given(ms, graph):
    alone = graph.create_event(meeting())
    with_user = graph.create_event(meeting(user_email=USER_EMAIL))

    assert ms.graph.events[alone.event_id]["attendees"] == [
        {"emailAddress": {"address": COUNSELLOR, "name": "佐藤 かおり"}, "type": "required",
         "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}},
    ]
    sent = ms.graph.calls_to("create")[1].body["attendees"]
    assert sent == [
        {"emailAddress": {"address": COUNSELLOR, "name": "佐藤 かおり"}, "type": "required"},
        {"emailAddress": {"address": USER_EMAIL}, "type": "optional"},
    ]
    assert with_user.outcome is GraphOutcome.OK


def test_start_and_end_are_sent_in_tokyo_standard_time(ms, graph):
    result = graph.create_event(meeting(start=datetime(2026, 12, 1, 10, 0, tzinfo=timezone(timedelta(hours=9)))))
    # The same instant given in UTC is sent the same way.
    graph.create_event(meeting(start=START))

    assert result.outcome is GraphOutcome.OK
    for call in ms.graph.calls_to("create"):
        assert call.body["start"] == {"dateTime": "2026-12-01T10:00:00", "timeZone": "Tokyo Standard Time"}
        assert call.body["end"] == {"dateTime": "2026-12-01T10:50:00", "timeZone": "Tokyo Standard Time"}
        assert call.headers["Prefer"] == 'outlook.timezone="Tokyo Standard Time"'
        assert call.body["isOnlineMeeting"] is True
        assert call.body["onlineMeetingProvider"] == "teamsForBusiness"
        assert call.body["allowNewTimeProposals"] is False
        assert call.body["body"]["contentType"] == "HTML"
        assert call.raw_path == "/v1.0/users/desk-meetings%40desk.example.jp/events"
    assert result.join_url == f"https://teams.microsoft.com/l/meetup-join/fake-{result.event_id}"
    assert result.client_request_id == ms.graph.calls[0].headers["Client-Request-Id"]
    assert str(uuid.UUID(result.client_request_id, version=4)) == result.client_request_id
    assert result.request_id == ms.graph.calls[0].request_id


def test_naive_datetimes_are_refused_before_any_call(ms, graph):
    with pytest.raises(ValueError):
        graph.create_event(meeting(start=datetime(2026, 12, 1, 10, 0)))
    assert ms.graph.calls == []


def test_a_repeated_create_with_the_same_transaction_id_returns_the_same_event(ms, graph):
    first = graph.create_event(meeting("booking-42"))
    again = graph.create_event(meeting("booking-42"))

    assert first.outcome is again.outcome is GraphOutcome.OK
    assert again.event_id == first.event_id
    assert again.join_url == first.join_url
    assert len(ms.graph.events) == 1
    assert ms.graph.events[first.event_id]["transactionId"] == "booking-42"
    assert first.client_request_id != again.client_request_id


def test_a_create_whose_answer_was_lost_is_safe_to_retry(ms):
    graph = GraphApi(settings_for(ms, read_timeout=0.4))
    ms.graph.fail_next("create", ("accept_then_stall", 3.0))

    lost = graph.create_event(meeting("booking-7"))
    retried = graph.create_event(meeting("booking-7"))

    graph.close()
    assert lost.outcome is GraphOutcome.UNKNOWN
    assert retried.outcome is GraphOutcome.OK
    assert list(ms.graph.events) == [retried.event_id]


def test_429_is_retry_with_the_retry_after_seconds(ms, graph):
    ms.graph.fail_next("create", 429)
    result = graph.create_event(meeting())
    assert result.outcome is GraphOutcome.RETRY
    assert result.status == 429
    assert result.retry_after == 1.0
    assert result.request_id and result.client_request_id
    assert ms.graph.events == {}


@pytest.mark.parametrize("status", [503, 504, 500])
def test_503_504_and_other_server_errors_are_retry(ms, graph, status):
    ms.graph.fail_next("patch", status)
    result = graph.update_event("AAMkADunknown=", START, START + timedelta(minutes=50))
    assert result.outcome is GraphOutcome.RETRY
    assert result.status == status
    assert result.retry_after is None


def test_graph_down_is_retry_for_every_kind_of_call(ms, graph):
    ms.graph.down(2.0)
    results = [graph.create_event(meeting()), graph.cancel_event("AAMkADx=", "取消")]
    assert [(r.outcome, r.status) for r in results] == [(GraphOutcome.RETRY, 503)] * 2
    assert results[0].retry_after == 2.0


def test_403_is_auth_and_names_the_missing_permission(ms, graph):
    ms.graph.fail_next("create", 403)
    result = graph.create_event(meeting())
    assert result.outcome is GraphOutcome.AUTH
    assert result.status == 403
    assert "ErrorAccessDenied" in result.detail
    # Both ways to grant it, whole (past the detail's length cap), and not both at once.
    assert result.detail.endswith(PERMISSION_HINT) and "not both" in result.detail
    assert "Calendars.ReadWrite" in result.detail and "RBAC for Applications" in result.detail
    assert "admin consent" in result.detail and "application access policy" in result.detail


def test_a_401_from_graph_drops_the_cached_token_so_the_next_call_gets_a_new_one(ms, graph):
    assert graph.create_event(meeting()).outcome is GraphOutcome.OK
    ms.entra.revoke_tokens()

    refused = graph.create_event(meeting())
    after = graph.create_event(meeting())

    assert refused.outcome is GraphOutcome.AUTH and refused.status == 401
    assert after.outcome is GraphOutcome.OK
    assert ms.entra.token_requests == 2


def test_a_wrong_client_secret_is_auth_without_the_secret_in_the_detail(ms):
    secret = "wrong-secret-Zq9~VERY-private"
    api = GraphApi(settings_for(ms, client_secret=secret))
    try:
        result = api.create_event(meeting())
    finally:
        api.close()

    assert result.outcome is GraphOutcome.AUTH
    assert "invalid_client" in result.detail
    assert "AADSTS7000215" in result.detail
    assert secret not in result.detail
    assert result.client_request_id is None  # nothing was sent to Graph
    assert ms.graph.calls == []


def test_an_unreachable_entra_is_retry_and_graph_is_not_called(ms):
    with socket_closed_port() as port:
        api = GraphApi(settings_for(ms, authority=f"https://127.0.0.1:{port}/{ms.entra.tenant}"))
        try:
            result = api.create_event(meeting())
        finally:
            api.close()
    assert result.outcome is GraphOutcome.RETRY
    assert "ConnectionError" in result.detail
    assert ms.graph.calls == []


def test_a_certificate_credential_gets_a_token(ms, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    leaf = trustme.CA().issue_cert("graph-client.desk.example.jp", key_type=trustme.KeyType.RSA)
    pem = tmp_path / "graph-client.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(pem))
    certificate = leaf.cert_chain_pems[0].bytes()
    ms.entra.register_certificate(certificate)
    thumbprint = x509.load_pem_x509_certificate(certificate).fingerprint(hashes.SHA1()).hex().upper()

    for changes in ({"certificate_thumbprint": thumbprint}, {}):
        api = GraphApi(settings_for(ms, client_secret=None, certificate_path=str(pem), **changes))
        try:
            assert api.create_event(meeting()).outcome is GraphOutcome.OK
        finally:
            api.close()
    assert [r.status for r in ms.entra.client_credential_requests()] == [200, 200]


def test_a_201_without_a_join_url_is_no_link_with_the_event_id(ms, graph):
    ms.graph.fail_next("create", "no_link")
    result = graph.create_event(meeting("booking-9"))
    assert result.outcome is GraphOutcome.NO_LINK
    assert result.status == 201
    assert result.event_id in ms.graph.events
    assert result.join_url is None
    assert ms.graph.events[result.event_id]["isOnlineMeeting"] is False


def test_cancel_reaches_graph_and_marks_the_event_cancelled(ms, graph):
    created = graph.create_event(meeting())
    result = graph.cancel_event(created.event_id, "ご予約が取り消されました。")

    assert result.outcome is GraphOutcome.OK
    assert result.status == 202
    assert result.event_id == created.event_id
    assert ms.graph.events[created.event_id]["cancelled"] is True
    assert ms.graph.events[created.event_id]["cancel_comment"] == "ご予約が取り消されました。"
    assert ms.graph.calls_to("cancel")[0].raw_path.endswith(f"/events/{created.event_id.replace('=', '%3D')}/cancel")


def test_cancel_of_an_unknown_or_already_cancelled_event_is_ok(ms, graph):
    unknown = graph.cancel_event("AAMkADnever-existed=", "取消")
    created = graph.create_event(meeting())
    graph.cancel_event(created.event_id, "取消")
    twice = graph.cancel_event(created.event_id, "取消")

    assert (unknown.outcome, unknown.status) == (GraphOutcome.OK, 404)
    assert (twice.outcome, twice.status) == (GraphOutcome.OK, 404)


def test_update_changes_start_and_end(ms, graph):
    created = graph.create_event(meeting())
    new_start = datetime(2026, 12, 2, 5, 30, tzinfo=UTC)  # 14:30 in Tokyo
    result = graph.update_event(created.event_id, new_start, new_start + timedelta(minutes=50))

    assert result.outcome is GraphOutcome.OK
    assert result.status == 200
    event = ms.graph.events[created.event_id]
    assert event["start"] == {"dateTime": "2026-12-02T14:30:00", "timeZone": "Tokyo Standard Time"}
    assert event["end"] == {"dateTime": "2026-12-02T15:20:00", "timeZone": "Tokyo Standard Time"}
    assert ms.graph.calls_to("patch")[0].body == {"start": event["start"], "end": event["end"]}


def test_update_of_an_unknown_event_is_rejected(ms, graph):
    result = graph.update_event("AAMkADnever-existed=", START, START + timedelta(minutes=50))
    assert result.outcome is GraphOutcome.REJECTED
    assert result.status == 404
    assert result.detail.startswith("ErrorItemNotFound")


def test_a_rejection_detail_never_carries_an_address(ms):
    api = GraphApi(settings_for(ms, organizer="someone-else@desk.example.jp"))
    try:
        result = api.create_event(meeting())
    finally:
        api.close()
    assert result.outcome is GraphOutcome.REJECTED
    assert "ErrorInvalidUser" in result.detail
    assert "@" not in result.detail


def test_a_stalled_graph_is_unknown_within_the_read_timeout(ms):
    graph = GraphApi(settings_for(ms, read_timeout=0.4))
    assert graph.create_event(meeting()).outcome is GraphOutcome.OK  # token cached, connection open
    ms.graph.fail_next("create", ("stall", 5.0))
    began = time.monotonic()
    result = graph.create_event(meeting())
    elapsed = time.monotonic() - began
    graph.close()

    assert result.outcome is GraphOutcome.UNKNOWN
    assert "Timeout" in result.detail
    assert 0.4 <= elapsed < 1.5
    assert len(ms.graph.events) == 1


def test_logs_carry_neither_the_token_nor_the_subject_nor_any_email(ms, graph, caplog):
    caplog.set_level(logging.DEBUG)
    ms.graph.fail_next("create", 429)
    graph.create_event(meeting(user_email=USER_EMAIL))
    result = graph.create_event(meeting(user_email=USER_EMAIL))
    graph.cancel_event(result.event_id, "取消")

    tokens = list(ms.entra.issued)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert result.outcome is GraphOutcome.OK and len(tokens) == 1
    assert any(r.name == "bot.teams.graph_api" for r in caplog.records)
    for secret in (tokens[0], SUBJECT, "山田", COUNSELLOR, USER_EMAIL, "佐藤", ms.entra.client_secret):
        assert secret not in text
    assert result.request_id in text and result.client_request_id in text


def test_the_ca_env_var_is_restored_after_the_fakes_stop():
    before = os.environ.get("REQUESTS_CA_BUNDLE")
    with FakeMicrosoft.running() as fake:
        assert os.environ["REQUESTS_CA_BUNDLE"] == fake.ca_path
        assert requests.get(f"{fake.entra.authority}/v2.0/.well-known/openid-configuration", timeout=2).ok
    assert os.environ.get("REQUESTS_CA_BUNDLE") == before

    os.environ.pop("REQUESTS_CA_BUNDLE", None)
    try:
        with trusting(fake.ca_path):
            pass
        assert "REQUESTS_CA_BUNDLE" not in os.environ
    finally:
        if before is not None:
            os.environ["REQUESTS_CA_BUNDLE"] = before


@pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")
def test_the_fake_entra_signs_a_console_user_in_with_msal(ms):
    """The authorization-code flow the console sign-in will use: MSAL builds the request, the fake
    redirects back with a code, and MSAL redeems it for an id_token with the configured claims."""
    ms.entra.user = {"name": "相談 管理者", "preferred_username": "admin@desk.example.jp",
                     "oid": "00000000-0000-0000-0000-0000000000b2"}
    app = msal.ConfidentialClientApplication(
        ms.entra.client_id, client_credential=ms.entra.client_secret, authority=ms.entra.authority,
        instance_discovery=False)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri="https://desk.example.jp/auth/callback")
    answer = requests.get(flow["auth_uri"], allow_redirects=False, timeout=2)
    assert answer.status_code == 302
    callback = requests.utils.urlparse(answer.headers["Location"])
    params = dict(p.split("=", 1) for p in callback.query.split("&"))

    result = app.acquire_token_by_auth_code_flow(flow, params)

    claims = result["id_token_claims"]
    assert claims["name"] == "相談 管理者"
    assert claims["preferred_username"] == "admin@desk.example.jp"
    assert claims["tid"] == ms.entra.tenant and claims["aud"] == ms.entra.client_id
    assert app.get_accounts()[0]["username"] == "admin@desk.example.jp"


def test_the_fake_entra_answers_form_post_sign_ins_with_a_self_posting_form(ms):
    app = msal.ConfidentialClientApplication(
        ms.entra.client_id, client_credential=ms.entra.client_secret, authority=ms.entra.authority,
        instance_discovery=False)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri="https://desk.example.jp/auth/callback",
                                       response_mode="form_post")
    page = requests.get(flow["auth_uri"], timeout=2)

    assert page.status_code == 200
    assert 'action="https://desk.example.jp/auth/callback"' in page.text
    assert f'name="state" value="{flow["state"]}"' in page.text
    assert 'name="code" value="fake-code-' in page.text


def test_a_retry_after_date_is_read_against_graphs_own_date_header_not_this_machines_clock():
    from bot.teams.graph_api import _retry_after

    assert _retry_after("Wed, 02 Dec 2026 00:00:30 GMT", "Wed, 02 Dec 2026 00:00:00 GMT") == 30.0
    assert _retry_after("Wed, 02 Dec 2026 00:00:30 GMT", None) is None  # no base: the usual backoff
    assert _retry_after("7", None) == 7.0
