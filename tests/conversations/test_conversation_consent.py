"""Consent to the operating policy: asked first, recorded per version, asked again for a new version."""

from __future__ import annotations

import shutil

from sqlalchemy import select

from conversations.policy import POLICY_FOLDER, load_policies
from models import PolicyConsent
from tests.support.chat import at, follow, never_says, offers, play, says, send, tap
from tests.support.scripts import AGREED

NEW_VERSION = """---
version: 2026-12-15
effective: 2026-12-15
title: みらいキャリアポート（デモ） LINE公式アカウント運用ポリシー（改定版）
summary: |
  改定版の要約です。
---
## 第1条（目的）
改定後の本文です。
"""


def consents(services) -> list[tuple[str, bool, str]]:
    with services.db.transaction() as session:
        return [(c.policy_version, c.agreed, c.method)
                for c in session.scalars(select(PolicyConsent).order_by(PolicyConsent.id))]


def test_agreeing_records_the_version_the_time_and_the_button(chat, services):
    play(chat, AGREED)
    assert consents(services) == [("2026-04-01", True, "button")]


def test_the_consent_card_links_to_the_full_text_of_that_version(chat):
    answer = chat.follow()
    link = chat.button("全文を読む", answer)
    assert link["uri"].endswith("/policy/2026-04-01")


def test_declining_is_respected_and_only_the_policy_is_offered(chat, services):
    play(chat, [
        (follow(),),
        (tap("同意しない"), says("ご利用いただけません"), offers("利用規約"), never_says("お名前")),
        (send("予約したい"), says("利用規約"), offers("同意する"), at("consent", "agree")),
        (send("メニュー"),),
        (tap("相談を予約する"), at("consent", "agree"), never_says("テーマ")),
    ])
    assert consents(services) == [("2026-04-01", False, "button")]


def test_declining_then_agreeing_later_opens_the_booking(chat):
    play(chat, [
        (follow(),), (tap("同意しない"),),
        (tap("利用規約"), offers("同意する")),
        (tap("同意する"), says("ご同意いただき"), offers("相談を予約する")),
    ])


def test_booking_before_agreeing_asks_consent_then_goes_straight_on(chat):
    play(chat, [
        (send("相談を予約する"), at("consent", "agree")),
        (tap("同意する"), says("ご同意いただき", "テーマ"), at("booking", "topic")),
    ])


def test_a_typed_answer_to_the_consent_question_is_understood(chat):
    play(chat, [(follow(),), (send("同意します"), says("ご同意いただき"))])


def test_something_else_at_the_consent_question_asks_again(chat):
    play(chat, [(follow(),), (send("よろしく"), says("「同意する」または「同意しない」"), offers("同意する"))])


def test_a_new_policy_version_is_agreed_before_the_next_booking(chat, services, tmp_path):
    folder = tmp_path / "policies"
    shutil.copytree(POLICY_FOLDER, folder)
    (folder / "2026-12-15.md").write_text(NEW_VERSION, encoding="utf-8")
    services.policies = load_policies(folder)
    play(chat, AGREED + [(tap("相談を予約する"), at("booking", "topic")), (send("やめる"),)])

    chat.later(days=15)
    play(chat, [
        (tap("相談を予約する"), says("改定版の要約"), at("consent", "agree")),
        (tap("同意する"), says("テーマ"), at("booking", "topic")),
    ])
    assert [v for v, agreed, _ in consents(services) if agreed] == ["2026-04-01", "2026-12-15"]


def test_the_policy_menu_shows_the_agreed_version(chat):
    play(chat, AGREED + [(tap("利用規約"), says("同意いただいています", "/policy/2026-04-01"))])


def test_the_policy_page_shows_the_version_in_force(client):
    page = client.get("/policy")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "利用規約" in text and "第1条" in text and "4月1日" in text and "2026年04月01日" not in text


def test_a_policy_version_has_its_own_page_and_unknown_ones_are_404(client):
    assert client.get("/policy/2026-04-01").status_code == 200
    assert client.get("/policy/1999-01-01").status_code == 404


def test_markup_in_a_policy_file_is_shown_as_text(app, tmp_path):
    folder = tmp_path / "policies"
    shutil.copytree(POLICY_FOLDER, folder)
    text = (folder / "2026-04-01.md").read_text(encoding="utf-8") + "\n<script>alert(1)</script>\n"
    (folder / "2026-04-01.md").write_text(text, encoding="utf-8")
    app.extensions["services"].policies = load_policies(folder)
    page = app.test_client().get("/policy").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
