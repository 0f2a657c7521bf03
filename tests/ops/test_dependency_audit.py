"""What `make test`'s dependency audit makes of pip-audit's report (scripts/audit_dependencies.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "audit_dependencies", Path(__file__).resolve().parents[2] / "scripts" / "audit_dependencies.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

CLEAN = {"name": "flask", "version": "3.1.2", "vulns": []}
VULNERABLE = {"name": "setuptools", "version": "65.5.0",
              "vulns": [{"id": "PYSEC-2022-43012", "fix_versions": ["65.5.1"]}]}
NOT_ASKED = {"name": "aenum", "skip_reason": "Dependency not found on PyPI and could not be audited: aenum (3.1.17)"}


def test_a_known_vulnerability_fails_the_run_and_names_the_fix():
    code, lines = audit.verdict([CLEAN, VULNERABLE, NOT_ASKED], required=False)
    assert code == 1
    assert "VULNERABLE setuptools 65.5.0: PYSEC-2022-43012 (fixed in 65.5.1)" in lines


def test_an_audit_that_could_ask_about_nothing_says_so_and_fails_only_when_required():
    code, lines = audit.verdict([NOT_ASKED, dict(NOT_ASKED, name="attrs")], required=False)
    assert code == 0 and any("DEPENDENCY AUDIT DID NOT RUN" in line for line in lines)
    assert "no known vulnerabilities" not in "\n".join(lines)
    assert audit.verdict([NOT_ASKED], required=True)[0] == 1


def test_a_clean_audit_passes_and_lists_what_it_could_not_ask_about():
    code, lines = audit.verdict([CLEAN, NOT_ASKED], required=True)
    assert code == 0
    assert lines[-1] == "dependency audit: 1 packages audited, no known vulnerabilities; 1 not audited"
    assert lines[0].startswith("not audited: ")
