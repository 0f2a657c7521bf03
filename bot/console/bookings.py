"""Bookings: list, week calendar, a booking's detail, and the operator's actions on it."""
