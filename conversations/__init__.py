"""What the bot says: conversation flows in plain Python, free of Flask, LINE's SDK and HTTP."""
