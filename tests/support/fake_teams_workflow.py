"""A fake Teams Workflows webhook ("When a Teams webhook request is received" → post to a
channel), a real HTTPS server on loopback with the fakes' test CA (use it inside `trusting(ca_path)`).

Like the real trigger it takes a POST to `/workflows/<id>/triggers/manual/paths/invoke` with the
flow's signature in the `sig` query parameter (a wrong or missing one: 401), and answers an accepted
request 202 with no body. Stricter than Workflows, which accepts any JSON and fails later in the
flow's run: a body that is not a message envelope of Adaptive Cards is answered 400 here, so a
malformed card fails the test that sent it. Tests read `calls` (every request) and `cards` (the
Adaptive Cards of accepted requests), and script faults with `fail_next`: a status (429 comes with
Retry-After: 1) or ("stall", seconds) to hold the request that long before answering 504.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.support.https_fake import _HttpsServer

ADAPTIVE = "application/vnd.microsoft.card.adaptive"


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    raw: str  # the body as sent, for scans of what left the service
    status: int


def _envelope_error(body: Any) -> str | None:
    if not isinstance(body, dict) or body.get("type") != "message":
        return "the body must be a message: {\"type\": \"message\", \"attachments\": [...]}"
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "attachments must be a non-empty list"
    for a in attachments:
        content = a.get("content") if isinstance(a, dict) else None
        if a.get("contentType") != ADAPTIVE or not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
            return f"each attachment must be an Adaptive Card ({ADAPTIVE})"
    return None


class FakeTeamsWorkflow:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.cards: list[dict[str, Any]] = []
        self._faults: deque = deque()
        self._lock = threading.Lock()
        self._http = _HttpsServer(self._wsgi)
        self.ca_path = self._http.ca_path
        self.port = self._http.port
        self.signature = secrets.token_urlsafe(32)
        self.path = f"/workflows/{secrets.token_hex(16)}/triggers/manual/paths/invoke"
        self.url = (f"https://127.0.0.1:{self._http.port}{self.path}"
                    f"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.signature}")

    def close(self) -> None:
        self._http.close()

    def fail_next(self, *faults: int | tuple[str, float]) -> None:
        """Answer the next requests with these faults, in order: a status, or ("stall", seconds)."""
        with self._lock:
            self._faults.extend(faults)

    def _next_fault(self) -> Any:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        raw = request.get_data().decode("utf-8", errors="replace")
        response = self._answer(request, raw)
        with self._lock:
            self.calls.append(Call(request.method, request.path, dict(request.headers.items()), raw,
                                   response.status_code))
        return response(environ, start_response)

    def _answer(self, request: Request, raw: str) -> Response:
        def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
            return Response(json.dumps({"error": {"code": code, "message": message}}), status,
                            content_type="application/json", headers=headers or {})

        if request.method != "POST" or request.path != self.path:
            return error(404, "TriggerNotFound", "The workflow trigger could not be found.")
        if request.args.get("sig") != self.signature:
            return error(401, "DirectApiAuthorizationRequired", "The request must be authenticated.")
        fault = self._next_fault()
        if isinstance(fault, tuple) and fault[0] == "stall":
            self._http._sleep(fault[1])
            return error(504, "GatewayTimeout", "The gateway did not receive a timely response.")
        if isinstance(fault, int):
            return error(fault, "InjectedFault", f"injected {fault}",
                         {"Retry-After": "1"} if fault == 429 else None)
        try:
            body = json.loads(raw)
        except ValueError:
            return error(400, "InvalidRequestContent", "The request content is not valid JSON.")
        problem = _envelope_error(body)
        if problem:
            return error(400, "InvalidRequestContent", problem)
        with self._lock:
            self.cards.extend(a["content"] for a in body["attachments"])
        return Response(b"", 202)
