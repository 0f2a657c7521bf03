"""The audit log, for admins to read and filter (nobody edits it)."""
