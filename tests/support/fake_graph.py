"""A fake Microsoft Graph: calendar events of organizer mailboxes, with scripted faults."""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.wrappers import Request, Response

WINDOWS_ZONES = {"Tokyo Standard Time": "Asia/Tokyo", "UTC": "UTC"}


from tests.support.fake_entra import GRAPH_DEFAULT_SCOPE, FakeEntra
from tests.support.https_fake import _HttpsServer, _json

# -- Graph -------------------------------------------------------------------------------------

@dataclass
class Call:
    method: str
    path: str
    kind: str
    headers: dict[str, str]
    body: Any
    status: int
    request_id: str = ""
    raw_path: str = ""  # as sent, still percent-encoded


@dataclass
class _Route:
    kind: str
    organizer: str
    event_id: str | None = None


def _graph_error(status: int, code: str, message: str, request_id: str, client_request_id: str | None,
                 headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "innerError": {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id, "client-request-id": client_request_id or request_id}}}
    return _json(body, status, headers)


FAULT_ERRORS = {
    400: ("ErrorInvalidRequest", "Your request can't be completed. The request is invalid."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("InternalServerError", "An internal server error occurred."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway did not receive a timely response."),
}


class FakeGraph:
    """Microsoft Graph's calendar events for organizer mailboxes, accepting FakeEntra's Graph tokens."""

    def __init__(self, entra: FakeEntra, organizers: set[str] | None = None) -> None:
        self.entra = entra
        self.organizers = organizers  # None: any mailbox exists
        self.events: dict[str, dict[str, Any]] = {}
        self.calls: list[Call] = []
        self._faults: dict[str, deque] = defaultdict(deque)
        self._down_until = 0.0
        self._lock = threading.Lock()
        # Every request takes at least this long (seconds), so concurrency can be observed.
        self.latency = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._http = _HttpsServer(self._wsgi)
        self.ca_path = self._http.ca_path
        self.base_url = f"https://127.0.0.1:{self._http.port}/v1.0"

    def close(self) -> None:
        self._http.close()

    # -- scripting --

    def fail_next(self, kind: str, *faults: int | str | tuple[str, float]) -> None:
        """Answer the next calls of this kind ("create", "patch", "cancel", "get") with these faults,
        in order: a status, "no_link", ("stall", seconds) or ("accept_then_stall", seconds)."""
        with self._lock:
            self._faults[kind].extend(faults)

    def down(self, seconds: float) -> None:
        """Answer every call with 503 (Retry-After: the seconds left) for this long."""
        with self._lock:
            self._down_until = time.monotonic() + seconds

    def calls_to(self, kind: str) -> list[Call]:
        return [c for c in list(self.calls) if c.kind == kind]

    def live_events(self) -> list[dict[str, Any]]:
        return [e for e in list(self.events.values()) if not e["cancelled"]]

    def _next_fault(self, kind: str) -> Any:
        with self._lock:
            queue = self._faults.get(kind)
            return queue.popleft() if queue else None

    # -- HTTP --

    @staticmethod
    def _route(method: str, path: str) -> _Route | None:
        parts = path.split("/")
        # ["", "v1.0", "users", organizer, "events", id?, "cancel"?]
        if len(parts) < 5 or parts[1] != "v1.0" or parts[2] != "users" or parts[4] != "events":
            return None
        organizer, rest = parts[3], parts[5:]
        if not rest and method == "POST":
            return _Route("create", organizer)
        if len(rest) == 1 and method == "PATCH":
            return _Route("patch", organizer, rest[0])
        if len(rest) == 1 and method == "GET":
            return _Route("get", organizer, rest[0])
        if len(rest) == 2 and rest[1] == "cancel" and method == "POST":
            return _Route("cancel", organizer, rest[0])
        return None

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = {"_raw": raw.decode(errors="replace")}
        headers = dict(request.headers.items())
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id")
        route = self._route(request.method, request.path)
        kind = route.kind if route else "unknown"
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                self._http._sleep(self.latency)
            response = self._answer(request, route, body, request_id, client_request_id)
        finally:
            with self._lock:
                self.in_flight -= 1
        response.headers["request-id"] = request_id
        if client_request_id:
            response.headers["client-request-id"] = client_request_id
        raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.path
        self.calls.append(Call(request.method, request.path, kind, headers, body, response.status_code, request_id,
                               raw_path.split("?", 1)[0]))
        return response(environ, start_response)

    def _answer(self, request: Request, route: _Route | None, body: Any, request_id: str,
                client_request_id: str | None) -> Response:
        def error(status: int, code: str | None = None, message: str | None = None,
                  headers: dict[str, str] | None = None) -> Response:
            default_code, default_message = FAULT_ERRORS.get(status, ("UnknownError", ""))
            return _graph_error(status, code or default_code, message or default_message, request_id,
                                client_request_id, headers)

        with self._lock:
            left = self._down_until - time.monotonic()
        if left > 0:
            return error(503, headers={"Retry-After": str(max(1, math.ceil(left)))})
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return error(401, message="Access token is empty.")
        token = self.entra.token_info(auth[7:].strip())
        if token is None:
            return error(401, message="Access token validation failure. Invalid audience.")
        if token["scope"] != GRAPH_DEFAULT_SCOPE:
            return error(401, message="Access token validation failure. Invalid audience.")
        if route is None:
            return error(400, "BadRequest", f"Resource not found for the segment '{request.path.rsplit('/', 1)[-1]}'.")
        if self.organizers is not None and route.organizer not in self.organizers:
            return error(404, "ErrorInvalidUser", f"The requested user '{route.organizer}' is invalid.")

        fault = self._next_fault(route.kind)
        if isinstance(fault, tuple) and fault[0] == "stall":
            self._http._sleep(fault[1])
            return error(504)
        if isinstance(fault, int):
            return error(fault, headers={"Retry-After": "1"} if fault == 429 else None)
        prefer = self._prefer_zone(request.headers.get("Prefer", ""))

        if route.kind == "create":
            status, result = self._create(route.organizer, body, fault == "no_link", prefer)
        elif route.kind == "patch":
            status, result = self._patch(route.event_id or "", body, prefer)
        elif route.kind == "get":
            status, result = self._get(route.event_id or "", prefer)
        else:
            status, result = self._cancel(route.event_id or "", body)
        if isinstance(fault, tuple) and fault[0] == "accept_then_stall":
            self._http._sleep(fault[1])
        if status >= 400:
            return error(status, *result)
        if result is None:
            return Response(b"", status)
        return _json(result, status)

    # -- events --

    @staticmethod
    def _prefer_zone(prefer: str) -> str:
        for item in prefer.split(","):
            name, _, value = item.strip().partition("=")
            if name.strip().lower() == "outlook.timezone":
                return value.strip().strip('"')
        return "UTC"

    @staticmethod
    def _moment(value: Any) -> datetime | None:
        if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
            return None
        zone = WINDOWS_ZONES.get(value.get("timeZone", "UTC"), value.get("timeZone", "UTC"))
        try:
            return datetime.fromisoformat(value["dateTime"]).replace(tzinfo=ZoneInfo(zone))
        except (ValueError, KeyError):
            return None

    @staticmethod
    def _zoned(moment: datetime, zone_name: str) -> dict[str, str]:
        zone = WINDOWS_ZONES.get(zone_name, zone_name)
        try:
            local = moment.astimezone(ZoneInfo(zone))
        except (KeyError, ValueError):
            local, zone_name = moment.astimezone(UTC), "UTC"
        return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone_name}

    def _view(self, event: dict[str, Any], zone: str) -> dict[str, Any]:
        view = {k: v for k, v in event.items() if not k.startswith("_") and k not in ("cancelled", "cancel_comment")}
        view["start"] = self._zoned(event["_start"], zone)
        view["end"] = self._zoned(event["_end"], zone)
        view["isCancelled"] = event["cancelled"]
        return view

    def _create(self, organizer: str, body: Any, no_link: bool, zone: str) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, ("ErrorInvalidRequest", "Empty Payload. JSON content expected.")
        start, end = self._moment(body.get("start")), self._moment(body.get("end"))
        if start is None or end is None:
            return 400, ("ErrorInvalidRequest", "Your request can't be completed. Start and End are required.")
        if end < start:
            return 400, ("ErrorInvalidRequest", "Your request can't be completed. The end time must be after the start.")
        for attendee in body.get("attendees") or []:
            if attendee.get("type") not in ("required", "optional", "resource") or \
                    "@" not in (attendee.get("emailAddress") or {}).get("address", ""):
                return 400, ("ErrorInvalidRecipients", "At least one recipient isn't valid.")
        transaction_id = body.get("transactionId")
        with self._lock:
            if transaction_id:
                for event in self.events.values():
                    if event.get("transactionId") == transaction_id and event["_organizer"] == organizer:
                        return 201, self._view(event, zone)
            event_id = f"AAMkAD{uuid.uuid4().hex}AAA="
            online = bool(body.get("isOnlineMeeting")) and body.get("onlineMeetingProvider") == "teamsForBusiness"
            online = online and not no_link
            event = {
                "id": event_id,
                "_organizer": organizer,
                "subject": body.get("subject", ""),
                "body": body.get("body") or {"contentType": "text", "content": ""},
                "attendees": [dict(a, status={"response": "none", "time": "0001-01-01T00:00:00Z"})
                              for a in body.get("attendees") or []],
                "organizer": {"emailAddress": {"address": organizer, "name": organizer.split("@")[0]}},
                "start": body["start"], "end": body["end"], "_start": start, "_end": end,
                "isOnlineMeeting": online,
                "onlineMeetingProvider": "teamsForBusiness" if online else "unknown",
                "onlineMeeting": {"joinUrl": f"https://teams.microsoft.com/l/meetup-join/fake-{event_id}"}
                if online else None,
                "allowNewTimeProposals": body.get("allowNewTimeProposals", True),
                "transactionId": transaction_id,
                "isOrganizer": True,
                "cancelled": False,
                "cancel_comment": None,
            }
            self.events[event_id] = event
            return 201, self._view(event, zone)

    def _patch(self, event_id: str, body: Any, zone: str) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, ("ErrorInvalidRequest", "Empty Payload. JSON content expected.")
        with self._lock:
            event = self.events.get(event_id)
            if event is None or event["cancelled"]:
                return 404, ()
            if "transactionId" in body and body["transactionId"] != event.get("transactionId"):
                return 400, ("ErrorInvalidRequest", "The transactionId can't be changed.")
            start = self._moment(body["start"]) if "start" in body else event["_start"]
            end = self._moment(body["end"]) if "end" in body else event["_end"]
            if start is None or end is None or end < start:
                return 400, ("ErrorInvalidRequest", "Your request can't be completed. Invalid start or end.")
            for name in ("subject", "body", "attendees", "allowNewTimeProposals", "location"):
                if name in body:
                    event[name] = body[name]
            if "start" in body:
                event["start"] = body["start"]
            if "end" in body:
                event["end"] = body["end"]
            event["_start"], event["_end"] = start, end
            return 200, self._view(event, zone)

    def _get(self, event_id: str, zone: str) -> tuple[int, Any]:
        with self._lock:
            event = self.events.get(event_id)
            if event is None or event["cancelled"]:
                return 404, ()
            return 200, self._view(event, zone)

    def _cancel(self, event_id: str, body: Any) -> tuple[int, Any]:
        with self._lock:
            event = self.events.get(event_id)
            if event is None or event["cancelled"]:  # a cancelled event moved to Deleted Items
                return 404, ()
            event["cancelled"] = True
            event["cancel_comment"] = (body or {}).get("comment") if isinstance(body, dict) else None
            return 202, None
