"""Counsellors: add, edit, deactivate; topics, weekly hours and days off."""
