"""A LINE platform of our own: the chat page a person uses locally, and the Messaging API the bot calls.

It exists only when no real LINE channel is configured. Its API emulation (platform.py) is the
same code the tests' fake LINE server runs, over an in-memory store instead of the database.
"""
