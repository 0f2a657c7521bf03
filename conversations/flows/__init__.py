"""One file per flow; FLOWS names them for the engine."""

from conversations.flows.booking import BOOKING
from conversations.flows.consent import CONSENT
from conversations.flows.my_bookings import MY_BOOKINGS

FLOWS = {flow.name: flow for flow in (CONSENT, BOOKING, MY_BOOKINGS)}
