"""Who is asking, for the audit trail and the access rules: the request's client address and the
signed-in operator. Both the audit and the sign-in modules read these, so neither imports the other."""

from __future__ import annotations

from flask import g, request

from models import Operator


def client_ip() -> str:
    # Never X-Forwarded-For itself: any client can send one. With PROXY_HOPS set, ProxyFix (create_app)
    # has put here the address the trusted proxy saw; without it, behind a proxy this is the proxy.
    return (request.remote_addr or "unknown")[:45]


def current_operator() -> Operator | None:
    """The signed-in operator of this console request (None outside a console request)."""
    return g.get("console_operator")
