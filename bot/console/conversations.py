"""Conversations: users with their last activity and step, one user's timeline as a chat, search."""
