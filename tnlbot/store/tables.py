"""The SQL schema (SQLAlchemy Core). Alembic migrations are generated from it."""
from __future__ import annotations

from typing import Any

from sqlalchemy import (DDL, BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer,
                        MetaData, String, Table, Text, TypeDecorator, UniqueConstraint, event, text)

from .instants import from_store, to_store

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UTC(TypeDecorator):
    """Instants stored in UTC; always returned timezone-aware."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else to_store(value, dialect.name == "sqlite")

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return from_store(value)


Id = BigInteger().with_variant(Integer(), "sqlite")

campaigns = Table(
    "campaigns", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("year", Integer, nullable=False),
    Column("track", String(16), nullable=False),
    Column("flow_id", String(64), nullable=False),
    Column("opens_at", UTC, nullable=False),
    Column("closes_at", UTC, nullable=False),
    Column("timezone", String(64), nullable=False, default="Europe/Paris"),
    Column("state", String(16), nullable=False, default="scheduled"),  # scheduled|open|closed
    Column("config", Text, nullable=False, default="{}"),               # reminder plan, jury
    Column("closed_at", UTC),
)

organisations = Table(
    "organisations", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("siren", String(9), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(64), nullable=False, default=""),
    Column("departement", String(3), nullable=False, default=""),
)

people = Table(
    "people", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("locale", String(8), nullable=False, default="fr"),
    Column("created_at", UTC, nullable=False),
    Column("erased_at", UTC),
)

accounts = Table(
    "accounts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("people.id"), nullable=False),
    Column("transport", String(16), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("chat_id", String(255), nullable=False, default=""),
    Column("reachable", Boolean, nullable=False, default=True),
    UniqueConstraint("transport", "external_id", name="uq_accounts_transport_external"),
)

candidatures = Table(
    "candidatures", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("organisation_id", ForeignKey("organisations.id")),
    Column("responsible_id", ForeignKey("people.id"), nullable=False),
    Column("status", String(16), nullable=False, default="draft"),  # draft|submitted|frozen
    Column("version", Integer, nullable=False, default=0),
    Column("amended", Boolean, nullable=False, default=False),
    Column("submitted_at", UTC),
    Column("created_at", UTC, nullable=False),
    Column("updated_at", UTC, nullable=False),
    # when the scheduler reads this candidature again (campaigns/reminders.py); NULL: as soon as it can
    Column("next_action_at", UTC),
    # bumped by the database (ANSWERS_REV_TRIGGERS) on every write of one of its answers,
    # whoever writes it: a process's copy of the answers is current while this is unchanged
    Column("answers_rev", BigInteger, nullable=False, default=0, server_default=text("0")),
    UniqueConstraint("campaign_id", "organisation_id", name="uq_candidatures_campaign_org"),
    Index("ix_candidatures_due", "campaign_id", "status", "next_action_at"),
)

members = Table(
    "members", metadata,
    Column("candidature_id", ForeignKey("candidatures.id"), primary_key=True),
    Column("person_id", ForeignKey("people.id"), primary_key=True),
    Column("role", String(16), nullable=False, default="member"),  # responsible|member
    Column("volets", Text, nullable=False, default="[]"),
    Column("joined_at", UTC, nullable=False),
    Index("ix_members_person", "person_id"),   # a person's candidatures (first message, /start)
)

answers = Table(
    "answers", metadata,
    Column("candidature_id", ForeignKey("candidatures.id"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),            # JSON
    Column("answered_by", ForeignKey("people.id")),
    Column("answered_at", UTC, nullable=False),
    sqlite_with_rowid=False,     # clustered on (candidature, key)
)

# Every insert, update or delete of an answer bumps its candidature's `answers_rev`, in
# the same statement (a row trigger): the version the hot path's read checks its cached
# answers against (store/conversations.py). Created with the table and by migration 0014.
_BUMP = "UPDATE candidatures SET answers_rev = answers_rev + 1 WHERE id = {row}.candidature_id"
ANSWERS_REV_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": tuple(
        f"CREATE TRIGGER answers_rev_{change.lower()} AFTER {change} ON answers "
        f"BEGIN {_BUMP.format(row=row)}; END"
        for change, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION answers_rev_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' THEN {_BUMP.format(row='OLD')}; RETURN OLD; "
        f"ELSE {_BUMP.format(row='NEW')}; RETURN NEW; END IF; END $$",
        "CREATE TRIGGER answers_rev AFTER INSERT OR UPDATE OR DELETE ON answers "
        "FOR EACH ROW EXECUTE FUNCTION answers_rev_bump()"),
}
for _dialect, _statements in ANSWERS_REV_TRIGGERS.items():
    for _statement in _statements:
        event.listen(answers, "after_create", DDL(_statement).execute_if(dialect=_dialect))

answer_history = Table(
    "answer_history", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("candidature_id", ForeignKey("candidatures.id"), nullable=False),
    Column("key", String(128), nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("changed_by", ForeignKey("people.id")),
    Column("changed_at", UTC, nullable=False),
    Index("ix_answer_history_candidature", "candidature_id", "key"),
)

conversations = Table(
    "conversations", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transport", String(16), nullable=False),
    Column("chat_id", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("person_id", ForeignKey("people.id"), nullable=False),
    Column("candidature_id", ForeignKey("candidatures.id"), nullable=False),
    Column("state", Text, nullable=False, default="{}"),
    Column("updated_at", UTC, nullable=False),
    UniqueConstraint("transport", "chat_id", "user_id", name="uq_conversations_address"),
    Index("ix_conversations_candidature", "candidature_id"),   # the team's other conversations
)

inbound_seen = Table(
    "inbound_seen", metadata,
    Column("transport", String(16), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("seen_at", UTC, nullable=False),
    sqlite_with_rowid=False,     # clustered on the key: one B-tree written per delivery
)

outbox = Table(
    "outbox", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transport", String(16), nullable=False),
    Column("chat_id", String(255), nullable=False),
    Column("user_id", String(255), nullable=False, default=""),
    Column("payload", Text, nullable=False),            # Outgoing as JSON
    Column("status", String(16), nullable=False, default="pending"),  # pending|deferred|sending|sent|uncertain|failed|superseded
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", UTC, nullable=False),
    Column("txn_id", String(64), nullable=False),       # idempotency key for the platform
    Column("sent_ref", String(255), nullable=False, default=""),  # platform message id
    Column("dedup_key", String(255)),                   # scheduled sends: one per key
    Column("error", Text, nullable=False, default=""),
    Column("created_at", UTC, nullable=False),
    Column("sent_at", UTC),
    # what sending needs, written when queued (NULL: unknown then, looked up when sent)
    Column("locale", String(8)),              # the addressee's language
    Column("display_name", String(200)),      # the addressee's name (mentions in groups)
    # the process that claimed it last (host:pid): a row left `sending` is recovered once
    # that process is no longer alive (runtime/workers.py); NULL: claimed before 0015
    Column("claimed_by", String(128)),
    Index("ix_outbox_pending", "status", "not_before"),
    # partial: the messages of an answer carry no key and write nothing here
    Index("uq_outbox_dedup_key", "dedup_key", unique=True, sqlite_where=text("dedup_key IS NOT NULL")),
)


@event.listens_for(outbox, "before_create")
def _partial_on_postgresql(target: Table, connection: Any, **_: Any) -> None:
    """The dedup key's index is partial on PostgreSQL too. Said here, when a PostgreSQL
    connection creates the table, not as `postgresql_where=` in the Index above: naming a
    dialect's option loads that dialect, and every process (SQLite ones included) would
    import SQLAlchemy's PostgreSQL dialect at start."""
    if connection.dialect.name == "postgresql":
        for index in target.indexes:
            if index.name == "uq_outbox_dedup_key":
                index.dialect_options["postgresql"]["where"] = text("dedup_key IS NOT NULL")

checkpoints = Table(
    "checkpoints", metadata,
    Column("name", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)

submissions = Table(
    "submissions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("candidature_id", ForeignKey("candidatures.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("flow_id", String(64), nullable=False),
    Column("flow_version", Integer, nullable=False),
    Column("snapshot", Text, nullable=False),           # canonical JSON
    Column("sha256", String(64), nullable=False),
    Column("submitted_by", ForeignKey("people.id")),
    Column("submitted_at", UTC, nullable=False),
    UniqueConstraint("candidature_id", "version", name="uq_submissions_candidature_version"),
)

leases = Table(
    "leases", metadata,      # one holder at a time (the Telegram poller; `worker:<host:pid>`, each process)
    Column("name", String(160), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", UTC, nullable=False),
)
