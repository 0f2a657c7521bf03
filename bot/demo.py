"""Demo data for the embedded default: counsellors covering every demo topic, simulated users, and
console operators with a published demo password. Simulator mode only: with a LINE channel
configured, none of it is created, demo logins are refused and demo counsellors are never offered,
and `flask --app bot demo-data --remove` takes what an earlier simulator run left behind.

Safe to load again: it adds only what is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from models import ChatTemplate, Counsellor, Operator
from models.database import Database

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger(__name__)

WEEKDAYS_FULL = {str(day): [["10:00", "12:00"], ["13:00", "18:30"]] for day in range(5)}
MORNINGS_AND_LATE = {str(day): [["10:00", "12:00"], ["15:00", "18:30"]] for day in range(5)}

DEMO_COUNSELLORS = [
    ("青木 里美", "aoki.satomi@desk.example.jp", ["キャリア・転職", "職場の悩み・労働条件"], WEEKDAYS_FULL),
    ("石井 健太", "ishii.kenta@desk.example.jp", ["収入・家計", "その他", "キャリア・転職"], WEEKDAYS_FULL),
    ("上田 真由", "ueda.mayu@desk.example.jp", ["職場の悩み・労働条件", "収入・家計", "その他"], MORNINGS_AND_LATE),
]

DEMO_PERSONAS = [
    ("Udemo00000000000000000000000000001", "佐藤 はるか"),
    ("Udemo00000000000000000000000000002", "鈴木 ゆうと"),
    ("Udemo00000000000000000000000000003", "高橋 みお"),
]


# The demo console login `make run` prints. Loaded only with the simulator (no real LINE channel),
# so a published password never reaches a real desk's database.
DEMO_PASSWORD = "demo-password-2026"
DEMO_OPERATORS = [
    ("admin@desk.example.jp", "窓口 管理者", "admin", None),
    ("aoki.satomi@desk.example.jp", "青木 里美", "counsellor", "aoki.satomi@desk.example.jp"),
    ("viewer@desk.example.jp", "統計 閲覧者", "viewer", None),
]


# Canned replies (定型文) for trying the console's チャット相談 with the simulator; loaded with the demo
# logins, so in simulator mode only. Admins edit them in the console like any other.
DEMO_CHAT_TEMPLATES = [
    ("はじめのご挨拶", "ご相談ありがとうございます。相談員の者です。どのようなことでお困りか、お聞かせください。"),
    ("確認のお願い", "確認いたしますので、少々お待ちください。"),
    ("予約のご案内", "詳しくお話を伺うため、オンライン相談のご予約をおすすめします。このあと予約のボタンをお送りします。"),
    ("終了のご挨拶", "本日はご相談いただきありがとうございました。またいつでもご連絡ください。"),
]


DEMO_OPERATOR_EMAILS = frozenset(email for email, *_ in DEMO_OPERATORS)
DEMO_COUNSELLOR_EMAILS = frozenset(email for _, email, *_ in DEMO_COUNSELLORS)


@dataclass(frozen=True)
class DemoRows:
    operators: int
    counsellors: int

    def __bool__(self) -> bool:
        return bool(self.operators or self.counsellors)


def demo_rows(db: Database) -> DemoRows:
    """The demo logins that still open with the published password, and the active demo counsellors."""
    from bot.console.auth import password_matches

    with db.transaction() as session:
        logins = list(session.scalars(select(Operator).where(Operator.email.in_(DEMO_OPERATOR_EMAILS))))
        counsellors = len(list(session.scalars(select(Counsellor.id).where(
            Counsellor.demo.is_(True), Counsellor.active.is_(True)))))
    return DemoRows(sum(password_matches(o, DEMO_PASSWORD) for o in logins), counsellors)


def warn_of_demo_data(db: Database, config: Config) -> DemoRows:
    """With a LINE channel configured: say in the log, and once in the console's alerts, that demo
    rows from a simulator run are still there (their logins are refused) and how to remove them."""
    from sqlalchemy.exc import SQLAlchemyError

    from handlers.alerts import DEMO_DATA, raise_alert
    from models import OperatorAlert

    try:
        found = demo_rows(db)
    except SQLAlchemyError as e:  # the database is down or not migrated yet: /healthz must still start
        log.warning("could not check the database for demo data (%s)", type(e).__name__)
        return DemoRows(0, 0)
    if not found:
        return found
    message = (f"Demo data from the simulator is in this desk's database ({found.operators} demo logins, "
               f"{found.counsellors} demo counsellors). Demo logins are refused. Remove them with: "
               "flask --app bot demo-data --remove")
    log.warning("%s", message)
    with db.transaction() as session:  # the check above just read this database
        if session.scalar(select(OperatorAlert.id).where(OperatorAlert.kind == DEMO_DATA,
                                                         OperatorAlert.resolved_at.is_(None))) is None:
            raise_alert(session, config, DEMO_DATA, message)
    return found


def remove_demo_data(db: Database) -> DemoRows:
    """Retire the demo logins (deactivated, password gone, sessions ended) and the demo counsellors
    (deactivated). Rows stay, as every operator's and counsellor's do: the audit log and past
    bookings refer to them. Returns how many were retired."""
    with db.transaction() as session:
        operators = session.execute(
            update(Operator).where(Operator.email.in_(DEMO_OPERATOR_EMAILS),
                                   (Operator.active.is_(True)) | Operator.password_hash.is_not(None))
            .values(active=False, password_hash=None, session_version=Operator.session_version + 1)).rowcount
        counsellors = session.execute(update(Counsellor).where(
            Counsellor.email.in_(DEMO_COUNSELLOR_EMAILS) | Counsellor.demo.is_(True), Counsellor.active.is_(True))
                                      .values(active=False)).rowcount
    return DemoRows(operators, counsellors)


def load_demo_data(db: Database, simulator_store=None, *, operators: bool = False, demo: bool = False) -> int:
    """Add the demo counsellors (and simulator users, and console operators) that are missing;
    returns how many were added. `demo` marks the counsellors as the simulator's demo rows, never
    offered once a LINE channel is configured (tests use them as ordinary counsellors)."""
    added = 0
    with db.transaction() as session:
        known = set(session.scalars(select(Counsellor.email)))
        for name, email, topics, weekly in DEMO_COUNSELLORS:
            if email not in known:
                session.add(Counsellor(name=name, email=email, topics=topics, weekly=weekly, days_off=[], demo=demo))
                added += 1
    if operators:
        added += _load_demo_operators(db)
        added += _load_demo_chat_templates(db)
    if simulator_store is not None:
        known_users = {p["user_id"] for p in simulator_store.personas()}
        for user_id, name in DEMO_PERSONAS:
            if user_id not in known_users:
                simulator_store.add_persona(name, user_id)
                added += 1
    return added


def _load_demo_chat_templates(db: Database) -> int:
    with db.transaction() as session:
        known = set(session.scalars(select(ChatTemplate.title)))
        missing = [ChatTemplate(title=title, body=body) for title, body in DEMO_CHAT_TEMPLATES if title not in known]
        session.add_all(missing)
    return len(missing)


def _load_demo_operators(db: Database) -> int:
    from bot.console.auth import hash_password

    added = 0
    with db.transaction() as session:
        known = set(session.scalars(select(Operator.email)))
        for email, name, role, counsellor_email in DEMO_OPERATORS:
            if email in known:
                continue
            counsellor_id = (session.scalar(select(Counsellor.id).where(Counsellor.email == counsellor_email))
                             if counsellor_email else None)
            session.add(Operator(email=email, name=name, role=role, counsellor_id=counsellor_id,
                                 password_hash=hash_password(DEMO_PASSWORD)))
            added += 1
    return added
