"""TLS plumbing for the fake Microsoft servers: one trustme test CA per process, a threaded HTTPS
server on loopback, and `trusting(ca_path)` to make requests and MSAL trust it for a while."""

from __future__ import annotations

import atexit
import base64
import json
import os
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import trustme
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

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
