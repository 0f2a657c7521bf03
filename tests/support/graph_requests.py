"""Graph settings pointed at the fake Microsoft, and a meeting request to send it."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

from bot.teams.graph_api import GraphSettings, MeetingRequest
from tests.support.fake_microsoft import FakeMicrosoft

COUNSELLOR = "kaori.sato@desk.example.jp"
USER_EMAIL = "taro.yamada@example.com"
SUBJECT = "キャリア相談（オンライン）山田 太郎 様"
START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo


def settings_for(ms: FakeMicrosoft, **changes) -> GraphSettings:
    settings = GraphSettings(
        tenant_id=ms.entra.tenant,
        client_id=ms.entra.client_id,
        organizer=ms.organizer,
        client_secret=ms.entra.client_secret,
        authority=ms.entra.authority,
        base_url=ms.graph.base_url,
        connect_timeout=1.0,
        read_timeout=1.0,
    )
    return dataclasses.replace(settings, **changes)


def meeting(transaction_id: str | None = None, user_email: str | None = None, start: datetime = START) -> MeetingRequest:
    return MeetingRequest(
        transaction_id=transaction_id or f"booking-{uuid.uuid4()}",
        subject=SUBJECT,
        body_html="<p>相談内容: 転職について</p>",
        start=start,
        end=start + timedelta(minutes=50),
        counsellor_email=COUNSELLOR,
        counsellor_name="佐藤 かおり",
        user_email=user_email,
    )
