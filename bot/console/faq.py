"""よくある質問: the FAQ the bot answers typed questions from. Admins add and edit entries, preview
the answer as users will read it (figures filled from the settings) and which entry a question
finds, then publish; or withdraw an entry. Every change is audited in its own transaction. The
rules live in `handlers/faq.py`.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from conversations.faq import Matcher, figures, render
from handlers import faq as faq_admin

from bot.console.audit import audit
from bot.console.auth import requires
from bot.console.blueprint import bp
from bot.console.identity import current_operator
from bot.services import current_services


@bp.get("/faq")
@requires("admin")
def faq():
    services = current_services()
    with services.db.transaction() as session:
        rows = faq_admin.listing(session)
    return render_template("console/faq.html", rows=rows)


def _listed(key: str) -> faq_admin.Listed | None:
    services = current_services()
    with services.db.transaction() as session:
        return next((row for row in faq_admin.listing(session) if row.key == key), None)


def _form(draft: faq_admin.Draft, *, new: bool, errors: dict[str, str], listed=None, status: int = 200,
          trial: str = ""):
    settings = current_services().desk_settings
    preview = trial_answer = None
    if not errors and request.method == "POST":
        entry = draft.entry()
        preview = render(entry, settings)
        if trial:
            with current_services().db.transaction() as session:
                entries = [entry if e.key == entry.key else e for e in faq_admin.in_force(session)]
            if all(e.key != entry.key for e in entries):
                entries.append(entry)
            found = Matcher(entries).best(trial)
            trial_answer = found.entry.title if found else None
    return render_template("console/faq_form.html", draft=draft, new=new, errors=errors, listed=listed,
                           preview=preview, trial=trial, trial_answer=trial_answer, buttons=faq_admin.BUTTONS,
                           figures=sorted(("{" + k + "}" for k in _figure_names())), title_max=faq_admin.TITLE_MAX,
                           answer_max=faq_admin.ANSWER_MAX), status


def _figure_names() -> list[str]:
    return list(figures(current_services().desk_settings))


def _save(draft: faq_admin.Draft, *, new: bool, listed=None):
    services = current_services()
    trial = str(request.form.get("trial", "")).strip()[:200]
    saving = request.form.get("action") == "save"
    with services.db.transaction() as session:
        taken = {row.key for row in faq_admin.listing(session)}
        errors = faq_admin.problems(draft, services.desk_settings, new=new, taken=taken)
        if saving and not errors:
            faq_admin.save_draft(session, draft)
            audit("faq_draft_saved", f"faq:{draft.key}", {"key": draft.key, "title": draft.title}, session=session)
    if errors or not saving:
        return _form(draft, new=new, errors=errors, listed=listed, status=422 if errors else 200, trial=trial)
    flash("下書きを保存しました。「公開する」を押すまで、利用者への回答は変わりません。", "info")
    return redirect(url_for("console.faq_entry", faq_key=draft.key))


@bp.route("/faq/new", methods=["GET", "POST"])
@requires("admin")
def faq_new():
    if request.method == "GET":
        return _form(faq_admin.Draft(), new=True, errors={})
    return _save(faq_admin.Draft.from_form(request.form), new=True)


@bp.route("/faq/<faq_key>", methods=["GET", "POST"])
@requires("admin")
def faq_entry(faq_key: str):
    listed = _listed(faq_key)
    if listed is None:
        abort(404)
    if request.method == "GET":
        return _form(faq_admin.Draft.of(listed.draft or listed.entry), new=False, errors={}, listed=listed)
    return _save(faq_admin.Draft.from_form(request.form, key=faq_key), new=False, listed=listed)


@bp.post("/faq/<faq_key>/publish")
@requires("admin")
def faq_publish(faq_key: str):
    services = current_services()
    with services.db.transaction() as session:
        published = faq_admin.publish(session, faq_key, current_operator().id, services.clock())
        if published:
            audit("faq_published", f"faq:{faq_key}", {"key": faq_key}, session=session)
    flash("公開しました。次の質問から、この回答でお答えします。" if published else "公開する下書きがありません。",
          "info" if published else "error")
    return redirect(url_for("console.faq_entry", faq_key=faq_key))


@bp.post("/faq/<faq_key>/withdraw")
@requires("admin")
def faq_withdraw(faq_key: str):
    if _listed(faq_key) is None:
        abort(404)
    services = current_services()
    restore = request.form.get("restore") == "1"
    with services.db.transaction() as session:
        if restore:
            faq_admin.restore(session, faq_key)
        else:
            faq_admin.withdraw(session, faq_key, services.clock())
        audit("faq_restored" if restore else "faq_withdrawn", f"faq:{faq_key}", {"key": faq_key}, session=session)
    flash("回答を再開しました。" if restore else "取り下げました。この項目では、もうお答えしません。", "info")
    return redirect(url_for("console.faq"))
