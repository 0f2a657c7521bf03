"""The log scan (tests/support/log_scan.py) recognises what it must keep out of the logs."""

from __future__ import annotations

import pytest

from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET
from tests.support.log_scan import leaks

SECRETS = [CHANNEL_SECRET, ACCESS_TOKEN]


@pytest.mark.parametrize("line", [
    "INFO bot.x: sent to hanako.yamada@example.jp",
    "INFO bot.x: sent to ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ",
    "INFO bot.x: phone 090-1234-5678",
    "INFO bot.x: phone 09012345678",
    "INFO bot.x: phone ０８０ー１２３４ー５６７８".replace("ー", "-"),
    "INFO bot.x: phone 03-1234-5678",
    "INFO bot.x: phone +81 90-1234-5678",
    "INFO bot.x: Authorization: Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi",
    f"INFO bot.x: secret {CHANNEL_SECRET}",
    f"INFO bot.x: token {ACCESS_TOKEN}",
    "INFO bot.x: name 佐藤 はるか",
    "INFO bot.x: name 山田 太郎",
])
def test_personal_data_and_secrets_in_a_log_line_are_found(line: str) -> None:
    assert leaks(line, SECRETS)


@pytest.mark.parametrize("line", [
    "INFO bot.queue.worker: job 12 (line_event) will be retried: attempt 2 failed",
    ("INFO bot.teams.graph_api: Graph create POST answered 201 (request-id=44b89939-76b6-4b04-8d93-681fc4618af2, "
     "client-request-id=9ed7ef4d-e1c4-40ed-ab18-d1c55eb4c0c3)"),
    "WARNING bot.line.api: LINE push answered 429 (x-line-request-id=0fbe72d4-115a-4dee-a0ef-d83b310669b7)",
    "INFO bot.queue.scheduler: periodic work: 2026-12-02 10:00 reminders 3",
    "INFO bot.x: the desk's number 043-000-0000",
    "DEBUG msal.token_cache: \"token_type\": \"Bearer\"",
])
def test_ordinary_operational_lines_pass_the_scan(line: str) -> None:
    assert leaks(line, SECRETS) == []


def test_digit_groups_inside_request_ids_are_not_phone_numbers_but_a_number_beside_one_is():
    from tests.support.log_scan import leaks

    ids = ("Graph create answered 201 (request-id=75c11f29-dc45-4e69-a710-a6451b3a7e65, "
           "client-request-id=4c4e5353-0745-4093-9410-89ef612048af) correlation_id: dcd89c04-6160-4911-88ff-4d119f980550")
    assert leaks(ids, []) == []
    assert leaks(ids + " phone 0745-4093-9410", []) == ["phone '0745-4093-9410'"]
    assert "mobile phone '090-1234-5678'" in leaks("call 090-1234-5678.", [])
