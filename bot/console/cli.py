"""Console operators from the command line: `create-operator` (the only way one comes to exist),
`operator-active` (an operator who leaves is deactivated, never deleted: the audit log names them)
and `operator-password` (a new password). The last two end the operator's open sessions at once.
"""

from __future__ import annotations

import click
from email_validator import EmailNotValidError, validate_email
from flask.cli import with_appcontext
from sqlalchemy import select

from models import Counsellor, Operator
from models.operator import COUNSELLOR, ROLES

from bot.console.audit import audit
from bot.console.auth import MAX_PASSWORD, hash_password, normalise_email
from bot.services import current_services

MIN_PASSWORD = 12


@click.command("create-operator")
@click.option("--email", required=True, help="sign-in address (for Entra ID: the user principal name)")
@click.option("--name", required=True, help="name shown in the console")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="admin: everything; counsellor: own bookings and their users; viewer: statistics only")
@click.option("--counsellor-email", default=None, help="the counsellor row a counsellor operator is (required for them)")
@click.option("--password", default=None, help="for scripts; prompted with confirmation when omitted")
@click.option("--sso-only", is_flag=True, help="no password: signs in with a Microsoft account only")
@with_appcontext
def create_operator(email: str, name: str, role: str, counsellor_email: str | None, password: str | None,
                    sso_only: bool) -> None:
    """Add an operator of the console."""
    try:
        email = normalise_email(validate_email(email, check_deliverability=False).normalized)
    except EmailNotValidError as e:
        raise click.BadParameter(str(e), param_hint="--email") from None
    name = name.strip()
    if not name or len(name) > 80:
        raise click.BadParameter("give a name of 1 to 80 characters", param_hint="--name")
    if (role == COUNSELLOR) != bool(counsellor_email):
        raise click.UsageError("--counsellor-email is required for a counsellor, and only for a counsellor")
    if sso_only and password:
        raise click.UsageError("give --password or --sso-only, not both")
    if not sso_only:
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise click.BadParameter(f"use at least {MIN_PASSWORD} characters", param_hint="--password")
    with current_services().db.transaction() as session:
        if session.scalar(select(Operator.id).where(Operator.email == email)) is not None:
            raise click.ClickException(f"an operator with e-mail {email} already exists")
        counsellor_id = None
        if counsellor_email:
            counsellor_id = session.scalar(
                select(Counsellor.id).where(Counsellor.email == counsellor_email.strip()))
            if counsellor_id is None:
                raise click.ClickException(f"no counsellor with e-mail {counsellor_email}")
        operator = Operator(email=email, name=name, role=role, counsellor_id=counsellor_id,
                            password_hash=hash_password(password) if password else None)
        session.add(operator)
        session.flush()
        audit("operator_created", target=f"operator:{operator.id}", detail={"role": role, "via": "cli"},
              session=session, operator=None)
    click.echo(f"operator {email} ({role}) created")


def _operator(session, email: str) -> Operator:
    operator = session.scalar(select(Operator).where(Operator.email == normalise_email(email)))
    if operator is None:
        raise click.ClickException(f"no operator with e-mail {email}")
    return operator


@click.command("operator-unlock")
@click.argument("email")
@with_appcontext
def operator_unlock(email: str) -> None:
    """Lift the lock that repeated failed sign-ins put on a console operator's address."""
    from handlers.operators import unlock

    with current_services().db.transaction() as session:
        operator = _operator(session, email)
        unlock(session, operator)
        audit("operator_unlocked", target=f"operator:{operator.id}", detail={"via": "cli"}, session=session,
              operator=None)
    click.echo(f"operator {operator.email} unlocked")


@click.command("operator-active")
@click.argument("email")
@click.argument("state", type=click.Choice(["on", "off"]))
@with_appcontext
def operator_active(email: str, state: str) -> None:
    """Deactivate (off) or reactivate (on) a console operator; deactivating ends their sessions."""
    with current_services().db.transaction() as session:
        operator = _operator(session, email)
        operator.active = state == "on"
        operator.session_version += 1
        audit("operator_activated" if operator.active else "operator_deactivated", target=f"operator:{operator.id}",
              detail={"via": "cli"}, session=session, operator=None)
    click.echo(f"operator {operator.email} {'active' if state == 'on' else 'deactivated'}")


@click.command("operator-password")
@click.argument("email")
@click.option("--password", default=None, help="for scripts; prompted with confirmation when omitted")
@with_appcontext
def operator_password(email: str, password: str | None) -> None:
    """Give a console operator a new password; their open sessions end."""
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise click.BadParameter(f"use at least {MIN_PASSWORD} characters", param_hint="--password")
    with current_services().db.transaction() as session:
        operator = _operator(session, email)
        operator.password_hash = hash_password(password)
        operator.session_version += 1
        audit("operator_password_set", target=f"operator:{operator.id}", detail={"via": "cli"}, session=session,
              operator=None)
    click.echo(f"operator {operator.email}: new password set")
