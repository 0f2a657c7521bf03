"""One file per flow; FLOWS names them for the engine."""

from .booking import BOOKING
from .consent import CONSENT
from .my_bookings import MY_BOOKINGS

FLOWS = {flow.name: flow for flow in (CONSENT, BOOKING, MY_BOOKINGS)}
