"""LINE webhook events into conversation input: the only code that reads the SDK's event models."""

from .line_events import Inbound, translate

__all__ = ["Inbound", "translate"]
