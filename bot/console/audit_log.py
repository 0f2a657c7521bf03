"""The audit log, for admins to read and filter (nobody edits it).

Read-only by construction: this module has one GET view and no route anywhere changes or deletes
an entry (the database refuses UPDATE and DELETE on audit_log as well).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import render_template, request
from sqlalchemy import func, select

from models import AuditEntry, Operator

from bot.console.audit import audit
from bot.console.auth import requires
from bot.console.blueprint import bp
from bot.services import current_services

TOKYO = ZoneInfo("Asia/Tokyo")
PAGE_SIZE = 50
VIEW_AUDIT_LOG = "view_audit_log"

# Actions in Japanese where known (the names the console records); any other is shown as recorded.
ACTION_LABELS = {
    "sign_in": "サインイン",
    "sign_in_failed": "サインイン失敗",
    "sign_in_refused": "サインイン拒否（失敗の繰り返し）",
    "sign_out": "サインアウト",
    "sign_out_idle": "自動サインアウト（操作なし）",
    "session_revoked": "セッションの無効化",
    "operator_created": "操作者の登録",
    "operator_deactivated": "操作者の無効化",
    "operator_activated": "操作者の再有効化",
    "operator_password_set": "操作者のパスワード再設定",
    "operator_unlocked": "操作者のロック解除",
    "operator_role_set": "操作者の役割の変更",
    "operators_viewed": "ログイン一覧の閲覧",
    "view_conversations": "会話一覧の閲覧",
    "view_conversation": "会話の閲覧",
    "flag_handled": "要対応の対応済み",
    "view_booking": "予約の閲覧",
    "cancel_booking": "予約のキャンセル",
    "retry_handoff": "Teams 連携の再試行",
    "mark_attendance": "出欠の記録",
    "view_users": "利用者一覧の閲覧",
    "view_user": "利用者の閲覧",
    "restrict_user": "予約の制限",
    "lift_restriction": "予約の制限の解除",
    "view_erase": "個人情報消去の確認画面",
    "erase_user": "個人情報の消去",
    "resolve_alert": "お知らせの対応済み",
    "maintenance_on": "一時停止の開始",
    "maintenance_off": "一時停止の終了",
    "counsellors_viewed": "相談員一覧の閲覧",
    "counsellor_viewed": "相談員の閲覧",
    "counsellor_created": "相談員の登録",
    "counsellor_updated": "相談員の変更",
    "counsellor_day_off_added": "相談員の休みの追加",
    "counsellor_day_off_removed": "相談員の休みの削除",
    "counsellor_activated": "相談員の再開",
    "counsellor_deactivated": "相談員の停止",
    "policy_published": "利用規約の公開",
    "faq_draft_saved": "よくある質問の下書き保存",
    "faq_published": "よくある質問の公開",
    "faq_withdrawn": "よくある質問の取り下げ",
    "faq_restored": "よくある質問の再開",
    "export_statistics": "統計の書き出し",
    "view_audit_log": "操作記録の閲覧",
    "retention_purge": "保存期間を過ぎた記録の削除",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


@dataclass
class Filters:
    operator: str = ""
    action: str = ""
    target: str = ""
    start: date | None = None
    end: date | None = None

    def args(self) -> dict[str, str]:
        """As query parameters, for the pager's links (empty ones left out)."""
        values = {"operator": self.operator, "action": self.action, "target": self.target,
                  "start": self.start.isoformat() if self.start else "", "end": self.end.isoformat() if self.end else ""}
        return {k: v for k, v in values.items() if v}

    def conditions(self) -> list:
        found = []
        if self.operator:
            found.append(func.lower(AuditEntry.operator_email).contains(self.operator.lower(), autoescape=True))
        if self.action:
            found.append(AuditEntry.action == self.action)
        if self.target:
            found.append(AuditEntry.target.contains(self.target, autoescape=True))
        if self.start:
            found.append(AuditEntry.at >= datetime.combine(self.start, time(0), TOKYO))
        if self.end:
            found.append(AuditEntry.at < datetime.combine(self.end + timedelta(days=1), time(0), TOKYO))
        return found


def _filters() -> tuple[Filters, list[str]]:
    args, problems = request.args, []
    dates: dict[str, date | None] = {}
    for key, label in (("start", "開始日"), ("end", "終了日")):
        raw = args.get(key, "").strip()
        try:
            dates[key] = date.fromisoformat(raw) if raw else None
        except ValueError:
            dates[key] = None
            problems.append(f"{label}は「2026-11-01」の形式で指定してください。")
    filters = Filters(operator=args.get("operator", "").strip()[:254], action=args.get("action", "").strip()[:40],
                      target=args.get("target", "").strip()[:200], **dates)
    return filters, problems


def _page() -> int:
    raw = request.args.get("page", "")
    return max(int(raw), 1) if raw.isdigit() else 1


@bp.get("/audit")
@requires("admin")
def audit_log():
    filters, problems = _filters()
    page = _page()
    with current_services().db.transaction() as session:
        rows = list(session.scalars(
            select(AuditEntry).where(*filters.conditions())
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)))
        known_actions = set(session.scalars(select(AuditEntry.action).distinct()))
        operator_emails = list(session.scalars(select(Operator.email).order_by(Operator.email)))
        # Every view of the log is itself recorded, filtered or not: the log holds operators'
        # e-mail addresses and IP addresses (personal data), and paging through it unfiltered
        # reveals as much as a search. The filters go in the detail, since what an admin searched
        # for (one operator, one user's target) is what a later review needs to see. Recorded
        # after the query, so the page never lists its own view.
        audit(VIEW_AUDIT_LOG, detail={**filters.args(), "page": page}, session=session)
    has_next = len(rows) > PAGE_SIZE
    # The choices are the actions recorded so far (and the one asked for), by their Japanese name.
    actions = sorted((known_actions | {filters.action}) - {""}, key=lambda a: (action_label(a), a))
    return render_template(
        "console/audit_log.html", entries=rows[:PAGE_SIZE], filters=filters, problems=problems, page=page,
        has_next=has_next, actions=[(a, action_label(a)) for a in actions],
        operator_emails=operator_emails, action_label=action_label, tokyo=lambda at: at.astimezone(TOKYO),
    )
