"""The one place that talks to Microsoft Graph: Teams meetings as calendar events of one organizer mailbox.

An app-only (client credentials) token comes from MSAL's ConfidentialClientApplication; one instance
per GraphApi, so its in-memory token cache serves every call and Entra ID is asked again only when
the token is about to expire. Graph calls go through one requests.Session without automatic retries:
the job queue owns retries, and `transactionId` makes a retried create return the same event.

Every call becomes a GraphResult the delivery rules can act on. Logs carry only the method, the
status, Graph's `request-id` and our `client-request-id` (and Graph's error code): never tokens,
secrets, bodies, subjects, names or e-mail addresses.
"""

from __future__ import annotations

import email.utils
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse
from zoneinfo import ZoneInfo

import msal
import requests

from bot.ops.metrics import observe_graph_call

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
MICROSOFT_AUTHORITY_HOST = "login.microsoftonline.com"
WINDOWS_TIME_ZONE = "Tokyo Standard Time"  # Graph's (Windows) name for Asia/Tokyo
TOKYO = ZoneInfo("Asia/Tokyo")
# Entra ID's tenant-wide permission and an Exchange RBAC assignment add up, so "add admin consent"
# would be the wrong fix for an app set up with RBAC: name both ways, as docs/deployment.md step 2 does.
PERMISSION_HINT = ("the app may not write the organizer's calendar. Give it Calendars.ReadWrite one way, not both "
                   "(grants add up): an Exchange RBAC for Applications role assignment scoped to the organizer, "
                   "or the Entra ID application permission with admin consent limited by an application "
                   "access policy. A new grant can take a couple of hours to apply; then retry the handoff "
                   "(docs/deployment.md, step 2)")
DETAIL_LIMIT = 200
_ADDRESS = re.compile(r"[^\s'\"<>(),;:]+@[^\s'\"<>(),;:]+")
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


@dataclass(frozen=True)
class GraphSettings:
    tenant_id: str
    client_id: str
    organizer: str  # UPN of the service mailbox that organises meetings
    client_secret: str | None = None
    certificate_path: str | None = None  # PEM private key (+cert) file, with certificate_thumbprint
    certificate_thumbprint: str | None = None
    authority: str | None = None  # default f"https://login.microsoftonline.com/{tenant_id}"
    base_url: str = "https://graph.microsoft.com/v1.0"
    connect_timeout: float = 3.05
    read_timeout: float = 20.0


@dataclass(frozen=True)
class MeetingRequest:
    transaction_id: str  # derived from the booking by the caller; makes a retried POST idempotent
    subject: str  # Japanese
    body_html: str  # for the counsellor (already escaped by the caller)
    start: datetime  # aware
    end: datetime  # aware
    counsellor_email: str
    counsellor_name: str
    user_email: str | None = None  # added as an attendee only when given


class GraphOutcome(Enum):
    OK = "ok"
    RETRY = "retry"  # throttled, 5xx or Entra ID unreachable: nothing was done; try again later
    AUTH = "auth"  # no token, or Graph refused it (401/403): an operator must fix the app registration
    REJECTED = "rejected"  # other 4xx: this request will never succeed
    UNKNOWN = "unknown"  # timeout or broken connection: Graph may or may not have acted
    NO_LINK = "no_link"  # the event exists (event_id) but Graph gave it no Teams join URL


@dataclass(frozen=True)
class GraphResult:
    outcome: GraphOutcome
    status: int | None = None
    event_id: str | None = None
    join_url: str | None = None
    retry_after: float | None = None
    request_id: str | None = None  # Graph's `request-id` response header
    client_request_id: str | None = None  # the client-request-id we sent (a uuid4 per call)
    detail: str = ""  # operator-facing, no personal data


def graph_datetime(moment: datetime) -> dict[str, str]:
    """An aware datetime as Graph's dateTimeTimeZone, in Tokyo local time."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Graph event times must be timezone-aware")
    local = moment.astimezone(TOKYO)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": WINDOWS_TIME_ZONE}


def _retry_after(value: str | None, sent: str | None) -> float | None:
    """Retry-After in seconds (Graph sends delta-seconds). An HTTP date is read against the
    response's own Date header, the server's clock, so neither machine's clock skews it."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when, base = email.utils.parsedate_to_datetime(value), email.utils.parsedate_to_datetime(sent or "")
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - base).total_seconds())


def _graph_error(response: requests.Response) -> tuple[str, str]:
    """Graph's error code and message from {"error": {"code": ..., "message": ...}}."""
    try:
        error = response.json().get("error") or {}
        return str(error.get("code") or ""), str(error.get("message") or "")
    except (ValueError, AttributeError):
        return "", ""


def _read_certificate(path: str, thumbprint: str | None) -> dict[str, str]:
    """MSAL's certificate credential from a PEM file holding the private key (and usually the cert)."""
    text = Path(path).read_text()
    blocks = {m.group(1): m.group(0) for m in reversed(list(_PEM_BLOCK.finditer(text)))}
    key = next((block for kind, block in blocks.items() if kind.endswith("PRIVATE KEY")), None)
    if key is None:
        raise ValueError("the Graph certificate file holds no PEM private key")
    if thumbprint:
        # The SHA-1 thumbprint shown for the certificate in the app registration (x5t).
        return {"private_key": key, "thumbprint": re.sub(r"[^0-9A-Fa-f]", "", thumbprint)}
    if "CERTIFICATE" in blocks:
        # MSAL (>= 1.35) then derives the SHA-256 thumbprint itself (x5t#S256, PS256).
        return {"private_key": key, "public_certificate": blocks["CERTIFICATE"]}
    raise ValueError("the Graph certificate needs certificate_thumbprint, or the certificate in the PEM file")


class GraphApi:
    def __init__(self, settings: GraphSettings) -> None:
        if bool(settings.client_secret) == bool(settings.certificate_path):
            raise ValueError("GraphSettings needs exactly one of client_secret and certificate_path")
        self._settings = settings
        self._credential: Any = (
            settings.client_secret if settings.client_secret
            else _read_certificate(settings.certificate_path or "", settings.certificate_thumbprint)
        )
        self._authority = settings.authority or f"https://{MICROSOFT_AUTHORITY_HOST}/{settings.tenant_id}"
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        self._base = settings.base_url.rstrip("/")
        self._user_path = f"/users/{quote(settings.organizer, safe='')}"
        self._session = requests.Session()  # requests' default adapter sends each request once
        self._session.headers.update({"Accept": "application/json"})
        self._msal: msal.ConfidentialClientApplication | None = None
        self._msal_lock = threading.Lock()

    def close(self) -> None:
        self._session.close()
        with self._msal_lock:
            if self._msal is not None:
                self._msal.http_client.close()
                self._msal = None

    # -- meetings ------------------------------------------------------------------------------

    @staticmethod
    def _attendees(meeting: MeetingRequest) -> list[dict[str, Any]]:
        attendees = [{"emailAddress": {"address": meeting.counsellor_email, "name": meeting.counsellor_name},
                      "type": "required"}]
        if meeting.user_email:
            attendees.append({"emailAddress": {"address": meeting.user_email}, "type": "optional"})
        return attendees

    def create_event(self, meeting: MeetingRequest) -> GraphResult:
        attendees = self._attendees(meeting)
        event = {
            "subject": meeting.subject,
            "body": {"contentType": "HTML", "content": meeting.body_html},
            "start": graph_datetime(meeting.start),
            "end": graph_datetime(meeting.end),
            "attendees": attendees,
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
            "allowNewTimeProposals": False,
            "transactionId": meeting.transaction_id,
        }
        return self._call("create", "POST", f"{self._user_path}/events", event)

    def update_event(self, event_id: str, start: datetime, end: datetime) -> GraphResult:
        body = {"start": graph_datetime(start), "end": graph_datetime(end)}
        return self._call("update", "PATCH", f"{self._user_path}/events/{quote(event_id, safe='')}", body)

    def move_event(self, event_id: str, meeting: MeetingRequest) -> GraphResult:
        """PATCH the same event to the booking's new time (and counsellor): its subject, body, start,
        end and attendees, all given in full, so sending it twice leaves the event the same.
        Exchange sends the attendees the updated invite; the join link does not change."""
        body = {"subject": meeting.subject, "body": {"contentType": "HTML", "content": meeting.body_html},
                "start": graph_datetime(meeting.start), "end": graph_datetime(meeting.end),
                "attendees": self._attendees(meeting)}
        return self._call("update", "PATCH", f"{self._user_path}/events/{quote(event_id, safe='')}", body)

    def cancel_event(self, event_id: str, comment: str) -> GraphResult:
        path = f"{self._user_path}/events/{quote(event_id, safe='')}/cancel"
        return self._call("cancel", "POST", path, {"comment": comment}, event_id=event_id)

    # -- plumbing ------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Operator detail: capped, without e-mail addresses and never the client secret."""
        if self._settings.client_secret:
            text = text.replace(self._settings.client_secret, "***")
        return _ADDRESS.sub("<address>", text)[:DETAIL_LIMIT]

    def _app(self) -> msal.ConfidentialClientApplication:
        # Built on first use: the constructor already reads the authority's OpenID configuration,
        # and an unreachable Entra ID at start-up must not stop the bot.
        with self._msal_lock:
            if self._msal is None:
                host = urlparse(self._authority).hostname
                self._msal = msal.ConfidentialClientApplication(
                    self._settings.client_id,
                    client_credential=self._credential,
                    authority=self._authority,
                    timeout=self._timeout,
                    # Anything but the public cloud's host (a sovereign cloud, a test fake) is not in
                    # Microsoft's instance discovery: read {authority}/v2.0/.well-known/... directly.
                    instance_discovery=False if host != MICROSOFT_AUTHORITY_HOST else None,
                )
            return self._msal

    def _token(self) -> tuple[str | None, GraphResult | None]:
        try:
            app = self._app()
            result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        except requests.RequestException as e:
            # Entra ID unreachable or 5xx: Graph was not called, so trying again later is safe.
            log.warning("Graph token request got no usable answer: %s", type(e).__name__)
            return None, GraphResult(GraphOutcome.RETRY, detail=f"Entra ID token request failed: {type(e).__name__}")
        except (ValueError, KeyError, RuntimeError) as e:
            # A wrong authority or tenant (OpenID configuration not found), or a malformed answer.
            log.warning("Graph token request failed: %s", type(e).__name__)
            return None, GraphResult(GraphOutcome.AUTH, detail=self._scrub(f"Entra ID configuration error: {e}"))
        token = result.get("access_token") if isinstance(result, dict) else None
        if token:
            return token, None
        error = str((result or {}).get("error") or "no_token")
        description = str((result or {}).get("error_description") or "")
        log.warning("Graph token request refused: %s %s", error, (result or {}).get("error_codes") or "")
        outcome = GraphOutcome.RETRY if error in ("temporarily_unavailable", "server_error") else GraphOutcome.AUTH
        return None, GraphResult(outcome, detail=self._scrub(f"Entra ID refused the token request: {error}: {description}"))

    def _forget_token(self) -> None:
        """Graph refused our token: make the next call ask Entra ID for a fresh one."""
        with self._msal_lock:
            app = self._msal
        if app is not None:
            app.remove_tokens_for_client()

    def _call(self, what: str, method: str, path: str, body: dict[str, Any], *,
              event_id: str | None = None) -> GraphResult:
        started = time.perf_counter()
        result = self._send(what, method, path, body, event_id=event_id)
        observe_graph_call(what, result.outcome.value, result.status, time.perf_counter() - started)
        return result

    def _send(self, what: str, method: str, path: str, body: dict[str, Any], *,
              event_id: str | None = None) -> GraphResult:
        token, failure = self._token()
        if failure is not None:
            return failure  # Graph was not called
        client_request_id = str(uuid.uuid4())
        headers = {
            "Authorization": f"Bearer {token}",
            "Prefer": f'outlook.timezone="{WINDOWS_TIME_ZONE}"',
            "client-request-id": client_request_id,
            "return-client-request-id": "true",
        }
        try:
            response = self._session.request(method, self._base + path, headers=headers, json=body,
                                             timeout=self._timeout, allow_redirects=False)
        except requests.RequestException as e:
            log.warning("Graph %s %s got no answer: %s (client-request-id=%s)",
                        what, method, type(e).__name__, client_request_id,
                        extra={"graph_client_request_id": client_request_id})
            return GraphResult(GraphOutcome.UNKNOWN, client_request_id=client_request_id,
                               detail=f"no answer from Graph: {type(e).__name__}")
        return self._classify(what, method, response, client_request_id, event_id)

    def _classify(self, what: str, method: str, response: requests.Response, client_request_id: str,
                  event_id: str | None) -> GraphResult:
        status = response.status_code
        ids = {"status": status, "request_id": response.headers.get("request-id"),
               "client_request_id": client_request_id}
        where = f"(request-id={ids['request_id']}, client-request-id={client_request_id})"
        extra = {"graph_request_id": ids["request_id"], "graph_client_request_id": client_request_id}

        if status in (200, 201, 202, 204):
            log.info("Graph %s %s answered %s %s", what, method, status, where, extra=extra)
            if what == "cancel":
                return GraphResult(GraphOutcome.OK, event_id=event_id, **ids)
            try:
                event = response.json() if response.content else {}
            except ValueError:
                event = {}
            found_id = event.get("id") if isinstance(event, dict) else None
            join_url = ((event.get("onlineMeeting") or {}).get("joinUrl") if isinstance(event, dict) else None)
            if what == "create" and not found_id:
                log.warning("Graph %s answered %s without an event id %s", what, status, where, extra=extra)
                return GraphResult(GraphOutcome.UNKNOWN, detail=f"Graph answered {status} without an event id", **ids)
            if what == "create" and not join_url:
                log.warning("Graph %s answered %s without a Teams join URL %s", what, status, where,
                            extra=extra)
                return GraphResult(GraphOutcome.NO_LINK, event_id=found_id,
                                   detail=f"Graph created the event ({status}) without a Teams join URL "
                                          "(is the organizer a licensed Teams user?)", **ids)
            return GraphResult(GraphOutcome.OK, event_id=found_id, join_url=join_url, **ids)

        code, message = _graph_error(response)
        if what == "cancel" and status == 404:
            log.info("Graph %s %s answered 404 %s %s: already gone", what, method, code, where, extra=extra)
            return GraphResult(GraphOutcome.OK, event_id=event_id, detail="the event was already gone (404)", **ids)
        if status == 429 or status >= 500:  # 503 and 504 included; Retry-After when Graph sends one
            retry_after = _retry_after(response.headers.get("Retry-After"), response.headers.get("Date"))
            log.warning("Graph %s %s answered %s %s, Retry-After %s %s", what, method, status, code, retry_after,
                        where, extra=extra)
            return GraphResult(GraphOutcome.RETRY, retry_after=retry_after,
                               detail=self._scrub(f"Graph is busy or failing ({status}{' ' + code if code else ''})"), **ids)
        if status in (401, 403):
            log.warning("Graph %s %s refused with %s %s %s", what, method, status, code, where, extra=extra)
            if status == 401:
                self._forget_token()
            # The hint goes after the scrub's length cap, whole: it holds no address or secret.
            return GraphResult(GraphOutcome.AUTH, detail=self._scrub(
                f"Graph refused the call ({status}{' ' + code if code else ''})") + f": {PERMISSION_HINT}", **ids)
        log.warning("Graph %s %s rejected with %s %s %s", what, method, status, code, where, extra=extra)
        detail = f"{code}: {message}" if code or message else f"Graph answered {status}"
        return GraphResult(GraphOutcome.REJECTED, detail=self._scrub(detail), **ids)

