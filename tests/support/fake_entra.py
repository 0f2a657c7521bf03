"""A fake Microsoft Entra ID: OpenID discovery, client-credentials tokens (secret or certificate
assertion) and the authorization-code flow with an id_token whose claims a test sets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


from tests.support.https_fake import _b64url, _HttpsServer, _json

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
