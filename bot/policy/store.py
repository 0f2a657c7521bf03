"""The policy versions published from the console, as every process reads them.

Publications are rows of `policy_versions`; every web process and worker on every host must see a
new one at once, or a user could agree to a version another process no longer shows. So each
caller asks the database which versions exist, in its own transaction, every time: one query
over the primary key of a table of a few rows, measured at 0.1-0.3 ms on SQLite and about 0.7 ms
on a local PostgreSQL (a busy two-core test machine), next to the ten-odd queries a turn makes
anyway. A time-based cache would save that at the price of a window in which two processes
disagree on the version in force. A published row is never edited (a correction is a new
version), so the documents themselves are cached per process, by version id, and only a version
this process has not seen yet is loaded in full.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversations.policy import CONSOLE, PolicyDocument, merge_policies
from models import PolicyVersion


_VERSIONS = select(PolicyVersion.version)
# The versions as one value, for a query that reads them along with other things (a turn's first
# read, handlers/turns.py); `read(versions=...)` takes its result.
SEPARATOR = "\n"
VERSIONS_JOINED = select(func.aggregate_strings(PolicyVersion.version, SEPARATOR)).scalar_subquery()


class PublishedPolicies:
    def __init__(self) -> None:
        self._documents: dict[str, PolicyDocument] = {}
        self._merged: tuple[tuple[str, ...], list[PolicyDocument]] | None = None
        self._lock = threading.Lock()

    def read(self, session: Session, joined: str | None = None) -> list[PolicyDocument]:
        """Every version published in the console, as of this transaction; `joined`: the versions as
        VERSIONS_JOINED read them in this transaction (None: read them now)."""
        versions = list(session.scalars(_VERSIONS)) if joined is None else [v for v in joined.split(SEPARATOR) if v]
        missing = [v for v in versions if v not in self._documents]
        if missing:
            rows = session.scalars(select(PolicyVersion).where(PolicyVersion.version.in_(missing)))
            loaded = {row.version: document(row) for row in rows}
            with self._lock:
                self._documents.update(loaded)
        return [self._documents[v] for v in versions if v in self._documents]

    def with_files(self, session: Session, files: list[PolicyDocument], joined: str | None = None) -> list[PolicyDocument]:
        """The versions in force or to come: the shipped files and the console's publications.
        `joined`: as for `read`."""
        published = self.read(session, joined)
        key = tuple(sorted(d.version for d in published))
        merged = self._merged  # one read: another thread may replace it
        if merged is None or merged[0] != key:
            merged = (key, merge_policies(files, published))
            self._merged = merged  # the files never change within a process
        return list(merged[1])


def document(row: PolicyVersion) -> PolicyDocument:
    return PolicyDocument(version=row.version, effective=row.effective, title=row.title, summary=row.summary,
                          body_markdown=row.body_markdown, source=CONSOLE)
