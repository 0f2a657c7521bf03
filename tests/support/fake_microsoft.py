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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_entra import FakeEntra, TokenRequest
from tests.support.fake_graph import Call, FakeGraph
from tests.support.https_fake import shared_ca, trusting

__all__ = ["Call", "FakeEntra", "FakeGraph", "FakeMicrosoft", "TokenRequest", "shared_ca", "trusting"]


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
