"""Where meetings are made: Microsoft Graph when configured, else a local provider that says
plainly its meetings are simulated. Both take the same calls and answer with the same results."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select

from models import LocalMeeting
from models.database import now_in
from models.database import Database

from bot.teams.graph_api import GraphOutcome, GraphResult, MeetingRequest


class LocalMeetings:
    """The embedded default: meetings are rows, and the join link is a page of this service."""

    def __init__(self, db: Database, public_base_url: str) -> None:
        self.db, self.base = db, public_base_url

    def _url(self, meeting_id: str) -> str:
        return f"{self.base}/meeting/{meeting_id}"

    def create_event(self, meeting: MeetingRequest) -> GraphResult:
        with self.db.transaction() as session:
            existing = session.scalar(select(LocalMeeting).where(LocalMeeting.transaction_id == meeting.transaction_id))
            if existing is None:
                existing = LocalMeeting(
                    id="local-" + secrets.token_urlsafe(12), transaction_id=meeting.transaction_id,
                    subject=meeting.subject, starts_at=meeting.start, ends_at=meeting.end,
                    attendees=[meeting.counsellor_email] + ([meeting.user_email] if meeting.user_email else []))
                session.add(existing)
            return GraphResult(GraphOutcome.OK, 201, existing.id, self._url(existing.id))

    def update_event(self, event_id: str, start: datetime, end: datetime) -> GraphResult:
        with self.db.transaction() as session:
            meeting = session.get(LocalMeeting, event_id)
            if meeting is None:
                return GraphResult(GraphOutcome.REJECTED, 404, detail="no such local meeting")
            meeting.starts_at, meeting.ends_at = start, end
        return GraphResult(GraphOutcome.OK, 200, event_id)

    def move_event(self, event_id: str, meeting: MeetingRequest) -> GraphResult:
        with self.db.transaction() as session:
            found = session.get(LocalMeeting, event_id)
            if found is None or found.cancelled_at is not None:
                return GraphResult(GraphOutcome.REJECTED, 404, detail="no such local meeting")
            found.subject, found.starts_at, found.ends_at = meeting.subject, meeting.start, meeting.end
            found.attendees = [meeting.counsellor_email] + ([meeting.user_email] if meeting.user_email else [])
        return GraphResult(GraphOutcome.OK, 200, event_id)

    def cancel_event(self, event_id: str, comment: str) -> GraphResult:
        with self.db.transaction() as session:
            meeting = session.get(LocalMeeting, event_id)
            if meeting is not None and meeting.cancelled_at is None:
                meeting.cancelled_at, meeting.cancel_comment = now_in(session), comment[:255]
        return GraphResult(GraphOutcome.OK, 202, event_id)

    def close(self) -> None:
        pass
