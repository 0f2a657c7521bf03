"""Settings, read once from the environment (and a `.env` file) by both the web app and the worker.

Without a LINE channel the service runs in simulator mode: credentials are generated once into the
instance folder, so the web processes and the workers started by `make run` agree on them, and
every Messaging API call goes to the built-in simulator.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any, Mapping

from dotenv import load_dotenv

from bot.teams.graph_api import MICROSOFT_AUTHORITY_HOST, GraphSettings
from conversations.chat_hours import ChatSettings
from conversations.desk import DEMO_TOPICS, DeskSettings
from conversations.policy import POLICY_FOLDER
from conversations.schedule import BookingRules

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LINE_API_DEFAULT = "https://api.line.me"
LINE_API_DATA_DEFAULT = "https://api-data.line.me"  # LINE serves image uploads from a second host


def _instance_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return float(env.get(name) or default)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return int(env.get(name) or default)


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in (env.get(name) or "").split(",") if item.strip())


def _windows(text: str) -> tuple[tuple[time, time], ...]:
    """"10:00-12:00,13:00-18:30" into the weekday windows sessions must fit in."""
    windows = []
    for part in text.split(","):
        start, _, end = part.strip().partition("-")
        windows.append((time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
    return tuple(windows)


def _chat(env: Mapping[str, str]) -> ChatSettings:
    hours = (env.get("CHAT_HOURS") or "10:00-18:30").strip().lower()
    wait, idle = _int(env, "CHAT_WAIT_MINUTES", 10), _int(env, "CHAT_IDLE_MINUTES", 30)
    if wait < 1 or idle < 1:
        raise RuntimeError("CHAT_WAIT_MINUTES and CHAT_IDLE_MINUTES must be at least 1")
    if hours == "always":
        return ChatSettings(always=True, wait_minutes=wait, idle_minutes=idle)
    return ChatSettings(windows=_windows(hours), wait_minutes=wait, idle_minutes=idle)


def _graph(env: Mapping[str, str]) -> GraphSettings | None:
    names = ("GRAPH_TENANT_ID", "GRAPH_CLIENT_ID", "GRAPH_ORGANIZER")
    given = [n for n in names if env.get(n)]
    credential = env.get("GRAPH_CLIENT_SECRET") or env.get("GRAPH_CLIENT_CERTIFICATE_PATH")
    if not given and not credential:
        return None
    if env.get("GRAPH_CLIENT_SECRET") and env.get("GRAPH_CLIENT_CERTIFICATE_PATH"):
        raise RuntimeError("set GRAPH_CLIENT_SECRET or GRAPH_CLIENT_CERTIFICATE_PATH, not both")
    if len(given) < len(names) or not credential:
        missing = [n for n in names if not env.get(n)] + ([] if credential else ["GRAPH_CLIENT_SECRET"])
        raise RuntimeError(f"Graph is half configured: set {', '.join(missing)} (or unset every GRAPH_ setting)")
    return GraphSettings(
        tenant_id=env["GRAPH_TENANT_ID"], client_id=env["GRAPH_CLIENT_ID"], organizer=env["GRAPH_ORGANIZER"],
        client_secret=env.get("GRAPH_CLIENT_SECRET") or None,
        certificate_path=env.get("GRAPH_CLIENT_CERTIFICATE_PATH") or None,
        certificate_thumbprint=env.get("GRAPH_CLIENT_CERTIFICATE_THUMBPRINT") or None,
        authority=env.get("GRAPH_AUTHORITY") or None,
        base_url=(env.get("GRAPH_BASE_URL") or "https://graph.microsoft.com/v1.0").rstrip("/"),
    )


def _teams_alert_webhook_url(env: Mapping[str, str]) -> str:
    url = (env.get("TEAMS_ALERT_WEBHOOK_URL") or "").strip()
    if url and not url.startswith("https://"):
        raise RuntimeError("TEAMS_ALERT_WEBHOOK_URL must be an https:// address (the Workflows webhook URL)")
    return url


REMINDER_CHOICES = {"both": ("day_before", "hour_before"), "day_before": ("day_before",),
                    "hour_before": ("hour_before",), "none": ()}


def _reminders(env: Mapping[str, str]) -> tuple[str, ...]:
    choice = (env.get("REMINDERS") or "both").strip().lower()
    if choice not in REMINDER_CHOICES:
        raise RuntimeError("REMINDERS must be both, day_before, hour_before or none")
    return REMINDER_CHOICES[choice]
def _no_show_restriction(env: Mapping[str, str]) -> str:
    value = (env.get("NO_SHOW_RESTRICTION") or "ask").strip().lower()
    if value not in ("ask", "auto"):
        raise RuntimeError("NO_SHOW_RESTRICTION must be ask or auto")
    return value


def _retention(env: Mapping[str, str]) -> dict[str, int]:
    days = _int(env, "RETENTION_DAYS", 365)
    body_days = _int(env, "WEBHOOK_BODY_RETENTION_DAYS", 30)
    batch = _int(env, "RETENTION_BATCH_SIZE", 5000)
    if body_days < 1 or days < body_days:
        raise RuntimeError("WEBHOOK_BODY_RETENTION_DAYS must be at least 1 and at most RETENTION_DAYS")
    if batch < 1:
        raise RuntimeError("RETENTION_BATCH_SIZE must be at least 1")
    return {"retention_days": days, "webhook_body_retention_days": body_days, "retention_batch_size": batch}


def _observability(env: Mapping[str, str], simulator: bool) -> dict[str, object]:
    log_format = (env.get("LOG_FORMAT") or ("text" if simulator else "json")).lower()
    if log_format not in ("json", "text"):
        raise RuntimeError("LOG_FORMAT must be json or text")
    log_level = (env.get("LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise RuntimeError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return {
        "log_format": log_format,
        "log_level": log_level,
        "metrics_token": env.get("METRICS_TOKEN") or "",
        "metrics_port": _int(env, "METRICS_PORT", 0),
        "metrics_bind": env.get("METRICS_BIND") or "127.0.0.1",
        "ready_max_backlog_seconds": _float(env, "READY_MAX_BACKLOG_SECONDS", 60.0),
    }


def _simulator_credentials(instance: Path) -> dict[str, str]:
    """Credentials shared by every local process; created on first use, never overwritten."""
    path = instance / "simulator-credentials.json"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fresh = {
            "channel_secret": secrets.token_hex(16),
            "access_token": secrets.token_urlsafe(32),
            "secret_key": secrets.token_hex(32),
        }
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(fresh))
        try:
            os.link(tmp, path)  # atomic create-if-absent: a racing process keeps the first file
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return json.loads(path.read_text())


@dataclass(frozen=True)
class SsoSettings:
    """Console sign-in with Microsoft Entra ID (CONSOLE_SSO_*); None in Config: passwords only."""

    tenant_id: str
    client_id: str
    client_secret: str
    authority: str | None = None

    def __post_init__(self) -> None:
        # "common" or "organizations" would let an account of any tenant through the sign-in.
        try:
            uuid.UUID(self.tenant_id)
        except ValueError:
            raise RuntimeError("CONSOLE_SSO_TENANT_ID must be the tenant's ID (a GUID), not a name like "
                               f"{self.tenant_id!r}") from None

    def own_tenant(self, tid: Any) -> bool:
        """Whether an id_token's tid names this desk's tenant."""
        try:
            return uuid.UUID(str(tid)) == uuid.UUID(self.tenant_id)
        except ValueError:
            return False

    @property
    def authority_url(self) -> str:
        return (self.authority or f"https://{MICROSOFT_AUTHORITY_HOST}/{self.tenant_id}").rstrip("/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SsoSettings | None":
        env = os.environ if env is None else env
        names = ("CONSOLE_SSO_TENANT_ID", "CONSOLE_SSO_CLIENT_ID", "CONSOLE_SSO_CLIENT_SECRET")
        given = [n for n in names if env.get(n)]
        if not given:
            return None
        if len(given) < len(names):
            missing = ", ".join(n for n in names if not env.get(n))
            raise RuntimeError(f"console sign-in with Entra ID is half configured: set {missing} "
                               "(or unset every CONSOLE_SSO_ setting)")
        return cls(env["CONSOLE_SSO_TENANT_ID"], env["CONSOLE_SSO_CLIENT_ID"], env["CONSOLE_SSO_CLIENT_SECRET"],
                   env.get("CONSOLE_SSO_AUTHORITY") or None)


@dataclass(frozen=True)
class Config:
    secret_key: str
    database_url: str
    line_channel_secret: str
    line_channel_access_token: str
    line_api_base_url: str
    simulator: bool
    port: int = 8000
    instance_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "instance")
    # LINE says a reply token is "not guaranteed" after about a minute; stay well inside that.
    reply_token_ttl_seconds: float = 50.0
    line_connect_timeout: float = 3.05
    line_read_timeout: float = 10.0
    # The host for image uploads (the rich menu's); empty: see `line_api_data_url`.
    line_api_data_base_url: str = ""
    max_webhook_bytes: int = 1024 * 1024
    job_lease_seconds: float = 60.0
    worker_threads: int = 4
    # Threads per worker that wait on LINE (and Graph) for sends, apart from the threads running
    # turns, so a slow answer from LINE holds no thread that could run another user's turn.
    worker_send_threads: int = 8
    # Workers run at this lower CPU priority (nice value) than the web processes, so that on a
    # shared host LINE's webhook is answered at once while a burst waits in the queue.
    worker_nice: int = 10
    worker_poll_seconds: float = 0.2
    public_base_url: str = "http://127.0.0.1:8000"
    policy_dir: Path = POLICY_FOLDER
    # The desk as users meet it: phone, topics, eligibility, booking rules.
    desk: DeskSettings = field(default_factory=DeskSettings)
    # Microsoft Graph for Teams meetings; None: the local meeting provider.
    graph: GraphSettings | None = None
    graph_invite_user: bool = False
    # The user's name, reading and consultation text in the Teams invite: Exchange keeps them after
    # erasure, so off by default (the invite links to the booking in the console instead).
    graph_invite_details: bool = False
    graph_retry_window_minutes: int = 120
    no_show_limit: int = 2
    # No-shows counted for NO_SHOW_LIMIT are those of the last this many days.
    no_show_window_days: int = 180
    # At the limit: "ask" the operator in the console (an alert), or restrict "auto"matically.
    no_show_restriction: str = "ask"
    # A restriction for no-shows (and the console's default end date) ends by itself after this many days.
    restriction_days: int = 90
    reminder_day_before: time = time(18, 0)
    reminder_minutes_before: int = 60
    # Which reminders are sent (REMINDERS): each is a push, counted against LINE's monthly quota.
    reminders: tuple[str, ...] = ("day_before", "hour_before")
    # LINE's quota and this month's consumption are read at most this often, cached in the database.
    line_quota_refresh_minutes: float = 5.0
    # The built-in simulator's own monthly push limit (0: none), so running out can be tried offline.
    simulator_message_quota: int = 200
    scheduler_seconds: float = 30.0
    # How long records are kept (see bot/ops/retention.py for what happens to each table after that).
    retention_days: int = 365
    webhook_body_retention_days: int = 30
    # Rows per purge transaction: short transactions never hold a big table's locks for long.
    retention_batch_size: int = 5000
    # Observability (bot/ops/logs.py, bot/ops/metrics.py, bot/ops/health.py).
    log_format: str = "text"  # json | text; from_env: json with a real LINE channel
    log_level: str = "INFO"
    metrics_token: str = ""  # bearer token for /metrics; empty: /metrics answers 404
    metrics_port: int = 0  # the worker's own metrics port; 0: off
    metrics_bind: str = "127.0.0.1"
    ready_max_backlog_seconds: float = 60.0
    # Reverse proxies in front of the web processes whose X-Forwarded-* headers are believed (ProxyFix);
    # 0: none, so a client cannot choose the address the audit log and the sign-in throttle see.
    proxy_hops: int = 0
    # The operator console: idle sign-out, and Entra ID sign-in when configured.
    console_idle_minutes: int = 30
    # However active, a console session ends this long after sign-in.
    console_session_hours: int = 12
    # A counsellor sees their booking, its user and the conversation around it until this long after the session.
    counsellor_access_days: int = 30
    console_sso: SsoSettings | None = None
    # A Teams Workflows webhook ("When a Teams webhook request is received"): every operator alert
    # also posts a card without personal data to that channel. Empty: the console only. The URL
    # carries the flow's signature (`sig=`): a secret, never logged.
    teams_alert_webhook_url: str = ""

    @property
    def no_show_after_minutes(self) -> int:
        """The 10-minute rule (NO_SHOW_AFTER_MINUTES): a session is marked a no-show only after it."""
        return self.desk.late_minutes

    @property
    def line_api_data_url(self) -> str:
        """api-data.line.me next to LINE's own API host; otherwise the host of LINE_API_BASE_URL,
        so a fake LINE or the simulator receives the uploads too."""
        if self.line_api_data_base_url:
            return self.line_api_data_base_url
        return LINE_API_DATA_DEFAULT if self.line_api_base_url == LINE_API_DEFAULT else self.line_api_base_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        if environ is None:
            load_dotenv(PROJECT_ROOT / ".env")
            environ = os.environ
        env = environ
        instance = _instance_dir(env)
        port = _int(env, "PORT", 8000)
        secret = env.get("LINE_CHANNEL_SECRET", "")
        token = env.get("LINE_CHANNEL_ACCESS_TOKEN", "")
        if bool(secret) != bool(token):
            # Half a channel would otherwise fall back to the simulator and open /simulator publicly.
            missing = "LINE_CHANNEL_ACCESS_TOKEN" if secret else "LINE_CHANNEL_SECRET"
            raise RuntimeError(f"LINE is half configured: set {missing} (or unset both LINE_CHANNEL_ settings "
                               "for simulator mode)")
        simulator = not secret
        secret_key = env.get("SECRET_KEY", "")
        base_url = env.get("LINE_API_BASE_URL", "")
        public_base_url = (env.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{port}").rstrip("/")
        proxy_hops = _int(env, "PROXY_HOPS", 0)
        if proxy_hops < 0:
            raise RuntimeError("PROXY_HOPS must be 0 or more")
        idle_minutes = _int(env, "CONSOLE_IDLE_MINUTES", 30)
        if idle_minutes < 1:
            raise RuntimeError("CONSOLE_IDLE_MINUTES must be at least 1")
        if _int(env, "CONSOLE_SESSION_HOURS", 12) < 1:
            raise RuntimeError("CONSOLE_SESSION_HOURS must be at least 1")
        if simulator:
            creds = _simulator_credentials(instance)
            secret, token = creds["channel_secret"], creds["access_token"]
            secret_key = secret_key or creds["secret_key"]
            base_url = base_url or f"http://127.0.0.1:{port}/simulator/line"
        elif not secret_key:
            raise RuntimeError("SECRET_KEY must be set when a real LINE channel is configured")
        elif not env.get("PUBLIC_BASE_URL"):
            raise RuntimeError("PUBLIC_BASE_URL must be set when a real LINE channel is configured "
                               "(users are sent links to it)")
        return cls(
            secret_key=secret_key,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{instance / 'desk.sqlite3'}",
            line_channel_secret=secret,
            line_channel_access_token=token,
            line_api_base_url=(base_url or LINE_API_DEFAULT).rstrip("/"),
            line_api_data_base_url=(env.get("LINE_API_DATA_BASE_URL") or "").rstrip("/"),
            simulator=simulator,
            port=port,
            instance_dir=instance,
            reply_token_ttl_seconds=_float(env, "REPLY_TOKEN_TTL_SECONDS", 50.0),
            line_connect_timeout=_float(env, "LINE_CONNECT_TIMEOUT", 3.05),
            line_read_timeout=_float(env, "LINE_READ_TIMEOUT", 10.0),
            job_lease_seconds=_float(env, "JOB_LEASE_SECONDS", 60.0),
            worker_threads=_int(env, "WORKER_THREADS", 4),
            worker_send_threads=_int(env, "WORKER_SEND_THREADS", 8),
            worker_nice=_int(env, "WORKER_NICE", 10),
            worker_poll_seconds=_float(env, "WORKER_POLL_SECONDS", 0.2),
            public_base_url=public_base_url,
            policy_dir=Path(env.get("POLICY_DIR") or POLICY_FOLDER),
            graph=_graph(env),
            graph_invite_user=(env.get("GRAPH_INVITE_USER_EMAIL") or "").lower() in ("1", "true", "yes", "on"),
            graph_invite_details=(env.get("GRAPH_INVITE_DETAILS") or "").lower() in ("1", "true", "yes", "on"),
            graph_retry_window_minutes=_int(env, "GRAPH_RETRY_WINDOW_MINUTES", 120),
            no_show_limit=_int(env, "NO_SHOW_LIMIT", 2),
            no_show_window_days=_int(env, "NO_SHOW_WINDOW_DAYS", 180),
            no_show_restriction=_no_show_restriction(env),
            restriction_days=_int(env, "RESTRICTION_DAYS", 90),
            reminder_day_before=time.fromisoformat(env.get("REMINDER_DAY_BEFORE_AT") or "18:00"),
            reminder_minutes_before=_int(env, "REMINDER_MINUTES_BEFORE", 60),
            reminders=_reminders(env),
            line_quota_refresh_minutes=_float(env, "LINE_QUOTA_REFRESH_MINUTES", 5.0),
            simulator_message_quota=_int(env, "SIMULATOR_MESSAGE_QUOTA", 200),
            scheduler_seconds=_float(env, "SCHEDULER_SECONDS", 30.0),
            proxy_hops=proxy_hops,
            console_idle_minutes=idle_minutes,
            console_session_hours=_int(env, "CONSOLE_SESSION_HOURS", 12),
            counsellor_access_days=_int(env, "CONSOLE_COUNSELLOR_ACCESS_DAYS", 30),
            console_sso=SsoSettings.from_env(env),
            teams_alert_webhook_url=_teams_alert_webhook_url(env),
            **_retention(env),
            **_observability(env, simulator),
            desk=DeskSettings(
                desk_name=env.get("DESK_NAME") or DeskSettings.desk_name,
                phone=env.get("DESK_PHONE") or DeskSettings.phone,
                phone_hours=env.get("DESK_PHONE_HOURS") or DeskSettings.phone_hours,
                topics=_list(env, "DESK_TOPICS") or DEMO_TOPICS,
                age_min=_int(env, "AGE_MIN", DeskSettings.age_min),
                age_max=_int(env, "AGE_MAX", DeskSettings.age_max),
                under_age_contact=env.get("UNDER_AGE_CONTACT") or DeskSettings.under_age_contact,
                over_age_contact=env.get("OVER_AGE_CONTACT") or DeskSettings.over_age_contact,
                flow_timeout_minutes=_int(env, "FLOW_TIMEOUT_MINUTES", DeskSettings.flow_timeout_minutes),
                late_minutes=_int(env, "NO_SHOW_AFTER_MINUTES", DeskSettings.late_minutes),
                same_day_cancel_on_line=(env.get("SAME_DAY_CANCEL_ON_LINE") or "").lower() in ("1", "true", "yes", "on"),
                policy_url=f"{public_base_url}/policy",
                address=env.get("DESK_ADDRESS") or DeskSettings.address,
                hotlines=tuple(h.strip() for h in (env.get("CRISIS_HOTLINES") or "").split(";") if h.strip())
                or DeskSettings.hotlines,
                chat=_chat(env),
                crisis_words=tuple(w.strip() for w in (env.get("CRISIS_WORDS") or "").split(";") if w.strip())
                or DeskSettings.crisis_words,
                rules=BookingRules(
                    session_minutes=_int(env, "SESSION_MINUTES", 30),
                    windows=_windows(env.get("BOOKING_WINDOWS") or "10:00-12:00,13:00-18:30"),
                    cutoff_time=time.fromisoformat(env.get("BOOKING_CUTOFF") or "12:00"),
                    horizon_days=_int(env, "BOOKING_HORIZON_DAYS", 30),
                    max_active_bookings_per_user=_int(env, "MAX_ACTIVE_BOOKINGS", 1),
                    hold_minutes=_int(env, "HOLD_MINUTES", 15),
                    extra_closed_days=frozenset(date.fromisoformat(d) for d in _list(env, "CLOSED_DAYS")),
                ),
            ),
        )

    def but(self, **changes) -> "Config":
        return replace(self, **changes)
