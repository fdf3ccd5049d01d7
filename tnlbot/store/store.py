"""The Store: every read and write of tnlbot, named by intention.

One facade over the parts, each in its module: the database and its
transactions (database.py), conversations and answers (conversations.py), the
outbox (outbox.py), and what transports look up (lookups.py).
"""
from __future__ import annotations

from .conversations import ConversationRow, Conversations
from .database import Database, sqlite_path
from .jsontext import dumps, loads
from .lookups import Lookups
from .outbox import Outbox, OutboxRow

__all__ = ["ConversationRow", "Database", "OutboxRow", "Store", "dumps", "loads", "sqlite_path"]


class Store(Conversations, Outbox, Lookups, Database):
    """The store of one database (SQLite file or PostgreSQL URL)."""
