"""The console's audit trail: `audit(action, target, detail)` for every sign-in, sign-out, view of
personal data and change.

Rows are only ever inserted (the database refuses UPDATE and DELETE on audit_log). Pass the
request's database session when auditing a change, so the change and its record commit together.
Never put a password or a secret in `detail`.
"""

from __future__ import annotations

import json
from typing import Any

from flask import has_request_context
from sqlalchemy.orm import Session

from models import AuditEntry, Operator
from bot.services import current_services
from bot.console.identity import client_ip, current_operator

SIGN_IN, SIGN_IN_FAILED, SIGN_IN_REFUSED = "sign_in", "sign_in_failed", "sign_in_refused"
SIGN_OUT, SIGN_OUT_IDLE, SESSION_REVOKED = "sign_out", "sign_out_idle", "session_revoked"

_UNSET: Any = object()


def audit(action: str, target: str | None = None, detail: str | dict[str, Any] | None = None, *,
          session: Session | None = None, operator: Operator | None = _UNSET,
          email: str | None = None) -> AuditEntry:
    """Record one action of the current operator (or of `operator`; `email` when nobody is known).

    `target` names what was acted on ("booking:AB12CD34", "line_user:17"); `detail` is short text or
    a small dict (stored as JSON text).
    """
    if operator is _UNSET:
        operator = current_operator() if has_request_context() else None
    if isinstance(detail, dict):
        detail = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
    entry = AuditEntry(
        operator_id=operator.id if operator is not None else None,
        operator_email=(operator.email if operator is not None else email or None),
        action=action[:40],
        target=target[:200] if target else None,
        detail=detail,
        ip=client_ip() if has_request_context() else None,
    )
    if session is not None:
        session.add(entry)
    else:
        with current_services().db.transaction() as own:
            own.add(entry)
    return entry
