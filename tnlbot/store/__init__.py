"""The SQL store: tables, migrations and the Store class."""
from .store import ConversationRow, OutboxRow, Store

__all__ = ["ConversationRow", "OutboxRow", "Store"]
