"""The SQL store: tables, migrations and the Store class."""
from .store import ConversationRow, OutboxRow, Store
from . import campaign_tables  # noqa: F401  (campaigns feature tables on the shared metadata)
from . import jury_tables  # noqa: F401  (jury feature tables on the shared metadata)
from . import flow_tables  # noqa: F401  (flow versions and drafts carried across them)
from . import attachments  # noqa: F401  (attached files, content-addressed)
from . import fetches  # noqa: F401  (files a platform could not hand over yet)

__all__ = ["ConversationRow", "OutboxRow", "Store"]
