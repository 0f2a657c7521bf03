"""The statistics' figures, computed by handlers/figures.py from a known set of rows, on SQLite and
PostgreSQL: per ISO week in Tokyo time, per topic, and the booking flow's drop-off."""

from __future__ import annotations

from datetime import date

from handlers import figures as statistics
from bot.console.charts import bar_chart, funnel_chart
from tests.support.statistics_data import EXPECTED_FUNNEL, EXPECTED_WEEKS, TODAY, seed

TOPICS = ("キャリア・転職", "収入・家計", "職場の悩み・労働条件", "その他")
ZERO = {"new_friends": 0, "consents_agreed": 0, "consents_declined": 0, "confirmed": {}, "cancelled_by_user": 0,
        "cancelled_by_desk": 0, "attended": 0, "no_show": 0}


def figures_of(week) -> dict:
    return {"new_friends": week.new_friends, "consents_agreed": week.consents_agreed,
            "consents_declined": week.consents_declined,
            "confirmed": {t: n for t, n in week.confirmed_by_topic.items() if n},
            "cancelled_by_user": week.cancelled_by_user, "cancelled_by_desk": week.cancelled_by_desk,
            "attended": week.attended, "no_show": week.no_show}


def compute(services, period=None):
    with services.db.transaction() as session:
        return statistics.compute(session, period or statistics.Period.last_weeks(TODAY.date()), TOPICS)


def test_the_default_period_is_the_last_twelve_iso_weeks_monday_to_sunday():
    period = statistics.Period.last_weeks(TODAY.date())
    assert (period.start, period.end) == (date(2026, 8, 31), date(2026, 11, 22))
    assert [w.iso for w in period.weeks][0] == "2026-W36"
    assert [w.iso for w in period.weeks][-1] == "2026-W47"
    assert len(period.weeks) == 12
    assert statistics.Period.covering(date(2026, 11, 18), date(2026, 11, 4)) == \
        statistics.Period(date(2026, 11, 2), date(2026, 11, 22))


def test_each_weeks_figures_are_exactly_those_of_the_rows_in_tokyo_weeks(services):
    seed(services.db)
    stats = compute(services)
    assert [w.label for w in stats.weeks] == [w.iso for w in stats.period.weeks]
    for week in stats.weeks:
        assert figures_of(week) == EXPECTED_WEEKS.get(week.label, ZERO), week.label


def test_bookings_are_counted_by_topic_and_the_totals_add_up(services):
    seed(services.db)
    stats = compute(services)
    assert stats.topics == list(TOPICS)
    assert stats.total.confirmed_by_topic == {"キャリア・転職": 3, "収入・家計": 1, "職場の悩み・労働条件": 0, "その他": 1}
    assert (stats.total.new_friends, stats.total.consents_agreed, stats.total.consents_declined) == (6, 5, 1)
    assert (stats.total.cancelled_by_user, stats.total.cancelled_by_desk) == (1, 1)
    assert (stats.total.attended, stats.total.no_show, stats.total.confirmed) == (1, 1, 5)


def test_the_drop_off_counts_distinct_users_at_each_step_in_the_flows_order_then_the_confirmed(services):
    seed(services.db)
    funnel = compute(services).funnel
    assert [s.step for s in funnel] == list(EXPECTED_FUNNEL)
    assert {s.step: s.reached for s in funnel} == EXPECTED_FUNNEL
    assert [s.dropped for s in funnel] == [None, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert funnel[0].share == "100.0%" and funnel[-1].share == "71.4%"
    assert funnel[0].label == "テーマの選択" and funnel[-1].label == "予約確定"


def test_a_shorter_period_leaves_out_what_happened_before_it(services):
    seed(services.db)
    stats = compute(services, statistics.Period.covering(date(2026, 11, 16), date(2026, 11, 22)))
    assert [w.label for w in stats.weeks] == ["2026-W47"]
    assert figures_of(stats.weeks[0]) == EXPECTED_WEEKS["2026-W47"]
    # u1 went through the flow in week 46 and confirmed then: not in week 47's funnel.
    assert {s.step: s.reached for s in stats.funnel}["topic"] == 6
    assert {s.step: s.reached for s in stats.funnel}["confirmed"] == 4


def test_an_empty_database_gives_zeros_and_a_funnel_without_shares(services):
    stats = compute(services)
    assert all(figures_of(w) == ZERO for w in stats.weeks)
    assert [s.reached for s in stats.funnel] == [0] * 12
    assert {s.share for s in stats.funnel} == {"-"}


def test_the_csv_has_a_bom_a_header_and_the_same_rows_as_the_tables(services):
    seed(services.db)
    stats = compute(services)
    data = statistics.to_csv(stats)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("週,開始日,終了日,友だち追加,同意,同意しない,予約確定,予約確定（キャリア・転職）")
    assert lines[12] == "2026-W47,2026-11-16,2026-11-22,4,4,0,4,2,1,0,1,1,0,1,0,1"
    assert lines[13] == "合計,2026-08-31,2026-11-22,6,5,1,5,3,1,0,1,1,0,1,1,1"
    assert lines[14] == ""
    assert lines[15] == "予約の段階,到達した人数,前の段階からの離脱,最初の段階に対する割合"
    assert lines[16] == "テーマの選択,7,-,100.0%"
    assert lines[27] == "予約確定,5,0,71.4%"
    assert lines[28] == "" and lines[29].startswith("週,チャット相談の申込,対応")


def test_charts_are_accessible_svg_with_escaped_text_and_no_external_resources():
    svg = bar_chart("c", "友だち<追加>", ["11/9", "11/16"], [("a&b", [2, 0]), ("c", [1, 3])], tooltips=["W46", "W47"])
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-labelledby="c-title c-desc"' in svg
    assert "<title id=\"c-title\">友だち&lt;追加&gt;</title>" in svg
    assert "a&amp;b" in svg and "<追加>" not in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "") and "style=" not in svg
    assert svg.count("<rect class=\"chart-bar") == 3
    funnel = funnel_chart("f", "段階", [("テーマ", 4), ("確定", 2)])
    assert "テーマ: 4人（100%）" in funnel and "確定: 2人（50%）" in funnel
