"""Users: restrict and lift a restriction, erase a user's personal data."""
