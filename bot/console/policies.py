"""Operating policy: versions, preview, publish a new version, agreement counts.

A version published here is a `policy_versions` row; every process reads the rows per turn and per
page (`bot/policy/store.py`), so it is in force everywhere from its effective date, and each user's
next input after that asks for consent to it. The rules live in `handlers/policies.py`.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from handlers import policies as policy_admin
from bot.policy.pages import render_markdown
from conversations.policy import policy_in_force
from conversations.schedule import TOKYO, to_tokyo

from bot.console.audit import audit
from bot.console.auth import requires
from bot.console.identity import current_operator
from bot.console.blueprint import bp
from bot.console.formatting import date_label
from bot.services import current_services




def _today():
    return to_tokyo(current_services().clock()).date()


@bp.get("/policies")
@requires("admin")
def policies():
    services = current_services()
    with services.db.transaction() as session:
        rows = policy_admin.versions(session, services.policies_now(session), _today())
    return render_template("console/policies.html", rows=rows, tokyo=TOKYO)


@bp.get("/policies/<version>")
@requires("admin")
def policy(version: str):
    services = current_services()
    with services.db.transaction() as session:
        rows = policy_admin.versions(session, services.policies_now(session), _today())
    row = next((r for r in rows if r.policy.version == version), None)
    if row is None:
        abort(404)
    return render_template("console/policy.html", row=row, body=render_markdown(row.policy.body_markdown))


def _form(draft: policy_admin.Draft, errors: dict[str, str], status: int = 200, preview: bool = False):
    return render_template(
        "console/policy_new.html", draft=draft, errors=errors, today=_today(),
        summary_max=policy_admin.SUMMARY_MAX, preview=preview and not errors,
        body=render_markdown(draft.body_markdown) if preview and not errors else None,
    ), status


def _suggested_draft() -> policy_admin.Draft:
    """The form starts from the version in force, so an amendment is an edit, not a retyping."""
    services = current_services()
    with services.db.transaction() as session:
        current = policy_in_force(services.policies_now(session), _today())
    if current is None:
        return policy_admin.Draft()
    return policy_admin.Draft(title=current.title, summary=current.summary,
                              body_markdown=current.body_markdown.strip())


def _problems(draft: policy_admin.Draft) -> dict[str, str]:
    services = current_services()
    with services.db.transaction() as session:
        return policy_admin.problems(draft, services.policies_now(session), _today())


@bp.route("/policies/new", methods=["GET", "POST"])
@requires("admin")
def policy_new():
    if request.method == "GET":
        return _form(_suggested_draft(), {})
    draft = policy_admin.Draft.from_form(request.form)
    services = current_services()
    with services.db.transaction() as session:
        errors = policy_admin.problems(draft, services.policies_now(session), _today())
        if not errors:
            try:
                policy_admin.publish(session, draft, current_operator().id, services.clock())
            except policy_admin.Taken:
                errors = {"version": f"「{draft.version}」またはこの施行日の版が、たった今ほかの方により公開されました。"
                                     "一覧をご確認のうえ、別の名前・施行日にしてください。"}
            else:
                audit("policy_published", f"policy:{draft.version}",
                      {"version": draft.version, "effective": draft.effective, "title": draft.title},
                      session=session)
    if errors:
        return _form(draft, errors, 422)
    effective = draft.document().effective
    flash(f"利用規約「{draft.version}」を公開しました。{date_label(effective)}から施行され、"
          "利用者には次のご利用時に同意をお願いします。", "info")
    return redirect(url_for("console.policy", version=draft.version))


@bp.post("/policies/preview")
@requires("admin")
def policy_preview():
    """Shows the draft as users will see it; nothing is saved."""
    draft = policy_admin.Draft.from_form(request.form)
    errors = _problems(draft)
    return _form(draft, errors, 422 if errors else 200, preview=True)
