"""`flask --app bot ...` commands: migrations, demo data, the local launcher, the job queue."""

from __future__ import annotations

import os
import shlex
import sys

import click
from flask import Flask, current_app

from models.migrate import upgrade
from bot.services import current_services


def register_commands(app: Flask) -> None:
    from bot.line.rich_menu_cli import richmenu

    app.cli.add_command(richmenu)

    @app.cli.command("db-upgrade")
    def db_upgrade() -> None:
        """Apply every pending database migration."""
        upgrade(current_services().config.database_url)
        click.echo("database is up to date")

    @app.cli.command("demo-data")
    @click.option("--remove", is_flag=True, help="remove the demo logins and demo counsellors instead")
    def demo_data(remove: bool) -> None:
        """Load the demo data (simulator mode only); running it again changes nothing."""
        from bot.demo import DEMO_OPERATORS, DEMO_PASSWORD, load_demo_data, remove_demo_data

        services = current_services()
        if remove:
            removed = remove_demo_data(services.db)
            click.echo(f"demo data retired ({removed.operators} logins, {removed.counsellors} counsellors deactivated)")
            return
        if not services.config.simulator:
            click.echo("a LINE channel is configured: no demo data is loaded (it is for the simulator only)")
            return
        added = load_demo_data(services.db, current_app.extensions.get("simulator_store"), operators=True,
                               demo=True)
        click.echo(f"demo data loaded ({added} added)")
        click.echo("console demo logins (password " + DEMO_PASSWORD + "): "
                   + ", ".join(f"{email} ({role})" for email, _, role, _ in DEMO_OPERATORS))

    @app.cli.command("serve")
    @click.option("--web-workers", default=2, show_default=True, help="gunicorn worker processes")
    def serve(web_workers: int) -> None:
        """Run the web server and a worker together, as `make run` does; Ctrl-C stops both."""
        from honcho.manager import Manager

        config = current_services().config
        python = shlex.quote(sys.executable)
        env = {**os.environ, "PORT": str(config.port), "PYTHONUNBUFFERED": "1"}
        if config.simulator:
            from bot.demo import DEMO_PASSWORD

            click.echo(f"\n  Open http://127.0.0.1:{config.port}/simulator  (LINE simulator)"
                       f"\n  Console http://127.0.0.1:{config.port}/console  "
                       f"admin@desk.example.jp / {DEMO_PASSWORD}\n")
        else:
            click.echo(f"\n  Webhook: http://127.0.0.1:{config.port}/callback  (real LINE channel)\n")
        manager = Manager()
        manager.add_process(
            "web",
            f"{python} -m gunicorn --config python:bot.gunicorn_conf --workers {web_workers} "
            f"--bind 127.0.0.1:{config.port} 'bot:create_app()'",
            env=env,
        )
        manager.add_process("worker", f"{python} -m bot.queue.worker", env=env)
        manager.loop()
        sys.exit(manager.returncode)

    @app.cli.command("maintenance")
    @click.argument("state", type=click.Choice(["on", "off"]))
    @click.option("--notice", default=None,
                  help="what users are told (default: the last notice, or メンテナンスのため、ご利用いただけません。)")
    @click.option("--until", default=None, help="expected end, as users should read it (e.g. 12月1日 18:00)")
    def maintenance(state: str, notice: str | None, until: str | None) -> None:
        """Pause the service (every message gets the notice) or resume it."""
        from handlers import maintenance as mode

        try:
            with current_services().db.transaction() as session:
                mode.set_mode(session, state == "on", notice, until)
        except mode.MaintenanceError as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"maintenance mode {state}")

    @app.cli.command("attendance")
    @click.argument("reference")
    @click.argument("outcome", type=click.Choice(["attended", "no-show"]))
    def attendance(reference: str, outcome: str) -> None:
        """Mark a session attended or a no-show (repeated no-shows restrict the user)."""
        from handlers.attendance import AttendanceError, mark

        services = current_services()
        try:
            with services.db.transaction() as session:
                booking = mark(session, services, reference, outcome == "attended", services.clock())
                click.echo(f"{booking.reference}: {booking.status}")
        except AttendanceError as e:
            raise click.ClickException(str(e)) from None

    @app.cli.command("cancel-booking")
    @click.argument("reference")
    @click.option("--reason", required=True, help="why the desk cancels (kept with the booking)")
    @click.option("--asked-by", type=click.Choice(["desk", "phone", "in-person"]), default="desk", show_default=True,
                  help="who asked: the desk itself, or the user by phone or in person")
    def cancel_booking(reference: str, reason: str, asked_by: str) -> None:
        """Cancel a booking for the desk: the Teams invite is withdrawn and the user is told on LINE."""
        from handlers.bookings import BookingActionError, cancel_for_desk

        services = current_services()
        try:
            with services.db.transaction() as session:
                cancel_for_desk(session, services, reference, reason, services.clock(), asked_by.replace("-", "_"))
        except BookingActionError as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"{reference}: cancelled")

    @app.cli.command("handoff-retry")
    @click.argument("reference")
    def handoff_retry(reference: str) -> None:
        """Try the Teams handoff of a booking again after it failed."""
        from handlers.bookings import BookingActionError, retry_handoff

        try:
            with current_services().db.transaction() as session:
                retry_handoff(session, reference)
        except BookingActionError as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"{reference}: handoff queued again")

    @app.cli.command("alerts")
    def alerts() -> None:
        """Open operator alerts, newest first."""
        from sqlalchemy import select

        from models import OperatorAlert

        with current_services().db.transaction() as session:
            rows = session.scalars(select(OperatorAlert).where(OperatorAlert.resolved_at.is_(None))
                                   .order_by(OperatorAlert.id.desc())).all()
            for alert in rows:
                click.echo(f"#{alert.id} {alert.created_at:%Y-%m-%d %H:%M} {alert.kind}: {alert.message}")
            if not rows:
                click.echo("no open alerts")

    @app.cli.command("jobs")
    def jobs_status() -> None:
        """Show the job queue: counts by status and the latest dead jobs."""
        from bot.queue import jobs

        with current_services().db.transaction() as session:
            for status, n in sorted(jobs.counts(session).items()):
                click.echo(f"{status:8} {n}")
            for job in jobs.dead_jobs(session, 20):
                click.echo(f"dead #{job.id} {job.kind} after {job.attempts} attempts: {job.last_error}")

    @app.cli.group("retention")
    def retention_group() -> None:
        """Records past their retention period (RETENTION_DAYS, WEBHOOK_BODY_RETENTION_DAYS)."""

    @retention_group.command("run")
    @click.option("--dry-run", is_flag=True, help="only count what would be purged")
    def retention_run(dry_run: bool) -> None:
        """Purge now (the workers do it once a day), even if today's run is done; print the counts."""
        from bot.ops import retention

        try:
            report = retention.run(current_services(), dry_run=dry_run, force=True, trigger="cli")
        except retention.PurgeRunning as e:
            raise click.ClickException(str(e)) from None
        if report is None:
            raise click.ClickException("another process claimed the purge at the same moment; try again")
        cutoffs = report.cutoffs.as_dict()
        click.echo(f"{'would purge' if dry_run else 'purged'} records before {cutoffs['records']}, "
                   f"webhook bodies before {cutoffs['bodies']}")
        for name, n in report.counts.items():
            click.echo(f"{name:26} {n}")
