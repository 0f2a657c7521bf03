"""Maintenance mode: while it is on, every message a LINE user sends gets the notice instead of an
answer (the conversation engine reads the DeskSetting "maintenance" on every turn).

Shared by `flask --app bot maintenance` and the console's settings page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from models import DeskSetting
from models.desk_setting import MAINTENANCE

DEFAULT_NOTICE = "メンテナンスのため、ご利用いただけません。"
NOTICE_LIMIT = 300
UNTIL_LIMIT = 40


class MaintenanceError(ValueError):
    """Refused: `str(e)` is for the command line, `e.message_ja` for the console."""

    def __init__(self, message: str, message_ja: str) -> None:
        super().__init__(message)
        self.message_ja = message_ja


@dataclass(frozen=True)
class MaintenanceMode:
    on: bool
    notice: str
    until: str | None
    updated_at: datetime | None


def read(session: Session) -> MaintenanceMode:
    setting = session.get(DeskSetting, MAINTENANCE)
    if setting is None:
        return MaintenanceMode(False, DEFAULT_NOTICE, None, None)
    value = setting.value or {}
    return MaintenanceMode(bool(value.get("on")), value.get("notice") or DEFAULT_NOTICE, value.get("until") or None,
                           setting.updated_at)


def set_mode(session: Session, on: bool, notice: str | None = None, until: str | None = None) -> MaintenanceMode:
    """Switch maintenance on (with the notice and the expected end users read) or off.

    Without a notice the last one is kept, so switching off and on again says the same thing.
    """
    notice = (notice or "").strip() or read(session).notice
    until = (until or "").strip() or None
    if len(notice) > NOTICE_LIMIT:
        raise MaintenanceError(f"the notice is longer than {NOTICE_LIMIT} characters",
                               f"お知らせは{NOTICE_LIMIT}文字以内で入力してください。")
    if until is not None and len(until) > UNTIL_LIMIT:
        raise MaintenanceError(f"the expected end is longer than {UNTIL_LIMIT} characters",
                               f"再開予定は{UNTIL_LIMIT}文字以内で入力してください。")
    setting = session.get(DeskSetting, MAINTENANCE) or DeskSetting(key=MAINTENANCE, value={})
    # A new dict, not an in-place change: the JSON column only notices reassignment.
    setting.value = {"on": on, "notice": notice, "until": until if on else None}
    session.add(setting)
    session.flush()
    return read(session)
