"""ORM models (SQLAlchemy 2, typed) and their Alembic migrations."""

from .audit import AuditEntry
from .base import Base
from .booking import Booking
from .consent import PolicyConsent
from .conversation_state import ConversationState
from .counsellor import Counsellor
from .desk_setting import DeskSetting
from .job import Job
from .line_user import LineUser
from .local_meeting import LocalMeeting
from .message_log import MessageLog
from .operator import Operator
from .operator_alert import OperatorAlert
from .outbound_message import OutboundMessage
from .policy_version import PolicyVersion
from .sign_in_attempt import SignInAttempt
from .simulator import SimChatEntry, SimPersona, SimReplyToken, SimRetryKey, SimRichMenu
from .webhook_event import WebhookEvent

__all__ = [
    "AuditEntry",
    "Base",
    "Booking",
    "ConversationState",
    "Counsellor",
    "DeskSetting",
    "PolicyConsent",
    "Job",
    "LineUser",
    "LocalMeeting",
    "MessageLog",
    "Operator",
    "OperatorAlert",
    "OutboundMessage",
    "PolicyVersion",
    "SignInAttempt",
    "SimChatEntry",
    "SimPersona",
    "SimReplyToken",
    "SimRetryKey",
    "SimRichMenu",
    "WebhookEvent",
]
