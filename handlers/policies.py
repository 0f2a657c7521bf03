"""Publishing a new version of the operating policy, and the list of versions with their agreements.

Plain Python over a database session: the console's views call it; the audit record is the
caller's, in the same transaction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conversations.policy import PolicyDocument, policy_in_force
from models import Operator, PolicyConsent, PolicyVersion

# Ids end up in URLs (/policy/<version>) and in consent records: letters, digits, ".", "_", "-".
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
RESERVED = frozenset({"new", "preview"})  # console addresses under /console/policies/
TITLE_MAX = 200
# The summary is the body of the consent card every user reads on a phone. LINE counts text in
# UTF-16 code units and refuses a text over 5,000; a card stays readable far below that.
SUMMARY_MAX = 400
SUMMARY_MAX_LINES = 10
BODY_MAX = 100_000


@dataclass
class Draft:
    version: str = ""
    effective: str = ""
    title: str = ""
    summary: str = ""
    body_markdown: str = ""

    @classmethod
    def from_form(cls, form) -> "Draft":
        def text(name: str) -> str:
            return unicodedata.normalize("NFC", (form.get(name) or "").replace("\r\n", "\n")).strip()
        return cls(version=text("version"), effective=text("effective"), title=text("title"),
                   summary=text("summary"), body_markdown=text("body_markdown"))

    def document(self) -> PolicyDocument:
        """The draft as a document (only once `problems` found nothing)."""
        return PolicyDocument(version=self.version, effective=date.fromisoformat(self.effective),
                              title=self.title, summary=self.summary, body_markdown=self.body_markdown + "\n",
                              source="console")


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def problems(draft: Draft, existing: list[PolicyDocument], today: date) -> dict[str, str]:
    """What is wrong with a draft, field by field, as a polite Japanese re-ask; empty when fine."""
    errors: dict[str, str] = {}
    if not draft.version:
        errors["version"] = "版の名前を入力してください（例：2026-12-15）。"
    elif not VERSION_PATTERN.fullmatch(draft.version) or draft.version.lower() in RESERVED:
        errors["version"] = "版の名前は、半角英数字と「-」「_」「.」の40文字以内で入力してください。"
    elif any(p.version == draft.version for p in existing):
        errors["version"] = f"「{draft.version}」という版はすでにあります。別の名前にしてください。"
    try:
        effective = date.fromisoformat(draft.effective)
    except ValueError:
        errors["effective"] = "施行日を「2026-12-15」の形で入力してください。"
    else:
        if effective < today:
            errors["effective"] = f"施行日は本日（{today:%Y年%m月%d日}）以降の日付にしてください。"
        elif any(p.effective == effective for p in existing):
            errors["effective"] = "この日に施行される版がすでにあります。別の日付にしてください。"
    if not draft.title:
        errors["title"] = "表題を入力してください。"
    elif len(draft.title) > TITLE_MAX:
        errors["title"] = f"表題は{TITLE_MAX}文字以内にしてください（いま{len(draft.title)}文字です）。"
    if not draft.summary:
        errors["summary"] = "LINEの同意カードに載せる要約を入力してください。"
    elif utf16_length(draft.summary) > SUMMARY_MAX:
        errors["summary"] = (f"要約はLINEのカードに収まるよう{SUMMARY_MAX}文字以内にしてください"
                             f"（いま{utf16_length(draft.summary)}文字です）。")
    elif len(draft.summary.splitlines()) > SUMMARY_MAX_LINES:
        errors["summary"] = f"要約は{SUMMARY_MAX_LINES}行以内にしてください。"
    if not draft.body_markdown:
        errors["body_markdown"] = "本文を入力してください。"
    elif len(draft.body_markdown) > BODY_MAX:
        errors["body_markdown"] = f"本文は{BODY_MAX:,}文字以内にしてください。"
    return errors


class Taken(Exception):
    """Another operator published this version id, or a version with this effective date, a moment ago
    (the database's unique constraints decide between two publications at the same moment)."""


def publish(session: Session, draft: Draft, operator_id: int | None, now: datetime) -> PolicyVersion:
    """Store a checked draft as a published version; it is in force from its effective date."""
    row = PolicyVersion(version=draft.version, effective=date.fromisoformat(draft.effective), title=draft.title,
                        summary=draft.summary, body_markdown=draft.body_markdown + "\n", published_at=now,
                        published_by=operator_id)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as error:
        raise Taken(draft.version) from error
    return row


@dataclass(frozen=True)
class VersionRow:
    policy: PolicyDocument
    state: str  # "in_force", "scheduled" or "past"
    agreed_users: int
    published_at: datetime | None
    published_by: str | None


def versions(session: Session, policies: list[PolicyDocument], today: date) -> list[VersionRow]:
    """Every version, newest effective date first, with how many users agreed to it."""
    counts = dict(session.execute(
        select(PolicyConsent.policy_version, func.count(distinct(PolicyConsent.user_id)))
        .where(PolicyConsent.agreed.is_(True)).group_by(PolicyConsent.policy_version)).all())
    published = {row.version: (row.published_at, name) for row, name in session.execute(
        select(PolicyVersion, Operator.name).outerjoin(Operator, Operator.id == PolicyVersion.published_by))}
    current = policy_in_force(policies, today)
    rows = []
    for policy in sorted(policies, key=lambda p: p.effective, reverse=True):
        state = ("in_force" if current is not None and policy.version == current.version
                 else "scheduled" if policy.effective > today else "past")
        at, by = published.get(policy.version, (None, None)) if policy.source == "console" else (None, None)
        rows.append(VersionRow(policy, state, counts.get(policy.version, 0), at, by))
    return rows
