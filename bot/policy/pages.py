"""/policy and /policy/<version>: the operating policy's full text, linked from the consent card.

The versions are the shipped files plus those published in the console, read per request so a
publication shows at once on every host.
"""

from __future__ import annotations
from bot.services import current_services

from flask import Blueprint, abort, render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from conversations.policy import PolicyDocument, policy_in_force
from conversations.schedule import to_tokyo
from conversations.texts import day_label

bp = Blueprint("policy", __name__, url_prefix="/policy")
# Raw HTML in a policy is shown as text: the page never runs markup from a document.
_markdown = MarkdownIt("commonmark", {"html": False})


def render_markdown(text: str) -> Markup:
    """A policy body as HTML; markup typed into the document stays text."""
    return Markup(_markdown.render(text))


def _policies() -> list[PolicyDocument]:
    services = current_services()
    with services.db.transaction() as session:
        return services.policies_now(session)


def _today():
    return to_tokyo(current_services().clock()).date()


def _render(policy: PolicyDocument, policies: list[PolicyDocument]):
    today = _today()
    current = policy_in_force(policies, today)
    return render_template("policy.html", policy=policy, body=render_markdown(policy.body_markdown),
                           current=current, versions=sorted(policies, key=lambda p: p.effective, reverse=True),
                           day_label=lambda day: day_label(day, today))


@bp.get("")
def current():
    policies = _policies()
    policy = policy_in_force(policies, _today()) or policies[0]
    return _render(policy, policies)


@bp.get("/<version>")
def version(version: str):
    policies = _policies()
    policy = next((p for p in policies if p.version == version), None)
    if policy is None:
        abort(404)
    return _render(policy, policies)
