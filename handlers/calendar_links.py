"""予定に追加: a booking's .ics file behind a signed, expiring link.

The link carries only an opaque token: a random key stored on the booking and an HMAC of it under
SECRET_KEY (so a guessed or altered token is refused before any lookup). It works while the booking
is confirmed and its session has not ended; the file is made on each request, so a moved booking's
link gives the new time. The file holds the time, the desk's name and the join link (when it
exists), nothing else: no name, topic, reference or consultation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Booking
from models.booking import CONFIRMED

PATH = "/calendar"


def _signature(secret_key: str, key: str) -> str:
    digest = hmac.new(secret_key.encode(), f"ics:{key}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def token_for(booking: Booking, secret_key: str) -> str:
    """The booking's token, giving it a random key the first time."""
    if not booking.calendar_key:
        booking.calendar_key = secrets.token_urlsafe(18)
    return f"{booking.calendar_key}.{_signature(secret_key, booking.calendar_key)}"


def url_for_booking(booking: Booking, secret_key: str, public_base_url: str) -> str:
    return f"{public_base_url}{PATH}/{token_for(booking, secret_key)}.ics"


def find(session: Session, token: str, secret_key: str, now: datetime) -> Booking | None:
    """The booking a token opens, or None: a bad signature, an unknown key, or a booking that is no
    longer confirmed or whose session has ended (the link has expired)."""
    key, _, signature = token.partition(".")
    if not key or not hmac.compare_digest(signature.encode(), _signature(secret_key, key).encode()):
        return None
    booking = session.scalar(select(Booking).where(Booking.calendar_key == key))
    if booking is None or booking.status != CONFIRMED or booking.ends_at <= now:
        return None
    return booking


def _text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545: lines longer than 75 octets continue on the next line after a space."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return "\r\n ".join(out)


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def ics(booking: Booking, desk_name: str, now: datetime) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:-//{_text(desk_name)}//JA", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", "BEGIN:VEVENT", f"UID:{booking.calendar_key}", f"DTSTAMP:{_utc(now)}",
             f"DTSTART:{_utc(booking.starts_at)}", f"DTEND:{_utc(booking.ends_at)}",
             f"SUMMARY:{_text(desk_name)}"]
    if booking.join_url:
        lines += [f"LOCATION:{_text(booking.join_url)}", f"URL:{booking.join_url}"]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
