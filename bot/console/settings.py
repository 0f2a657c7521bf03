"""Settings: maintenance mode with the notice users see; how long records are kept and what the last
retention purge did (read-only: the periods are environment settings, see bot/ops/retention.py).

The mode itself lives in `handlers/maintenance.py`, shared with `flask --app bot maintenance`: while it is
on, every LINE message gets the notice (and the expected end) instead of an answer.
"""

from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, url_for

from conversations import texts
from conversations.desk import Maintenance

from handlers import maintenance
from bot.ops import retention
from bot.console.audit import audit
from bot.console.auth import requires
from bot.console.blueprint import bp
from bot.console.formatting import moment_label
from bot.console.quota import quota_panel
from bot.services import current_services

# What each count of the retention purge means, as the settings page lists them.
RETENTION_LABELS = {
    "webhook_bodies_blanked": "受信イベントの本文を消去",
    "messages_blanked": "会話の記録の本文を消去",
    "bookings_blanked": "終わった予約の個人情報を消去",
    "states_deleted": "途中でやめた入力の内容を削除",
    "webhook_events_deleted": "受信イベントを削除",
    "outbound_messages_deleted": "送信メッセージを削除",
    "jobs_deleted": "完了した処理を削除",
    "users_anonymised": "ブロック中の利用者の個人情報を消去",
    "users_skipped": "今後の予約があるため消去を見送り",
}


def preview(notice: str, until: str | None) -> str:
    """What a LINE user reads while maintenance is on."""
    return texts.paused(Maintenance(notice, until))["text"]


@bp.get("/settings")
@requires("admin")
def settings():
    with current_services().db.transaction() as session:
        mode = maintenance.read(session)
        kept = retention.status(session, current_services())
    finished = datetime.fromisoformat(kept.finished_at) if kept.finished_at else None
    return render_template("console/settings.html", mode=mode, preview=preview(mode.notice, mode.until),
                           updated=moment_label(mode.updated_at), notice_limit=maintenance.NOTICE_LIMIT,
                           until_limit=maintenance.UNTIL_LIMIT, retention=kept, retention_finished=moment_label(finished),
                           retention_counts=[(label, kept.counts.get(key, 0)) for key, label in RETENTION_LABELS.items()],
                           **quota_panel())


@bp.post("/settings/maintenance")
@requires("admin")
def settings_maintenance():
    state = request.form.get("state")
    if state not in ("on", "off"):
        flash("操作を選び直してください。", "error")
        return redirect(url_for("console.settings"))
    on = state == "on"
    notice, until = request.form.get("notice", ""), request.form.get("until", "")
    if on and not notice.strip():
        flash("利用者へのお知らせを入力してください。", "error")
        return redirect(url_for("console.settings"))
    try:
        with current_services().db.transaction() as session:
            mode = maintenance.set_mode(session, on, notice if on else None, until if on else None)
            audit("maintenance_on" if on else "maintenance_off", "setting:maintenance",
                  {"notice": mode.notice, "until": mode.until} if on else None, session=session)
    except maintenance.MaintenanceError as e:
        flash(e.message_ja, "error")
        return redirect(url_for("console.settings"))
    flash("メンテナンスを開始しました。LINE でのご利用は、お知らせの表示のみになります。" if on
          else "メンテナンスを終了しました。LINE でのご利用を再開しています。", "info")
    return redirect(url_for("console.settings"))
