"""Every console page writes dates one way (2026年12月2日(水) 10:00) and each booking status with one label."""

from __future__ import annotations

import re
from html import unescape

from bot.console.formatting import STATUS_LABELS
from tests.support.console import OWN, fill, signed_in_client

# Other ways a date could be written: 2026-12-02 10:00, 2026/12/02, 2026年04月01日, 12/2 10:00.
OTHER_DATE_FORMATS = re.compile(r"\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}|\d{4}/\d{1,2}/\d{1,2}|\d{4}年0\d月|月0\d日|"
                                r"(?<![\d/])\d{1,2}/\d{1,2} \d{1,2}:\d{2}")
THE_DATE_FORMAT = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日\([月火水木金土日]\)")


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def console_pages(app) -> list[str]:
    return sorted({r.rule for r in app.url_map.iter_rules()
                   if r.rule.startswith("/console") and "GET" in r.methods and not r.rule.endswith((".csv", "/poll"))
                   and not getattr(app.view_functions[r.endpoint], "console_public", False)})


def test_every_console_page_writes_dates_one_way(app, world):
    admin = signed_in_client(app)
    seen_the_format = 0
    for rule in console_pages(app):
        response = admin.get(fill(next(r for r in app.url_map.iter_rules() if r.rule == rule), world[OWN]))
        if response.status_code != 200 or not response.content_type.startswith("text/html"):
            continue
        text = visible_text(response.get_data(as_text=True))
        assert OTHER_DATE_FORMATS.findall(text) == [], rule
        seen_the_format += bool(THE_DATE_FORMAT.search(text))
    assert seen_the_format >= 5


def test_a_booking_has_the_same_status_label_on_every_page_that_shows_it(app, world):
    admin = signed_in_client(app)
    label = STATUS_LABELS["confirmed"]
    for path in ("/console/bookings", f"/console/bookings/{world[OWN]['reference']}",
                 f"/console/users/{world[OWN]['user_id']}", f"/console/conversations/{world[OWN]['user_id']}"):
        assert label in visible_text(admin.get(path).get_data(as_text=True)), path
