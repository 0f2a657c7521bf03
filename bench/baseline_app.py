"""The baseline: a minimal Flask app that only verifies the webhook signature and answers 200.

Served by the same gunicorn settings as the service (`--config python:bot.gunicorn_conf
bench.baseline_app:app`), so the ratio of the two ingress rates shows what storing the events
costs over the least any Flask webhook must do.
"""

from __future__ import annotations

import os

from flask import Flask, abort, request
from linebot.v3.webhook import SignatureValidator

app = Flask(__name__)
_validator = SignatureValidator(os.environ["LINE_CHANNEL_SECRET"])


@app.post("/callback")
def callback():
    signature = request.headers.get("X-Line-Signature")
    if not signature or not _validator.validate(request.get_data(as_text=True), signature):
        abort(400)
    return "OK"


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
