#!/usr/bin/env python3
"""Audit the dev lock (requirements-dev.lock: every package `make` installs, a superset of the
runtime lock requirements.lock that deployments install) with pip-audit.

A known vulnerability fails the run. A package the vulnerability service could not be asked about
is never reported as clean: the run lists it, and when nothing at all could be audited (a network
that does not serve PyPI's per-release JSON, as on the project's build machines) it says so in a
banner and fails only when AUDIT_REQUIRED=1, so the test suite stays usable offline while an audit
that checked nothing never looks like a pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def verdict(dependencies: list[dict], required: bool) -> tuple[int, list[str]]:
    """The exit code and the lines to print for pip-audit's JSON `dependencies`."""
    lines: list[str] = []
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if "skip_reason" in d]
    audited = len(dependencies) - len(skipped)
    for d in vulnerable:
        for v in d["vulns"]:
            fixed = ", ".join(v.get("fix_versions") or []) or "no fixed release"
            lines.append(f"VULNERABLE {d['name']} {d['version']}: {v['id']} (fixed in {fixed})")
    if vulnerable:
        lines.append(f"dependency audit: {len(vulnerable)} locked package(s) with known vulnerabilities")
        return 1, lines
    if audited == 0:
        reason = skipped[0]["skip_reason"] if skipped else "nothing locked"
        lines += ["=" * 78,
                  f"DEPENDENCY AUDIT DID NOT RUN: the vulnerability service answered for none of the "
                  f"{len(dependencies)} locked packages ({reason}).",
                  "Nothing was checked. Run `make test` where PyPI's JSON API is reachable to audit.",
                  "=" * 78]
        return (1 if required else 0), lines
    lines += [f"not audited: {d['skip_reason']}" for d in skipped]
    lines.append(f"dependency audit: {audited} packages audited, no known vulnerabilities; {len(skipped)} not audited")
    return 0, lines


LOCK = Path(__file__).resolve().parents[1] / "requirements-dev.lock"


def lock_report() -> list[dict]:
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        run = subprocess.run([str(bin_dir / "pip-audit"), "--progress-spinner", "off", "--disable-pip", "--no-deps",
                              "-r", str(LOCK), "-f", "json", "-o", str(report)], capture_output=True, text=True)
        if not report.exists():
            sys.stderr.write(run.stderr)
            sys.exit(f"dependency audit: pip-audit failed (exit {run.returncode})")
        return json.loads(report.read_text())["dependencies"]


if __name__ == "__main__":
    code, printed = verdict(lock_report(), os.environ.get("AUDIT_REQUIRED") == "1")
    print("\n".join(printed))
    sys.exit(code)
