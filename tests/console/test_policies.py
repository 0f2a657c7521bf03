"""Publishing the operating policy from the console: preview, publish, the list, and what users see."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from conversations.schedule import to_tokyo
from handlers import policies as policy_admin
from models import LineUser, PolicyConsent, PolicyVersion
from tests.support.chat import TUESDAY_MORNING, at, play, says, tap
from tests.support.console import (
    VIEWER_EMAIL,
    audit_rows,
    create_operator,
    db,
    post_form,
    signed_in_admin,
    signed_in_client,
)
from tests.support.scripts import AGREED

NEW = "/console/policies/new"
PREVIEW = "/console/policies/preview"


def today():
    """The desk's date, on the clock the tests freeze (tests/conftest.py)."""
    return to_tokyo(TUESDAY_MORNING).date()


def draft(**changes: str) -> dict[str, str]:
    return {"version": "2026-console", "effective": today().isoformat(),
            "title": "みらいキャリアポート（デモ） LINE公式アカウント利用規約（コンソール改定版）",
            "summary": "コンソールから公開した改定版の要約です。\n相談の記録の扱いを改めました。",
            "body_markdown": "## 第1条（目的）\nコンソールで書いた本文です。\n\n<script>alert(1)</script>\n", **changes}


def published(app) -> list[PolicyVersion]:
    with db(app).transaction() as session:
        return list(session.scalars(select(PolicyVersion)))




def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_list_shows_the_shipped_version_in_force_from_its_file(app):
    client = signed_in_admin(app)
    page = text(client.get("/console/policies"))
    assert "2026-04-01" in page and "2026年4月1日(水)" in page and "施行中" in page and "ファイル" in page
    version = text(client.get("/console/policies/2026-04-01"))
    assert "<h2>第1条（目的）</h2>" in version and "Teams" in version
    assert client.get("/console/policies/1999-01-01").status_code == 404


def test_a_preview_shows_the_draft_rendered_and_saves_nothing(app):
    client = signed_in_admin(app)
    form = client.get(NEW)
    assert form.status_code == 200 and "第1条（目的）" in text(form)  # starts from the version in force
    response = post_form(client, NEW, PREVIEW, draft())
    page = text(response)
    assert response.status_code == 200
    assert "プレビュー（まだ公開されていません）" in page
    assert "<h2>第1条（目的）</h2>" in page and "コンソールで書いた本文です。" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'value="2026-console"' in page  # the form keeps what was typed, ready to publish
    assert published(app) == [] and audit_rows(app, "policy_published") == []


def test_publishing_stores_the_version_audits_it_and_lists_it_with_its_publisher(app):
    client = signed_in_admin(app)
    response = post_form(client, NEW, NEW, draft())
    assert response.status_code in (302, 303) and response.location.endswith("/console/policies/2026-console")
    [row] = published(app)
    assert (row.version, row.effective) == ("2026-console", today())
    assert row.summary == "コンソールから公開した改定版の要約です。\n相談の記録の扱いを改めました。"
    [entry] = audit_rows(app, "policy_published")
    assert entry.target == "policy:2026-console" and entry.operator_email == "admin@desk.example.jp"

    listing = text(client.get("/console/policies"))
    assert listing.index("2026-console") < listing.index("2026-04-01")
    assert "コンソール" in listing and "窓口 管理者" in listing and "施行中" in listing and "過去の版" in listing
    page = text(client.get("/console/policies/2026-console"))
    assert "相談の記録の扱いを改めました。" in page and "&lt;script&gt;" in page and "<script>alert" not in page


def test_a_duplicate_a_past_date_an_unsafe_id_or_an_overlong_summary_is_asked_again(app):
    client = signed_in_admin(app)
    post_form(client, NEW, NEW, draft())
    tomorrow = (today() + timedelta(days=1)).isoformat()
    cases = [
        (draft(effective=tomorrow), "という版はすでにあります"),
        (draft(version="2026-04-01", effective=tomorrow), "という版はすでにあります"),
        (draft(version="another"), "この日に施行される版がすでにあります"),
        (draft(version="another", effective="2026-04-01"), "本日"),
        (draft(version="../etc", effective=tomorrow), "半角英数字"),
        (draft(version="改定版", effective=tomorrow), "半角英数字"),
        (draft(version="new", effective=tomorrow), "半角英数字"),
        (draft(version="another", effective="来月"), "施行日を「2026-12-15」の形"),
        (draft(version="another", effective=tomorrow, summary="あ" * 401), "401文字"),
        (draft(version="another", effective=tomorrow, title=""), "表題を入力してください"),
        (draft(version="another", effective=tomorrow, body_markdown=" "), "本文を入力してください"),
    ]
    for form, message in cases:
        for url in (PREVIEW, NEW):
            response = post_form(client, NEW, url, form)
            assert response.status_code == 422, (form, url)
            assert message in text(response), (form, url)
            assert "プレビュー（まだ" not in text(response)
    assert [p.version for p in published(app)] == ["2026-console"]
    assert len(audit_rows(app, "policy_published")) == 1


def test_a_version_published_for_today_asks_an_agreed_user_to_consent_at_their_next_input(app, chat, services):
    play(chat, AGREED)
    client = signed_in_admin(app)
    post_form(client, NEW, NEW, draft())
    # The chat runs on its own services (another process, as far as caching goes).
    play(chat, [
        (tap("相談を予約する"), says("コンソールから公開した改定版の要約です。"), at("consent", "agree")),
        (tap("同意する"), says("テーマ"), at("booking", "topic")),
    ])
    with services.db.transaction() as session:
        agreed = [c.policy_version for c in session.scalars(select(PolicyConsent).order_by(PolicyConsent.id))
                  if c.agreed]
    assert agreed == ["2026-04-01", "2026-console"]
    assert chat.button("利用規約", chat.send("メニュー"))
    play(chat, [(tap("利用規約"), says("/policy/2026-console"))])


def test_the_public_policy_pages_show_a_console_published_version(app, client):
    admin_client = signed_in_admin(app)
    post_form(admin_client, NEW, NEW, draft())
    current = text(client.get("/policy"))
    assert "コンソールで書いた本文です。" in current and "&lt;script&gt;" in current and "<script>alert" not in current
    assert client.get("/policy/2026-console").status_code == 200
    older = text(client.get("/policy/2026-04-01"))
    assert "この版は現在の利用規約ではありません" in older and "/policy/2026-console" in older


def test_a_version_for_a_later_day_is_scheduled_and_not_yet_in_force(app, client):
    admin_client = signed_in_admin(app)
    later = (today() + timedelta(days=10)).isoformat()
    post_form(admin_client, NEW, NEW, draft(effective=later))
    assert "施行予定" in text(admin_client.get("/console/policies"))
    assert "コンソールで書いた本文です。" not in text(client.get("/policy"))


def test_the_list_counts_the_distinct_users_who_agreed_to_each_version(app):
    client = signed_in_admin(app)
    with db(app).transaction() as session:
        users = [LineUser(line_user_id=f"U{n:032d}") for n in range(3)]
        session.add_all(users)
        session.flush()
        session.add_all([
            PolicyConsent(user_id=users[0].id, policy_version="2026-04-01", agreed=True),
            PolicyConsent(user_id=users[0].id, policy_version="2026-04-01", agreed=True),  # asked again later
            PolicyConsent(user_id=users[1].id, policy_version="2026-04-01", agreed=True),
            PolicyConsent(user_id=users[2].id, policy_version="2026-04-01", agreed=False),
        ])
    assert "2人" in text(client.get("/console/policies"))
    assert 'id="agreed-users">2人' in text(client.get("/console/policies/2026-04-01"))


def test_only_an_admin_opens_or_publishes_the_policy(app):
    create_operator(app)
    create_operator(app, VIEWER_EMAIL, "viewer")
    viewer = signed_in_client(app, VIEWER_EMAIL)
    assert viewer.get("/console/policies").status_code == 403
    assert viewer.get(NEW).status_code == 403
    token_page = viewer.get("/console/")
    assert post_form(viewer, "/console/", NEW, draft()).status_code == 403 and token_page.status_code == 200
    assert published(app) == []


def test_two_publications_for_one_day_at_the_same_moment_cannot_both_be_stored(app):
    first = policy_admin.Draft.from_form(draft(version="2027-a", effective=(today() + timedelta(days=3)).isoformat()))
    second = policy_admin.Draft.from_form(draft(version="2027-b", effective=(today() + timedelta(days=3)).isoformat()))
    with db(app).transaction() as session:
        policy_admin.publish(session, first, None, TUESDAY_MORNING)
    # The second operator's form was checked before the first was stored: only the database can refuse it.
    with pytest.raises(policy_admin.Taken):
        with db(app).transaction() as session:
            policy_admin.publish(session, second, None, TUESDAY_MORNING)
    assert [(p.version, p.effective) for p in published(app)] == [("2027-a", today() + timedelta(days=3))]
    assert isinstance(published(app)[0].effective, date)
