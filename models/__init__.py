"""ORM models (SQLAlchemy 2, typed) and their Alembic migrations."""

from models.audit import AuditEntry
from models.base import Base
from models.booking import Booking
from models.chat import Chat, ChatTemplate
from models.consent import PolicyConsent
from models.conversation_state import ConversationState
from models.counsellor import Counsellor
from models.desk_setting import DeskSetting
from models.faq_entry import FaqEntryRow
from models.job import Job
from models.line_user import LineUser
from models.local_meeting import LocalMeeting
from models.message_log import MessageLog
from models.operator import Operator
from models.operator_alert import OperatorAlert
from models.outbound_message import OutboundMessage
from models.policy_version import PolicyVersion
from models.sign_in_attempt import SignInAttempt
from models.simulator import SimChatEntry, SimPersona, SimReplyToken, SimRetryKey, SimRichMenu
from models.webhook_event import WebhookEvent

__all__ = [
    "AuditEntry",
    "Base",
    "Booking",
    "Chat",
    "ChatTemplate",
    "ConversationState",
    "Counsellor",
    "DeskSetting",
    "FaqEntryRow",
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
