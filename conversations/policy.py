"""The operating policy users agree to, as versioned Markdown files with a YAML front matter.

One file per version, named `<version>.md`, in `conversations/policies/`. A broken file raises
`PolicyError` at load time: shipping a policy nobody can read must fail the deploy, not a user.
Versions published from the operator console (database rows, see `bot/policy/store.py`) join the
files through `merge_policies`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

POLICY_FOLDER = Path(__file__).parent / "policies"
FILE, CONSOLE = "file", "console"
_FENCE = "---"
_REQUIRED = ("version", "effective", "title", "summary")


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class PolicyDocument:
    version: str
    effective: date
    title: str
    summary: str
    body_markdown: str
    # Where the version comes from: a shipped file, or a publication in the operator console.
    source: str = FILE


def _split_front_matter(text: str, source: Path) -> tuple[dict[str, object], str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != _FENCE:
        raise PolicyError(f"{source.name}: no front matter")
    for end, line in enumerate(lines[1:], start=1):
        if line.strip() == _FENCE:
            break
    else:
        raise PolicyError(f"{source.name}: front matter is not closed")
    try:
        meta = yaml.safe_load("".join(lines[1:end]))
    except yaml.YAMLError as error:
        raise PolicyError(f"{source.name}: {error}") from error
    if not isinstance(meta, dict):
        raise PolicyError(f"{source.name}: front matter is not a mapping")
    return meta, "".join(lines[end + 1:]).strip() + "\n"


def parse_policy(text: str, source: Path) -> PolicyDocument:
    meta, body = _split_front_matter(text, source)
    missing = [key for key in _REQUIRED if not meta.get(key)]
    if missing:
        raise PolicyError(f"{source.name}: missing {', '.join(missing)}")
    effective = meta["effective"]
    if not isinstance(effective, date):
        raise PolicyError(f"{source.name}: effective must be a date (YYYY-MM-DD)")
    # YAML reads an unquoted 2026-04-01 as a date; the version is an identifier, kept as text.
    version = meta["version"].isoformat() if isinstance(meta["version"], date) else str(meta["version"])
    # Consent records point at the version: a copied file whose version was not updated would
    # make two documents answer to one name.
    if version != source.stem:
        raise PolicyError(f"{source.name}: version {version} does not match the file name")
    return PolicyDocument(version=version, effective=effective, title=str(meta["title"]).strip(),
                          summary=str(meta["summary"]).strip(), body_markdown=body)


def load_policies(folder: Path = POLICY_FOLDER) -> list[PolicyDocument]:
    """Every policy in `folder`, oldest effective date first."""
    policies = [parse_policy(path.read_text(encoding="utf-8-sig"), path) for path in folder.glob("*.md")]
    effective_dates = [p.effective for p in policies]
    if len(set(effective_dates)) != len(effective_dates):
        raise PolicyError(f"{folder}: two policies take effect on the same day")
    return sorted(policies, key=lambda p: p.effective)


def policy_in_force(policies: list[PolicyDocument], today: date) -> PolicyDocument | None:
    """The latest policy already in effect on `today`; None before the first one."""
    in_effect = [p for p in policies if p.effective <= today]
    return max(in_effect, key=lambda p: p.effective, default=None)


def merge_policies(files: list[PolicyDocument], published: list[PolicyDocument]) -> list[PolicyDocument]:
    """The shipped files plus the console's publications, oldest effective date first.

    The console refuses a version id or an effective date already taken, but a file added later
    may still collide with a publication: then the file wins (an operator who ships a file means
    it) and the publication is left out, with a warning, instead of failing every user's turn.
    """
    versions = {p.version for p in files}
    dates = {p.effective for p in files}
    merged = list(files)
    for policy in sorted(published, key=lambda p: (p.effective, p.version)):
        if policy.version in versions or policy.effective in dates:
            log.warning("published policy %s collides with another version and is ignored", policy.version)
            continue
        versions.add(policy.version)
        dates.add(policy.effective)
        merged.append(policy)
    return sorted(merged, key=lambda p: p.effective)
