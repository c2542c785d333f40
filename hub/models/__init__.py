"""All models, importable from one place so Alembic sees the whole schema."""

from hub.models.audit import AuditLog, audit
from hub.models.base import Base, utcnow
from hub.models.contacts import (
    Consent,
    Contact,
    ContactKind,
    ErasedIdentity,
    ErasureFollowUp,
    RecipientList,
    SealedKey,
)
from hub.models.deliveries import TERMINAL_STATES, Delivery, DeliveryState, WorkerLease
from hub.models.health import EngineAlarm  # noqa: F401  (loads every health table for Alembic)
from hub.models.messages import Message, MessageBody, MessageState, Mode, MsgType, Template, follows_up
from hub.models.notices import CsvRow, CsvSend
from hub.models.org import ApiToken, ApprovalPolicy, Area, Category, Department, Membership, Operator, Role
from hub.models.relay import Callout  # noqa: F401  (loads every relay table for Alembic)
from hub.models.resident_answers import ResidentAnswer  # noqa: F401  (for Alembic)
from hub.models.residents import Subscription
from hub.models.triggers import TriggerRule  # noqa: F401  (loads every trigger table for Alembic)
from hub.models.webhooks import QueuedStatus, WebhookEvent

__all__ = [
    "TERMINAL_STATES", "ApiToken", "ApprovalPolicy", "Area", "AuditLog", "Base", "Category", "Consent",
    "Contact", "ContactKind", "CsvRow", "CsvSend", "Delivery", "DeliveryState", "Department", "ErasedIdentity",
    "ErasureFollowUp", "Membership", "Message",
    "MessageBody", "MessageState", "Mode", "MsgType", "Operator", "QueuedStatus", "RecipientList", "Role", "SealedKey",
    "Subscription", "Template", "WebhookEvent", "WorkerLease", "audit", "follows_up", "utcnow",
]
