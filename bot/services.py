"""What a process needs to do its work, built once per process (web or worker)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from conversations.desk import DeskSettings
from conversations.policy import PolicyDocument, load_policies
from models.database import Database

from bot.clock import Clock, system_clock
from bot.config import Config
from bot.teams.graph_api import GraphApi
from bot.line.api import LineApi
from bot.teams.meetings import LocalMeetings
from bot.policy.store import PublishedPolicies


@dataclass
class Services:
    config: Config
    db: Database
    line: LineApi
    desk_settings: DeskSettings
    meetings: GraphApi | LocalMeetings
    # The shipped policy files (POLICY_DIR), read once per process; `policies_now` adds the
    # versions published in the console.
    policies: list[PolicyDocument]
    # The one clock every business rule reads (bot/clock.py); the database stamps rows with it.
    clock: Clock
    published_policies: PublishedPolicies = field(default_factory=PublishedPolicies)

    def policies_now(self, session: Session, joined: str | None = None) -> list[PolicyDocument]:
        """Every policy version (files and console publications), as of this transaction; `joined`:
        the published versions as a query in this transaction read them (bot/policy/store.py)."""
        return self.published_policies.with_files(session, self.policies, joined)

    @classmethod
    def create(cls, config: Config, *, pool_size: int = 5, clock: Clock = system_clock) -> "Services":
        db = Database(config.database_url, pool_size=pool_size, clock=clock)
        return cls(
            config=config,
            db=db,
            clock=clock,
            meetings=GraphApi(config.graph) if config.graph else LocalMeetings(db, config.public_base_url),
            line=LineApi(
                config.line_api_base_url,
                config.line_channel_access_token,
                connect_timeout=config.line_connect_timeout,
                read_timeout=config.line_read_timeout,
                pool_size=max(4, config.worker_threads + config.worker_send_threads),
            ),
            desk_settings=replace(config.desk, late_minutes=config.no_show_after_minutes,
                                  no_show_limit=config.no_show_limit),
            policies=load_policies(config.policy_dir),
        )

    def close(self) -> None:
        self.line.close()
        self.meetings.close()
        self.db.dispose()


def current_services() -> Services:
    """The services of the app handling this request (or CLI command)."""
    from flask import current_app

    return current_app.extensions["services"]
