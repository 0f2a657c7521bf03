"""The Flask application: `bot:create_app`."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.config import Config


def create_app(config: Config | None = None, *, clock: Clock | None = None) -> Flask:
    """The web app; `clock` replaces the machine's clock for every rule (tests freeze it)."""
    # Imported here, not at the top: gunicorn's master imports this package for bot.gunicorn_conf,
    # and must not import prometheus_client (through the adapters) before that file has set
    # PROMETHEUS_MULTIPROC_DIR for the web processes.
    from linebot.v3.webhook import SignatureValidator

    from bot.config import Config
    from bot.ops.logs import configure_logging
    from bot.services import Services

    config = config or Config.from_env()
    app = Flask(__name__, instance_path=str(config.instance_dir))
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=config.max_webhook_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not config.simulator,
    )
    if config.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Each trusted proxy appends one X-Forwarded-For entry: the one it added names the client,
        # anything further left came from the client and is ignored.
        n = config.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    configure_logging(config)

    services = Services.create(config, clock=clock) if clock else Services.create(config)
    db = services.db
    app.extensions["config"] = config
    app.extensions["services"] = services
    app.extensions["db"] = db
    app.extensions["signature_validator"] = SignatureValidator(config.line_channel_secret)

    from bot.ops import health
    from bot.policy import pages as policy_pages
    from bot.cli import register_commands
    from bot.ops.observability import init_observability
    from bot.line.ingest import Inbox
    from bot.line.webhook import WebhookEndpoint

    # LINE's webhook is answered below Flask (bot/line/webhook.py says why); it uses neither the client's
    # address nor the scheme, so it sits outside ProxyFix.
    app.wsgi_app = WebhookEndpoint(  # type: ignore[method-assign]
        app.wsgi_app, inbox=Inbox(db, max_age=timedelta(days=config.retention_days)), validator=app.extensions["signature_validator"], max_bytes=config.max_webhook_bytes)
    app.register_blueprint(health.bp)
    init_observability(app)
    app.register_blueprint(policy_pages.bp)
    from bot import calendar_page

    app.register_blueprint(calendar_page.bp)
    if config.graph is None:
        from bot.teams import meeting_page

        app.register_blueprint(meeting_page.bp)
    if config.simulator:
        from bot.simulator import routes as simulator_routes
        from bot.simulator.store import DatabaseStore

        app.extensions["simulator_store"] = DatabaseStore(db, config.simulator_message_quota)
        app.register_blueprint(simulator_routes.bp)

    @app.get("/")
    def index():
        if config.simulator:
            from flask import redirect, url_for

            return redirect(url_for("simulator.page"))
        return {"service": "line-consult-desk"}

    from bot.console import init_console

    if not config.simulator:
        from bot.demo import warn_of_demo_data

        warn_of_demo_data(db, config)

    init_console(app)  # after every blueprint, so the LINE webhook and simulator API can be exempted from CSRF
    register_commands(app)
    return app
