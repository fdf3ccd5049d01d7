"""The jury's tables: who sits on which campaign's jury, and their assessments.

A jury member is an address registered by the operator: a user (Telegram or
Matrix user id) or a room (everyone writing from that chat is on the jury).
Assessments belong to the person who wrote them (`assessor` is
"transport:user id"); they are read by the jury only.
"""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from .tables import UTC, Id, metadata

jury_members = Table(
    "jury_members", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("transport", String(16), nullable=False),
    Column("kind", String(8), nullable=False, default="user"),      # user | room
    Column("external_id", String(255), nullable=False),
    Column("display_name", String(200), nullable=False, default=""),
    Column("added_at", UTC, nullable=False),
    UniqueConstraint("campaign_id", "transport", "kind", "external_id", name="uq_jury_members_address"),
    Index("ix_jury_members_lookup", "transport", "external_id"),
)

assessments = Table(
    "assessments", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("candidature_id", ForeignKey("candidatures.id"), nullable=False),
    Column("volet", String(64), nullable=False),
    Column("assessor", String(300), nullable=False),                # "transport:user id"
    Column("assessor_name", String(200), nullable=False, default=""),
    Column("grade", String(32), nullable=False),                    # one of the flow's grading values
    Column("mention", String(64), nullable=False, default=""),      # medals flows: a special mention
    Column("comment", Text, nullable=False, default=""),
    Column("version", Integer, nullable=False),                     # the submission version assessed
    Column("updated_at", UTC, nullable=False),
    UniqueConstraint("candidature_id", "volet", "assessor", name="uq_assessments_candidature_volet_assessor"),
)
