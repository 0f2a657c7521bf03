"""LINE webhook events into conversation input: the only code that reads the SDK's event models."""

from handlers.line_events import Inbound, translate

__all__ = ["Inbound", "translate"]
