"""A throwaway PostgreSQL cluster (for the test session, the fault suite and the benchmark), from
Debian's server binaries, and its databases.

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user. The cluster
lives in a temporary folder, listens on a free loopback port, trusts local connections, and is
removed when stopped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass

from sqlalchemy import create_engine, text

from models.migrate import upgrade


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries are missing: run `make test`, which installs them")
    return os.path.dirname(found[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Cluster:
    root: str
    port: int
    bindir: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, statement: str) -> None:
        # CREATE and DROP DATABASE cannot run inside a transaction.
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database, empty or a copy of `template`; returns its URL."""
        self._admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)

    def migrated_database(self, name: str) -> str:
        """A new database with the schema migrated to the latest revision; returns its URL."""
        url = self.create_database(name)
        upgrade(url)
        return url

    def create_extension(self, database: str, extension: str) -> None:
        engine = create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS {extension}"))
        finally:
            engine.dispose()

    def drop_database(self, name: str) -> None:
        self._admin(f"DROP DATABASE {name} WITH (FORCE)")

    def stop(self) -> None:
        subprocess.run(_as_owner([f"{self.bindir}/pg_ctl", "-D", f"{self.root}/data", "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(settings: str = "") -> Cluster:
    """A fresh cluster; `settings` adds server options (`-c name=value ...`)."""
    bindir = _bindir()
    root = tempfile.mkdtemp(prefix="desk-pg-")
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = f"{root}/data"
    run = lambda cmd: subprocess.run(_as_owner(cmd), check=True, capture_output=True, text=True)  # noqa: E731
    run([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
    port = _free_port()
    options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=400 "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB " + settings)
    run([f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", f"{root}/server.log", "-w", "start"])
    return Cluster(root, port, bindir)
