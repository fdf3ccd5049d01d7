"""Tables of the campaigns feature: invitations, élu confirmations, copied
answers to check, the reminder log and preferences, closings, claims of a
body and wrong-code counts.

They live on the shared metadata; the Alembic revisions 0002_campaigns and
0006_trust create them.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from .tables import UTC, Id, metadata

invitations = Table(
    "invitations", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(16), nullable=False, unique=True),
    Column("candidature_id", ForeignKey("candidatures.id"), nullable=False),
    Column("role", String(16), nullable=False, default="member"),   # member | elu
    Column("created_by", ForeignKey("people.id"), nullable=False),
    Column("created_at", UTC, nullable=False),
    Column("expires_at", UTC, nullable=False),
    Column("used_at", UTC),
    Column("used_by", ForeignKey("people.id")),
    Column("revoked_at", UTC),     # revoked by the responsible, or its author lost the role
)

elu_confirmations = Table(
    "elu_confirmations", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("candidature_id", ForeignKey("candidatures.id"), nullable=False),
    Column("elu_name", String(200), nullable=False),
    Column("method", String(16), nullable=False),       # elu_account | operator (| declared, before 0005)
    Column("confirmed", Boolean, nullable=False),
    Column("by_person", ForeignKey("people.id")),       # None: the operator
    Column("at", UTC, nullable=False),
    Index("ix_elu_confirmations_candidature", "candidature_id"),
)

answer_checks = Table(
    "answer_checks", metadata,
    Column("candidature_id", ForeignKey("candidatures.id"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("from_candidature_id", ForeignKey("candidatures.id"), nullable=False),
    Column("copied_at", UTC, nullable=False),
)

reminder_log = Table(
    "reminder_log", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("candidature_id", ForeignKey("candidatures.id"), nullable=False),
    Column("person_id", ForeignKey("people.id"), nullable=False),
    Column("slot", String(64), nullable=False),
    Column("sent", Boolean, nullable=False),             # False: recorded as skipped
    Column("reason", String(16), nullable=False, default=""),
    Column("due_at", UTC, nullable=False),
    Column("recorded_at", UTC, nullable=False),
    Column("outbox_id", Id),
    UniqueConstraint("candidature_id", "person_id", "slot", name="uq_reminder_log_key"),
)

reminder_prefs = Table(
    "reminder_prefs", metadata,
    Column("campaign_id", ForeignKey("campaigns.id"), primary_key=True),
    Column("person_id", ForeignKey("people.id"), primary_key=True),
    Column("opted_out", Boolean, nullable=False, default=False),
    Column("snoozed_until", UTC),
    Column("updated_at", UTC, nullable=False),
)

closings = Table(
    "closings", metadata,
    Column("campaign_id", ForeignKey("campaigns.id"), primary_key=True),
    Column("closed_at", UTC, nullable=False),
    Column("worker", String(64), nullable=False, default=""),
    Column("summary", Text, nullable=False, default="{}"),   # counts, JSON
)

claims = Table(
    "claims", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("candidature_id", ForeignKey("candidatures.id"), nullable=False),
    Column("organisation_id", ForeignKey("organisations.id"), nullable=False),
    Column("status", String(16), nullable=False),        # pending | verified | released
    Column("created_at", UTC, nullable=False),
    Column("decided_at", UTC),
    Column("note", String(200), nullable=False, server_default=""),
    Index("ix_claims_body", "campaign_id", "organisation_id"),
    Index("ix_claims_candidature", "candidature_id"),
)

code_failures = Table(
    "code_failures", metadata,
    Column("transport", String(16), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_at", UTC, nullable=False),
    Column("locked_until", UTC),
)

campaign_changes = Table(
    "campaign_changes", metadata,                            # what operators changed, and when
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("at", UTC, nullable=False),
    Column("command", String(16), nullable=False),           # edit | extend | reopen
    Column("by", String(64), nullable=False, default=""),
    Column("changes", Text, nullable=False, default="[]"),   # [{field, before, after}], JSON
    Index("ix_campaign_changes_campaign", "campaign_id", "at"),
)
