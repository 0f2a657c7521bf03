"""/policy and /policy/<version>: the operating policy's full text, linked from the consent card."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from conversations.policy import policy_in_force
from conversations.schedule import to_tokyo
from models import utcnow

bp = Blueprint("policy", __name__, url_prefix="/policy")
# Raw HTML in a policy file is shown as text: the page never runs markup from a document.
_markdown = MarkdownIt("commonmark", {"html": False})


def _render(policy):
    policies = current_app.extensions["services"].policies
    current = policy_in_force(policies, to_tokyo(utcnow()).date())
    return render_template("policy.html", policy=policy, body=Markup(_markdown.render(policy.body_markdown)),
                           current=current, versions=sorted(policies, key=lambda p: p.effective, reverse=True))


@bp.get("")
def current():
    policies = current_app.extensions["services"].policies
    policy = policy_in_force(policies, to_tokyo(utcnow()).date()) or policies[0]
    return _render(policy)


@bp.get("/<version>")
def version(version: str):
    policy = next((p for p in current_app.extensions["services"].policies if p.version == version), None)
    if policy is None:
        abort(404)
    return _render(policy)
