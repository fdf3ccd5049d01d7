"""The transport contract now lives in runtime/transport.py; these names stay importable here."""
from ..runtime.transport import Handled, SendResult, SendStatus, Sink, Transport

__all__ = ["Handled", "SendResult", "SendStatus", "Sink", "Transport"]
