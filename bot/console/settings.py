"""Settings: maintenance mode with the notice users see."""
