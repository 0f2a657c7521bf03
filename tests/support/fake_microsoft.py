"""A fake Microsoft Entra ID and a fake Microsoft Graph, each a real HTTPS server on loopback.

The bot's real MSAL and requests talk to them over TLS. The certificates come from one `trustme`
test CA per process; its PEM is at `ca_path`, and `trusting(ca_path)` points REQUESTS_CA_BUNDLE at it
(MSAL and requests both honour it) for the duration of a `with` block, restoring it afterwards.

FakeEntra answers OpenID discovery, client-credentials token requests (secret or certificate
assertion), and the authorization-code flow (authorize redirect, id_token with claims a test sets).
FakeGraph serves calendar events of organizer mailboxes: create (honouring transactionId), PATCH,
cancel, GET; it accepts only tokens FakeEntra issued for Graph. Tests read `events` and `calls`,
and script faults per kind ("create", "patch", "cancel", "get"): a status (429 with Retry-After: 1,
503, 504, 403 ...), "no_link", ("stall", s) to hang and then answer 504 without acting,
("accept_then_stall", s) to act and answer too late; `down(seconds)` answers 503 to everything.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import html
import json
import math
import os
import secrets
import ssl
import tempfile
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import trustme
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
WINDOWS_ZONES = {"Tokyo Standard Time": "Asia/Tokyo", "UTC": "UTC"}


# -- TLS ---------------------------------------------------------------------------------------

class _TestCA:
    """One trustme CA per process; a leaf certificate for 127.0.0.1 and localhost."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.leaf = self.ca.issue_cert("127.0.0.1", "localhost")
        fd, self.path = tempfile.mkstemp(prefix="fake-microsoft-ca-", suffix=".pem")
        os.close(fd)
        self.ca.cert_pem.write_to_path(self.path)
        atexit.register(os.unlink, self.path)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.leaf.configure_cert(context)
        return context


_ca: _TestCA | None = None
_ca_lock = threading.Lock()


def shared_ca() -> _TestCA:
    global _ca
    with _ca_lock:
        if _ca is None:
            _ca = _TestCA()
        return _ca


@contextmanager
def trusting(ca_path: str) -> Iterator[None]:
    """Make requests (and so MSAL) trust the fakes' CA, and bypass any proxy for loopback; then
    put both environment variables back exactly as they were."""
    saved = {name: os.environ.get(name) for name in ("REQUESTS_CA_BUNDLE", "NO_PROXY")}
    os.environ["REQUESTS_CA_BUNDLE"] = ca_path
    os.environ["NO_PROXY"] = ",".join(filter(None, [saved["NO_PROXY"], "127.0.0.1", "localhost"]))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _HttpsServer:
    def __init__(self, wsgi) -> None:
        self.ca_path = shared_ca().path
        self._closing = threading.Event()
        self._server = make_server("127.0.0.1", 0, wsgi, threaded=True, ssl_context=shared_ca().server_context())
        self.port = self._server.server_port
        # A short poll interval keeps shutdown() (and so every test's teardown) quick.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()  # releases stalled handlers
        self._server.shutdown()
        self._server.server_close()

    def _sleep(self, seconds: float) -> None:
        self._closing.wait(seconds)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, content_type="application/json", headers=headers or {})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- Entra ID ----------------------------------------------------------------------------------

@dataclass
class TokenRequest:
    grant_type: str
    client_id: str
    status: int
    scope: str = ""
    error: str | None = None


class FakeEntra:
    """Microsoft Entra ID for one tenant and one app registration."""

    def __init__(self, client_id: str = "11111111-2222-3333-4444-555555555555",
                 client_secret: str | None = "fake-client-secret-value",
                 tenant: str = "99999999-8888-7777-6666-555555555555",
                 certificate_pem: bytes | str | None = None, expires_in: int = 3600) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant = tenant
        self.expires_in = expires_in
        self.certificate = None
        if certificate_pem is not None:
            self.register_certificate(certificate_pem)
        # Claims of whoever signs in next (console sign-in); a test may replace or update them.
        self.user: dict[str, Any] = {
            "name": "相談 担当",
            "preferred_username": "staff@desk.example.jp",
            "oid": "00000000-0000-0000-0000-0000000000a1",
        }
        self.authorize_error: tuple[str, str] | None = None  # (error, description) for the next sign-in
        self.token_requests = 0  # every POST to the token endpoint
        self.token_log: list[TokenRequest] = []
        self.authorize_requests: list[dict[str, str]] = []
        self.issued: dict[str, dict[str, Any]] = {}  # access token -> {client_id, scope, grant_type}
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._http = _HttpsServer(self._wsgi)
        self.ca_path = self._http.ca_path
        self.host = f"https://127.0.0.1:{self._http.port}"
        self.authority = f"{self.host}/{tenant}"
        self.issuer = f"{self.host}/{tenant}/v2.0"
        self.token_endpoint = f"{self.authority}/oauth2/v2.0/token"
        self.authorize_endpoint = f"{self.authority}/oauth2/v2.0/authorize"

    def close(self) -> None:
        self._http.close()

    def client_credential_requests(self) -> list[TokenRequest]:
        return [r for r in list(self.token_log) if r.grant_type == "client_credentials"]

    def register_certificate(self, certificate_pem: bytes | str) -> None:
        from cryptography import x509

        pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        self.certificate = x509.load_pem_x509_certificate(pem)

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working (Graph will answer 401)."""
        with self._lock:
            self.issued.clear()

    def token_info(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            return self.issued.get(token)

    # -- HTTP --

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        prefix = f"/{self.tenant}"
        path = request.path
        if not path.startswith(prefix + "/"):
            response = _json({"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant not found."}, 400)
        elif path == f"{prefix}/v2.0/.well-known/openid-configuration" and request.method == "GET":
            response = _json(self._openid_configuration())
        elif path == f"{prefix}/oauth2/v2.0/token" and request.method == "POST":
            response = self._token(request)
        elif path == f"{prefix}/oauth2/v2.0/authorize" and request.method == "GET":
            response = self._authorize(request)
        elif path == f"{prefix}/oauth2/v2.0/logout" and request.method == "GET":
            target = request.args.get("post_logout_redirect_uri")
            response = Response("", 302, headers={"Location": target}) if target else Response("signed out", 200)
        elif path == f"{prefix}/discovery/v2.0/keys" and request.method == "GET":
            response = _json({"keys": []})
        else:
            response = _json({"error": "not_found"}, 404)
        return response(environ, start_response)

    def _openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorize_endpoint,
            "token_endpoint": self.token_endpoint,
            "end_session_endpoint": f"{self.authority}/oauth2/v2.0/logout",
            "jwks_uri": f"{self.authority}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "name", "preferred_username",
                                 "oid", "tid"],
            "tenant_region_scope": "AS",
        }

    def _log_token(self, entry: TokenRequest) -> None:  # called with self._lock held
        self.token_requests += 1
        self.token_log.append(entry)

    def _error(self, grant_type: str, client_id: str, status: int, error: str, description: str) -> Response:
        with self._lock:
            self._log_token(TokenRequest(grant_type, client_id, status, error=error))
        trace = str(uuid.uuid4())
        return _json({
            "error": error,
            "error_description": f"{description} Trace ID: {trace} Correlation ID: {uuid.uuid4()} "
                                 f"Timestamp: {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}",
            "error_codes": [int(description[6:13])] if description.startswith("AADSTS") else [],
            "trace_id": trace,
        }, status)

    def _client_authenticated(self, request: Request, form: dict[str, str]) -> tuple[str, str | None]:
        """(client_id, error description or None)."""
        client_id = form.get("client_id", "")
        secret = form.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            basic_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            client_id = client_id or basic_id
        if client_id != self.client_id:
            return client_id, (f"AADSTS700016: Application with identifier '{client_id}' was not found "
                               "in the directory.")
        if secret is not None:
            if self.client_secret is not None and hmac.compare_digest(secret, self.client_secret):
                return client_id, None
            return client_id, (f"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                               f"in the request is the client secret value, not the client secret ID, for a "
                               f"secret added to app '{self.client_id}'.")
        assertion = form.get("client_assertion")
        if assertion and form.get("client_assertion_type") == JWT_BEARER:
            return client_id, self._check_assertion(assertion)
        return client_id, ("AADSTS7000218: The request body must contain the following parameter: "
                           "'client_assertion' or 'client_secret'.")

    def _check_assertion(self, assertion: str) -> str | None:
        import jwt  # PyJWT, which MSAL itself depends on
        from cryptography.hazmat.primitives import hashes

        if self.certificate is None:
            return "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered."
        header = jwt.get_unverified_header(assertion)
        expected = {
            "x5t": _b64url(self.certificate.fingerprint(hashes.SHA1())),
            "x5t#S256": _b64url(self.certificate.fingerprint(hashes.SHA256())),
        }
        if not any(header.get(name, "").rstrip("=") == value for name, value in expected.items()):
            return "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered."
        try:
            jwt.decode(assertion, self.certificate.public_key(), algorithms=["RS256", "PS256"],
                       audience=self.token_endpoint, issuer=self.client_id,
                       options={"require": ["exp", "iss", "sub", "aud"]})
        except jwt.PyJWTError as e:
            return f"AADSTS700027: Client assertion failed signature validation. ({type(e).__name__})"
        return None

    def _token(self, request: Request) -> Response:
        form = {k: v for k, v in request.form.items()}
        grant_type = form.get("grant_type", "")
        client_id, problem = self._client_authenticated(request, form)
        if problem:
            return self._error(grant_type, client_id, 401, "invalid_client", problem)
        if grant_type == "client_credentials":
            scope = form.get("scope", "")
            if not scope.endswith("/.default") or " " in scope.strip():
                return self._error(grant_type, client_id, 400, "invalid_scope",
                                   f"AADSTS1002012: The provided value for scope {scope} is not valid. "
                                   "Client credential flows must have a scope value with /.default suffixed "
                                   "to the resource identifier (application ID URI).")
            token = self._issue(client_id, scope, grant_type)
            with self._lock:
                self._log_token(TokenRequest(grant_type, client_id, 200, scope))
            return _json({"token_type": "Bearer", "expires_in": self.expires_in,
                          "ext_expires_in": self.expires_in, "access_token": token})
        if grant_type == "authorization_code":
            return self._redeem_code(form, client_id)
        if grant_type == "refresh_token":
            with self._lock:
                grant = self._refresh.pop(form.get("refresh_token", ""), None)
            if grant is None:
                return self._error(grant_type, client_id, 400, "invalid_grant",
                                   "AADSTS70000: The provided value for the 'refresh_token' is not valid.")
            return self._user_tokens(grant, client_id, grant_type, nonce=None)
        return self._error(grant_type, client_id, 400, "unsupported_grant_type",
                           f"AADSTS70003: The app requested an unsupported grant type '{grant_type}'.")

    def _issue(self, client_id: str, scope: str, grant_type: str) -> str:
        token = "fake-at-" + secrets.token_urlsafe(24)
        with self._lock:
            self.issued[token] = {"client_id": client_id, "scope": scope, "grant_type": grant_type}
        return token

    # -- sign-in (authorization code flow) --

    def _authorize(self, request: Request) -> Response:
        args = {k: v for k, v in request.args.items()}
        self.authorize_requests.append(args)
        redirect_uri = args.get("redirect_uri", "")
        if args.get("client_id") != self.client_id or not redirect_uri:
            return Response("AADSTS700016: unknown application or missing redirect_uri", 400)
        params: dict[str, str] = {}
        if self.authorize_error is not None:
            params["error"], params["error_description"] = self.authorize_error
            self.authorize_error = None
        else:
            code = "fake-code-" + secrets.token_urlsafe(16)
            with self._lock:
                self._codes[code] = {
                    "redirect_uri": redirect_uri, "nonce": args.get("nonce"),
                    "code_challenge": args.get("code_challenge"),
                    "code_challenge_method": args.get("code_challenge_method", "plain"),
                    "scope": args.get("scope", ""), "claims": dict(self.user),
                }
            params["code"] = code
        if "state" in args:
            params["state"] = args["state"]
        if args.get("response_mode") == "form_post":
            # What Entra ID does for form_post: a page whose form posts the answer to redirect_uri.
            fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                             for k, v in params.items())
            page = (f'<html><body onload="document.forms[0].submit()"><form method="post" '
                    f'action="{html.escape(redirect_uri)}">{fields}</form></body></html>')
            return Response(page, 200, content_type="text/html; charset=utf-8")
        parts = urlsplit(redirect_uri)
        query = "&".join(filter(None, [parts.query, urlencode(params)]))
        return Response("", 302, headers={"Location": urlunsplit(parts._replace(query=query))})

    def _redeem_code(self, form: dict[str, str], client_id: str) -> Response:
        grant_type = "authorization_code"
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None:
            return self._error(grant_type, client_id, 400, "invalid_grant",
                               "AADSTS70008: The provided authorization code or refresh token has expired "
                               "or was already redeemed.")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return self._error(grant_type, client_id, 400, "invalid_grant",
                               "AADSTS50148: The redirect_uri does not match the one in the authorize request.")
        if grant["code_challenge"]:
            verifier = form.get("code_verifier", "")
            computed = (_b64url(hashlib.sha256(verifier.encode()).digest())
                        if grant["code_challenge_method"] == "S256" else verifier)
            if computed != grant["code_challenge"]:
                return self._error(grant_type, client_id, 400, "invalid_grant",
                                   "AADSTS501481: The Code_Verifier does not match the code_challenge.")
        return self._user_tokens(grant, client_id, grant_type, nonce=grant["nonce"])

    def _user_tokens(self, grant: dict[str, Any], client_id: str, grant_type: str, nonce: str | None) -> Response:
        claims = dict(grant["claims"])
        now = int(time.time())
        id_claims = {
            "aud": self.client_id, "iss": self.issuer, "iat": now, "nbf": now, "exp": now + 3600,
            "tid": self.tenant, "sub": claims.get("oid", "sub"), "ver": "2.0", **claims,
        }
        if nonce:
            id_claims["nonce"] = nonce
        scope = " ".join(s for s in grant["scope"].split() if s not in ("openid", "profile", "offline_access"))
        refresh = "fake-rt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._refresh[refresh] = grant
            self._log_token(TokenRequest(grant_type, client_id, 200, grant["scope"]))
        client_info = {"uid": id_claims["sub"], "utid": self.tenant}
        return _json({
            "token_type": "Bearer", "scope": scope or "User.Read", "expires_in": 3600, "ext_expires_in": 3600,
            "access_token": self._issue(client_id, scope, grant_type), "refresh_token": refresh,
            "id_token": self.id_token(id_claims), "client_info": _b64url(json.dumps(client_info).encode()),
        })

    def id_token(self, claims: dict[str, Any]) -> str:
        """An HS256 JWT keyed with a fake secret: MSAL decodes id_tokens without verifying them."""
        header = _b64url(json.dumps({"typ": "JWT", "alg": "HS256", "kid": "fake"}).encode())
        payload = _b64url(json.dumps(claims, ensure_ascii=False).encode())
        signature = hmac.new(b"fake-entra-signing-key", f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64url(signature)}"


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
        response = self._answer(request, route, body, request_id, client_request_id)
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


@dataclass
class FakeMicrosoft:
    """Both fakes, wired together, with the environment trusting their CA while in use."""

    entra: FakeEntra
    graph: FakeGraph
    organizer: str = "desk-meetings@desk.example.jp"
    ca_path: str = field(default="")

    @classmethod
    @contextmanager
    def running(cls, organizer: str = "desk-meetings@desk.example.jp", **entra_options: Any) -> Iterator[FakeMicrosoft]:
        entra = FakeEntra(**entra_options)
        graph = FakeGraph(entra, organizers={organizer})
        try:
            with trusting(entra.ca_path):
                yield cls(entra, graph, organizer, entra.ca_path)
        finally:
            graph.close()
            entra.close()
