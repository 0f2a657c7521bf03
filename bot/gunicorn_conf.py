"""gunicorn settings for the web processes (`gunicorn --config python:bot.gunicorn_conf`)."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# The webhook answers in milliseconds; a request held this long is stuck, not slow.
timeout = 30
graceful_timeout = 10
keepalive = 5
# Access logs would carry LINE user ids in simulator URLs; the app logs what it needs itself.
accesslog = None
