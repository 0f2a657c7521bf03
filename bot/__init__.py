"""The Flask application: `bot:create_app`."""

from __future__ import annotations

import logging

from flask import Flask
from linebot.v3.webhook import WebhookParser

from .config import Config
from .services import Services


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__, instance_path=str(config.instance_dir))
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=config.max_webhook_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not config.simulator,
    )
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    services = Services.create(config)
    db = services.db
    app.extensions["config"] = config
    app.extensions["services"] = services
    app.extensions["db"] = db
    app.extensions["webhook_parser"] = WebhookParser(config.line_channel_secret)

    from . import health, policy_pages, webhook
    from .cli import register_commands

    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(policy_pages.bp)
    if config.graph is None:
        from . import meeting_page

        app.register_blueprint(meeting_page.bp)
    if config.simulator:
        from .simulator import routes as simulator_routes
        from .simulator.store import DatabaseStore

        app.extensions["simulator_store"] = DatabaseStore(db)
        app.register_blueprint(simulator_routes.bp)

    @app.get("/")
    def index():
        if config.simulator:
            from flask import redirect, url_for

            return redirect(url_for("simulator.page"))
        return {"service": "line-consult-desk"}

    from .console import init_console

    init_console(app)  # after every blueprint, so the LINE webhook and simulator API can be exempted from CSRF
    register_commands(app)
    return app
