"""`flask --app bot ...` commands: migrations, demo data, the local launcher, the job queue."""

from __future__ import annotations

import os
import shlex
import sys

import click
from flask import Flask, current_app

from models.migrate import upgrade


def register_commands(app: Flask) -> None:
    @app.cli.command("db-upgrade")
    def db_upgrade() -> None:
        """Apply every pending database migration."""
        upgrade(current_app.extensions["config"].database_url)
        click.echo("database is up to date")

    @app.cli.command("demo-data")
    def demo_data() -> None:
        """Load the demo data; running it again changes nothing."""
        from .demo import load_demo_data

        added = load_demo_data(current_app.extensions["db"], current_app.extensions.get("simulator_store"))
        click.echo(f"demo data loaded ({added} added)")

    @app.cli.command("serve")
    @click.option("--web-workers", default=2, show_default=True, help="gunicorn worker processes")
    def serve(web_workers: int) -> None:
        """Run the web server and a worker together, as `make run` does; Ctrl-C stops both."""
        from honcho.manager import Manager

        config = current_app.extensions["config"]
        python = shlex.quote(sys.executable)
        env = {**os.environ, "PORT": str(config.port), "PYTHONUNBUFFERED": "1"}
        if config.simulator:
            click.echo(f"\n  Open http://127.0.0.1:{config.port}/simulator  (LINE simulator)\n")
        else:
            click.echo(f"\n  Webhook: http://127.0.0.1:{config.port}/callback  (real LINE channel)\n")
        manager = Manager()
        manager.add_process(
            "web",
            f"{python} -m gunicorn --config python:bot.gunicorn_conf --workers {web_workers} "
            f"--bind 127.0.0.1:{config.port} 'bot:create_app()'",
            env=env,
        )
        manager.add_process("worker", f"{python} -m bot.worker", env=env)
        manager.loop()
        sys.exit(manager.returncode)

    @app.cli.command("maintenance")
    @click.argument("state", type=click.Choice(["on", "off"]))
    @click.option("--notice", default="メンテナンスのため、ご利用いただけません。", help="what users are told")
    @click.option("--until", default=None, help="expected end, as users should read it (e.g. 12月1日 18:00)")
    def maintenance(state: str, notice: str, until: str | None) -> None:
        """Pause the service (every message gets the notice) or resume it."""
        from models import DeskSetting
        from models.desk_setting import MAINTENANCE

        with current_app.extensions["db"].transaction() as session:
            setting = session.get(DeskSetting, MAINTENANCE) or DeskSetting(key=MAINTENANCE, value={})
            setting.value = {"on": state == "on", "notice": notice, "until": until}
            session.add(setting)
        click.echo(f"maintenance mode {state}")

    @app.cli.command("jobs")
    def jobs_status() -> None:
        """Show the job queue: counts by status and the latest dead jobs."""
        from bot import jobs

        with current_app.extensions["db"].transaction() as session:
            for status, n in sorted(jobs.counts(session).items()):
                click.echo(f"{status:8} {n}")
            for job in jobs.dead_jobs(session, 20):
                click.echo(f"dead #{job.id} {job.kind} after {job.attempts} attempts: {job.last_error}")
