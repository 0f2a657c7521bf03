"""Statistics without personal data: charts and a CSV export.

Admins and viewers. The page holds counts only, so opening it is not audited; the CSV export is a
file leaving the console, so it is (`export_statistics`, with its period).
"""

from __future__ import annotations

from datetime import date

from flask import Response, render_template, request

from bot.console import charts
from handlers import figures, periods
from bot.console.audit import audit
from bot.console.auth import requires
from bot.console.blueprint import bp
from bot.services import current_services

EXPORT_STATISTICS = "export_statistics"
WEEK_CHOICES = (4, 12, 26, 52)


def _period() -> tuple[periods.Period, str | None]:
    """The period asked for (start/end dates, or the last `weeks`), else the last 12 weeks."""
    today = current_services().clock().astimezone(periods.TOKYO).date()
    start, end = request.args.get("start", "").strip(), request.args.get("end", "").strip()
    if start or end:
        try:
            first = date.fromisoformat(start) if start else today
            last = date.fromisoformat(end) if end else today
        except ValueError:
            return periods.Period.last_weeks(today), "日付は「2026-11-01」の形式で指定してください。直近12週を表示しています。"
        period = periods.Period.covering(first, last)
        if period.start > first or period.start > last:
            return period, f"表示できるのは最長{periods.MAX_WEEKS}週です。終わりの日から{periods.MAX_WEEKS}週を表示しています。"
        return period, None
    weeks = request.args.get("weeks", "")
    if weeks.isdigit() and 1 <= int(weeks) <= periods.MAX_WEEKS:
        return periods.Period.last_weeks(today, int(weeks)), None
    return periods.Period.last_weeks(today), None


def _compute(session, period: periods.Period) -> figures.Statistics:
    return figures.compute(session, period, current_services().desk_settings.topics)


@bp.get("/statistics")
@requires("admin", "viewer")
def statistics():
    period, problem = _period()
    with current_services().db.transaction() as session:
        stats = _compute(session, period)
    weeks = period.weeks
    short = [w.short for w in weeks]
    tips = [f"{w.iso}（{w.monday.month}/{w.monday.day}〜{w.sunday.month}/{w.sunday.day}）" for w in weeks]
    chart = {
        "friends": charts.bar_chart("chart-friends", "週ごとの友だち追加", short,
                                    [("友だち追加", [w.new_friends for w in stats.weeks])], "人", tips),
        "bookings": charts.bar_chart("chart-bookings", "週ごとの予約確定（テーマ別）", short,
                                     [(t, [w.confirmed_by_topic[t] for w in stats.weeks]) for t in stats.topics],
                                     "件", tips),
        "sessions": charts.bar_chart("chart-sessions", "週ごとの相談の結果", short,
                                     [("相談実施", [w.attended for w in stats.weeks]),
                                      ("欠席（連絡なし）", [w.no_show for w in stats.weeks]),
                                      ("キャンセル", [w.cancelled_by_user + w.cancelled_on_request + w.cancelled_by_desk for w in stats.weeks])],
                                     "件", tips),
        "chats": charts.bar_chart("chart-chats", "週ごとのチャット相談", short,
                                  [("対応", [w.answered for w in stats.chats[:-1]]),
                                   ("待っている間に終了", [w.abandoned for w in stats.chats[:-1]])], "件", tips),
        "funnel": charts.funnel_chart("chart-funnel", "予約の各段階に進んだ人数",
                                      [(s.label, s.reached) for s in stats.funnel]),
    }
    return render_template("console/statistics.html", stats=stats, period=period, problem=problem, chart=chart,
                           week_choices=WEEK_CHOICES)


@bp.get("/statistics.csv")
@requires("admin", "viewer")
def statistics_csv():
    period, _ = _period()
    with current_services().db.transaction() as session:
        stats = _compute(session, period)
        audit(EXPORT_STATISTICS, target="statistics",
              detail={"start": period.start.isoformat(), "end": period.end.isoformat(), "format": "csv"},
              session=session)
    filename = f"statistics_{period.slug}.csv"
    return Response(figures.to_csv(stats), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
