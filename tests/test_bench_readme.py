"""bench/README.md cites only what a reader can find: commits in this repository's history and
files in its tree."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.prerequisites import missing

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "bench" / "README.md"


def cited_commits(text: str) -> set[str]:
    """Abbreviated or full commit ids: 7 to 40 hex digits with at least one letter and one
    digit (so no plain number or word is taken for one)."""
    words = re.findall(r"(?<![\w/.-])[0-9a-f]{7,40}(?![\w/-])", text)
    return {w for w in words if re.search(r"[a-f]", w) and re.search(r"\d", w)}


def cited_files(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w/.-])(?:[\w-]+/)*[\w-]+\.(?:py|md|yaml|yml|toml|json)\b", text))


def test_every_commit_the_bench_readme_cites_is_in_the_history() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        missing("git and the repository's history (a source tree without .git)")
    commits = cited_commits(README.read_text())
    assert commits, "the readme cites no commit: the pattern is wrong"
    unknown = sorted(
        c
        for c in commits
        if subprocess.run(
            ["git", "cat-file", "-e", f"{c}^{{commit}}"], cwd=ROOT, capture_output=True
        ).returncode
        != 0
    )
    assert not unknown, f"bench/README.md cites commits that are not in the history: {unknown}"


def test_every_file_the_bench_readme_cites_exists() -> None:
    files = cited_files(README.read_text())
    assert "bench/core.py" in files  # the pattern finds paths
    absent = sorted(f for f in files if not (ROOT / f).exists())
    assert not absent, f"bench/README.md cites files that do not exist: {absent}"
