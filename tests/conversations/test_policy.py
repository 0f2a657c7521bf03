from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from conversations.policy import (
    POLICY_FOLDER,
    PolicyError,
    load_policies,
    policy_in_force,
)

SECTIONS = [
    "目的", "定義", "同意", "提供するサービス", "個人情報の取扱い", "利用料金", "サービスの変更・中断・終了",
    "禁止事項", "利用の制限及び個人情報の消去", "損害賠償", "免責事項", "本規約の変更", "準拠法及び管轄",
]

NEWER = """---
version: 2026-10-01
effective: 2026-10-01
title: みらいキャリアポート（デモ） LINE公式アカウント利用規約
summary: |
  相談の予約方法を改めました。
---

## 第1条（目的）
改定版です。
"""


def test_the_shipped_policy_loads_with_its_title_summary_and_effective_date() -> None:
    (policy,) = load_policies(POLICY_FOLDER)
    assert policy.version == "2026-04-01"
    assert policy.effective == date(2026, 4, 1)
    assert policy.title == "みらいキャリアポート（デモ） LINE公式アカウント利用規約"
    assert 3 <= len(policy.summary.splitlines()) <= 5
    assert "Teams" in policy.summary
    assert not policy.body_markdown.startswith("---")


def test_the_shipped_policy_has_every_article_in_order() -> None:
    (policy,) = load_policies(POLICY_FOLDER)
    headings = re.findall(r"^## 第(\d+)条（(.+)）$", policy.body_markdown, flags=re.MULTILINE)
    assert [title for _, title in headings] == SECTIONS
    assert [int(number) for number, _ in headings] == list(range(1, len(SECTIONS) + 1))


def test_the_shipped_policy_says_the_service_is_free_but_data_charges_are_the_users() -> None:
    (policy,) = load_policies(POLICY_FOLDER)
    assert "無料" in policy.body_markdown and "通信料" in policy.body_markdown


def test_the_policy_in_force_switches_on_the_newer_versions_effective_date(tmp_path: Path) -> None:
    shutil.copy(POLICY_FOLDER / "2026-04-01.md", tmp_path)
    (tmp_path / "2026-10-01.md").write_text(NEWER, encoding="utf-8")
    policies = load_policies(tmp_path)
    assert [p.version for p in policies] == ["2026-04-01", "2026-10-01"]
    assert policy_in_force(policies, date(2026, 3, 31)) is None
    assert policy_in_force(policies, date(2026, 9, 30)) == policies[0]
    assert policy_in_force(policies, date(2026, 10, 1)) == policies[1]
    assert policies[1].summary == "相談の予約方法を改めました。"


def test_a_copied_policy_whose_version_was_not_updated_is_refused(tmp_path: Path) -> None:
    (tmp_path / "2026-10-01.md").write_text(NEWER.replace("version: 2026-10-01", "version: 2026-04-01"),
                                            encoding="utf-8")
    with pytest.raises(PolicyError, match="does not match"):
        load_policies(tmp_path)


def test_a_policy_without_front_matter_is_refused(tmp_path: Path) -> None:
    (tmp_path / "2026-10-01.md").write_text("## 第1条（目的）\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="no front matter"):
        load_policies(tmp_path)
