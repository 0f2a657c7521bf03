"""よくある質問 in the console: edit, preview, save a draft, publish, add, withdraw; audited, and
what users are answered. On SQLite and PostgreSQL."""

from __future__ import annotations

from tests.support.chat import play, says, send, never_says
from tests.support.console import audit_rows, post_form, signed_in_admin
from tests.support.scripts import AGREED

COST = "/console/faq/cost"


def form(**changes) -> dict:
    return {"title": "相談の費用", "questions": "相談にお金はかかりますか\n料金はいくらですか",
            "keywords": "お金\n料金\n無料", "answer": "相談は無料です。ご不明な点は {phone} まで。",
            "trial": "相談ってお金かかる？", **changes}


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_list_shows_the_shipped_entries_answering(app):
    page = text(signed_in_admin(app).get("/console/faq"))
    assert "相談の費用" in page and "予約の締め切り" in page and "回答中" in page


def test_a_preview_fills_the_figures_and_names_the_entry_a_question_finds_without_saving(app):
    client = signed_in_admin(app)
    page = text(post_form(client, COST, COST, {**form(), "action": "preview"}))
    assert "相談は無料です。ご不明な点は 043-000-0000 まで。" in page
    assert "「相談の費用」でお答えします" in page
    assert audit_rows(app, "faq_draft_saved") == []


def test_an_answer_naming_an_unknown_figure_is_refused(app):
    response = post_form(signed_in_admin(app), COST, COST, {**form(answer="{fax} までどうぞ"), "action": "save"})
    assert response.status_code == 422 and "{fax}" in text(response)


def test_a_draft_changes_nothing_for_users_until_it_is_published(app, chat):
    client = signed_in_admin(app)
    post_form(client, COST, COST, {**form(answer="費用はかかりません（新しい回答）。"), "action": "save"})
    play(chat, AGREED + [(send("相談ってお金かかる？"), says("相談は無料です"), never_says("新しい回答"))])
    post_form(client, COST, COST + "/publish")
    play(chat, [(send("相談ってお金かかる？"), says("費用はかかりません（新しい回答）。"))])
    assert [r.target for r in audit_rows(app, "faq_draft_saved")] == ["faq:cost"]
    assert [r.target for r in audit_rows(app, "faq_published")] == ["faq:cost"]


def test_an_added_entry_answers_once_published_and_a_withdrawn_one_no_longer(app, chat):
    client = signed_in_admin(app)
    new = {"key": "parking", "title": "駐車場", "questions": "駐車場はありますか", "keywords": "駐車場",
           "answer": "駐車場はありません。", "action": "save"}
    post_form(client, "/console/faq/new", "/console/faq/new", new)
    post_form(client, "/console/faq/parking", "/console/faq/parking/publish")
    play(chat, AGREED + [(send("駐車場ある？"), says("駐車場はありません。"))])
    post_form(client, "/console/faq", "/console/faq/parking/withdraw")
    play(chat, [(send("駐車場ある？"), never_says("駐車場はありません。"))])
    assert [r.target for r in audit_rows(app, "faq_withdrawn")] == ["faq:parking"]
