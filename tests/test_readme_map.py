"""The README's map of the folders names only folders and modules that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_MODULES = {"create_app"}  # a function the map names alongside the modules


def map_entries() -> list[tuple[Path, list[str]]]:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## How it works", 1)[1].split("```", 2)[1]
    entries, parent = [], ROOT
    for line in block.strip().splitlines():
        folder, _, text = line.strip().partition(" ")
        base = (parent if line.startswith("  ") else ROOT) / folder.rstrip("/")
        if not line.startswith("  "):
            parent = base
        text = re.sub(r"\([^)]*\)", "", text)
        text = text.rsplit(": ", 1)[-1]
        names = [n.strip() for n in text.split(",")]
        entries.append((base, [n for n in names if re.fullmatch(r"[a-z_]+/?", n) and n not in NOT_MODULES]))
    return entries


def test_every_folder_and_module_in_the_readme_map_exists():
    entries = map_entries()
    assert len(entries) >= 12
    missing = [f"{base.relative_to(ROOT)}/{name}" for base, names in entries for name in names
               if not ((base / f"{name}.py").exists() or (base / name.rstrip("/")).is_dir())]
    missing += [str(base.relative_to(ROOT)) for base, _ in entries if not base.is_dir()]
    assert missing == []


def test_every_package_of_bot_is_on_the_map():
    mapped = {base.name for base, _ in map_entries()}
    packages = {p.parent.name for p in (ROOT / "bot").glob("*/__init__.py")}
    assert packages <= mapped
