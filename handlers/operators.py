"""Console logins as an admin manages them: add, change the role, set a new password, deactivate,
lift a sign-in lock. Deactivating, a new password and a new role end the login's open sessions."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import Counsellor, Operator, SignInAttempt
from models.operator import COUNSELLOR, ROLES

MIN_PASSWORD, MAX_PASSWORD = 12, 1024


class OperatorError(ValueError):
    """What is wrong with the request, in the words the console shows."""


@dataclass(frozen=True)
class NewLogin:
    email: str
    name: str
    role: str
    counsellor_id: int | None
    password: str | None  # None: signs in with a Microsoft account only


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise OperatorError(f"パスワードは{MIN_PASSWORD}文字以上にしてください。")
    return password


def check_new(session: Session, email: str, name: str, role: str, counsellor_id: str, password: str) -> NewLogin:
    try:
        email = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise OperatorError("メールアドレスの形式が正しくありません。") from None
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise OperatorError("お名前を80文字以内で入力してください。")
    if role not in ROLES:
        raise OperatorError("役割を選んでください。")
    linked = int(counsellor_id) if counsellor_id.isdigit() else None
    if (role == COUNSELLOR) != (linked is not None):
        raise OperatorError("相談員の役割には、対応する相談員を選んでください（ほかの役割では選びません）。")
    if linked is not None and session.get(Counsellor, linked) is None:
        raise OperatorError("その相談員は登録されていません。")
    if session.scalar(select(Operator.id).where(Operator.email == email)) is not None:
        raise OperatorError("そのメールアドレスのログインはすでにあります。")
    return NewLogin(email, name, role, linked, check_password(password) if password else None)


def end_sessions(operator: Operator) -> None:
    operator.session_version += 1


def set_active(operator: Operator, active: bool) -> None:
    operator.active = active
    if not active:
        operator.chat_available = False  # a deactivated login never keeps the chat line open
    end_sessions(operator)


def set_role(session: Session, operator: Operator, role: str, counsellor_id: str) -> None:
    if role not in ROLES:
        raise OperatorError("役割を選んでください。")
    linked = int(counsellor_id) if counsellor_id.isdigit() else None
    if (role == COUNSELLOR) != (linked is not None) or (linked is not None and session.get(Counsellor, linked) is None):
        raise OperatorError("相談員の役割には、対応する相談員を選んでください（ほかの役割では選びません）。")
    operator.role, operator.counsellor_id = role, linked
    end_sessions(operator)


def unlock(session: Session, operator: Operator) -> None:
    """Lift the lock repeated failed sign-ins put on the address; its failures are forgotten."""
    operator.locked_at = None
    session.execute(delete(SignInAttempt).where(SignInAttempt.email == operator.email,
                                                SignInAttempt.succeeded.is_(False)))


def end_counsellors_logins(session: Session, counsellor: Counsellor) -> int:
    """A counsellor who leaves the desk leaves the console too: their logins are deactivated."""
    logins = list(session.scalars(select(Operator).where(Operator.counsellor_id == counsellor.id,
                                                         Operator.active.is_(True))))
    for login in logins:
        set_active(login, False)
    return len(logins)
