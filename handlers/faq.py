"""The FAQ as it stands: the shipped entries merged with admins' rows, and the admins' changes.

A row's `published` document replaces the shipped entry of the same key (or adds an entry); a
withdrawn row hides it; a draft waits for publishing. The console (bot/console/faq.py) audits
each change in the transaction it makes here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations import texts
from conversations.faq import FaqEntry, unknown_placeholders
from conversations.faq_defaults import DEFAULT_FAQ
from models import FaqEntryRow

SHIPPED = {entry.key: entry for entry in DEFAULT_FAQ}
BUTTONS = {texts.BOOK: "相談を予約する", texts.MY_BOOKINGS: "予約の確認・キャンセル", texts.POLICY: "利用規約"}
TITLE_MAX, ANSWER_MAX, LINES_MAX = 60, 1000, 40
_KEY = re.compile(r"[a-z0-9_]{2,40}")


def _entry(key: str, document: Mapping[str, Any]) -> FaqEntry:
    return FaqEntry(key, str(document.get("title", "")), tuple(document.get("questions") or ()),
                    str(document.get("answer", "")), tuple(document.get("keywords") or ()),
                    tuple(b for b in document.get("buttons") or () if b in BUTTONS))


def document(entry: FaqEntry) -> dict[str, Any]:
    return {"title": entry.title, "questions": list(entry.questions), "answer": entry.answer,
            "keywords": list(entry.keywords), "buttons": list(entry.buttons)}


@dataclass(frozen=True)
class Listed:
    key: str
    entry: FaqEntry            # what users get now (or would, were it not withdrawn)
    draft: FaqEntry | None     # an edit waiting to be published
    shipped: bool
    withdrawn: bool
    published_at: datetime | None


def listing(session: Session) -> list[Listed]:
    rows = {row.key: row for row in session.scalars(select(FaqEntryRow).order_by(FaqEntryRow.position, FaqEntryRow.id))}
    listed = []
    for key in list(SHIPPED) + [k for k in rows if k not in SHIPPED]:
        row = rows.get(key)
        if row is not None and row.published:
            entry = _entry(key, row.published)
        elif key in SHIPPED:
            entry = SHIPPED[key]
        else:  # added in the console and not yet published
            entry = _entry(key, row.draft or {})
        listed.append(Listed(key, entry, _entry(key, row.draft) if row is not None and row.draft else None,
                             key in SHIPPED, row is not None and row.withdrawn_at is not None,
                             row.published_at if row is not None else None))
    return listed


def in_force(session: Session) -> list[FaqEntry]:
    """The entries users' questions are matched against."""
    return [item.entry for item in listing(session)
            if not item.withdrawn and (item.shipped or item.published_at is not None)]


@dataclass
class Draft:
    key: str = ""
    title: str = ""
    questions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    answer: str = ""
    buttons: list[str] = field(default_factory=list)

    @classmethod
    def from_form(cls, form: Mapping[str, Any], key: str | None = None) -> "Draft":
        def lines(name: str) -> list[str]:
            return [line.strip() for line in str(form.get(name, "")).splitlines() if line.strip()]
        buttons = form.getlist("buttons") if hasattr(form, "getlist") else list(form.get("buttons") or [])
        return cls(key=key if key is not None else str(form.get("key", "")).strip(),
                   title=str(form.get("title", "")).strip(), questions=lines("questions"), keywords=lines("keywords"),
                   answer=str(form.get("answer", "")).replace("\r\n", "\n").strip(),
                   buttons=[b for b in buttons if b in BUTTONS])

    @classmethod
    def of(cls, entry: FaqEntry) -> "Draft":
        return cls(entry.key, entry.title, list(entry.questions), list(entry.keywords), entry.answer, list(entry.buttons))

    def entry(self) -> FaqEntry:
        return _entry(self.key, {"title": self.title, "questions": self.questions, "keywords": self.keywords,
                                 "answer": self.answer, "buttons": self.buttons})


def problems(draft: Draft, settings: Any, *, new: bool, taken: set[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if new and not _KEY.fullmatch(draft.key):
        errors["key"] = "識別名は、半角の英小文字・数字・_ で2〜40文字にしてください。"
    elif new and draft.key in taken:
        errors["key"] = "この識別名はすでに使われています。"
    if not 1 <= len(draft.title) <= TITLE_MAX:
        errors["title"] = f"見出しを{TITLE_MAX}文字以内で入力してください。"
    if not draft.questions and not draft.keywords:
        errors["questions"] = "質問の例かキーワードを、1行に1つ入力してください。"
    elif len(draft.questions) > LINES_MAX or len(draft.keywords) > LINES_MAX:
        errors["questions"] = f"質問の例・キーワードは、それぞれ{LINES_MAX}行までにしてください。"
    if not 1 <= len(draft.answer) <= ANSWER_MAX:
        errors["answer"] = f"回答を{ANSWER_MAX}文字以内で入力してください。"
    else:
        unknown = unknown_placeholders(draft.answer, settings)
        if unknown:
            errors["answer"] = "回答に使えない差し込み項目があります：" + "、".join("{" + u + "}" for u in unknown)
    return errors


def _row(session: Session, key: str) -> FaqEntryRow:
    row = session.scalar(select(FaqEntryRow).where(FaqEntryRow.key == key))
    if row is None:
        row = FaqEntryRow(key=key, position=0)
        session.add(row)
    return row


def save_draft(session: Session, draft: Draft) -> None:
    _row(session, draft.key).draft = document(draft.entry())


def publish(session: Session, key: str, operator_id: int, now: datetime) -> bool:
    """Publishes the key's draft; False when there is none."""
    row = session.scalar(select(FaqEntryRow).where(FaqEntryRow.key == key))
    if row is None or not row.draft:
        return False
    row.published, row.draft = row.draft, None
    row.published_at, row.published_by, row.withdrawn_at = now, operator_id, None
    return True


def withdraw(session: Session, key: str, now: datetime) -> None:
    _row(session, key).withdrawn_at = now


def restore(session: Session, key: str) -> None:
    _row(session, key).withdrawn_at = None
