"""Find, and rewrite, the absolute paths of a machine in files meant to be committed (issue 25).

A committed file names a path relative to the repository, ``~/...`` under the home directory
(:func:`aelib.layout.relative_to_repo`, which the writers of params.json, history.json, study_info.json,
the inventory table and the benchmark's JSON use), never the repository's absolute path on the machine
that wrote it, its home directory, or ``/tmp/``. ``tests/test_portable_paths.py`` runs the check.

    python scripts/portable_paths.py --check              # list tracked text files that hold one; exit 1 if any
    python scripts/portable_paths.py runs/                # rewrite files made before the writers were portable
    python scripts/portable_paths.py runs/ --repo OLD_REPO --home OLD_HOME   # files another machine made

The rewrite replaces ``<repo>/`` by nothing and ``<home>/`` by ``~/`` (``--repo`` and ``--home``: the
machine that made the files; default this one). JSON files are edited value by value and written back
as :func:`aelib.files.atomic_write_json` writes them (one-space indents, key order kept, the final newline
as it was), so that the diff holds only the paths; a JSON file that would not come back byte for byte
is left alone and named. Other text files (``.ipynb`` outputs, CSV, Markdown) are edited as text.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from aelib.files import atomic_write_text  # noqa: E402
from aelib.layout import PATH_START, REPO, home_dir, portable_text, root_pattern  # noqa: E402, F401

TEXT_SUFFIXES = (".json", ".ipynb", ".csv", ".md", ".txt")  # what the rewrite edits in a folder


def machine_patterns(repo: str | Path = REPO, home: str | Path | None = None) -> dict[str, re.Pattern]:
    """The absolute paths a committed file must not hold: the repository's, the home directory's, the
    temporary folder's (``/tmp/``, and :func:`tempfile.gettempdir` where it is another)."""
    out = {"repository": root_pattern(repo), "/tmp": re.compile(PATH_START + r"/tmp/")}
    if home_dir(home) is not None:
        out["home"] = root_pattern(home_dir(home))
    if Path(tempfile.gettempdir()) != Path("/tmp"):
        out["temporary folder"] = root_pattern(tempfile.gettempdir())
    return out


def _map_strings(obj: Any, f: Callable[[str], str]) -> Any:
    if isinstance(obj, str):
        return f(obj)
    if isinstance(obj, list):
        return [_map_strings(v, f) for v in obj]
    if isinstance(obj, dict):
        return {f(k): _map_strings(v, f) for k, v in obj.items()}
    return obj


def _dump(obj: Any, newline: bool) -> str:
    return json.dumps(obj, indent=1) + ("\n" if newline else "")  # aelib.files.atomic_write_json's format


def rewrite(path: Path, repo: str | Path = REPO, home: str | Path | None = None) -> str:
    """Rewrite one file in place; returns "changed", "unchanged" or why it was left alone."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        obj = json.loads(text)
        newline = text.endswith("\n")
        if _dump(obj, newline) != text:
            return "left alone: not in atomic_write_json's format (edit it by hand)"
        new = _dump(_map_strings(obj, lambda s: portable_text(s, repo, home)), newline)
    else:
        new = portable_text(text, repo, home)
    if new == text:
        return "unchanged"
    atomic_write_text(path, new)
    return "changed"


def tracked_text_files(repo: Path = REPO) -> list[Path]:
    """Every file git tracks that reads as UTF-8 text (no NUL byte: PNGs and checkpoints are skipped)."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout
    out = []
    for name in names.decode().split("\0"):
        p = repo / name
        if not name or not p.is_file():
            continue
        data = p.read_bytes()
        if b"\0" in data:
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        out.append(p)
    return out


def find_machine_paths(files: list[Path], repo: str | Path = REPO,
                       home: str | Path | None = None) -> list[tuple[str, int, str]]:
    """(file relative to the repository, line number, what) for each line that holds an absolute path of
    this machine (:func:`machine_patterns`)."""
    patterns = machine_patterns(repo, home)
    hits = []
    for p in files:
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            for what, pat in patterns.items():
                if pat.search(line):
                    hits.append((str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p), i, what))
    return hits


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="*", help="files or folders to rewrite (folders: their " + ", ".join(TEXT_SUFFIXES)
                   + " files)")
    p.add_argument("--repo", default=str(REPO), help="the repository root of the machine that made the files")
    p.add_argument("--home", default=str(Path.home()), help="the home directory of the machine that made them")
    p.add_argument("--check", action="store_true", help="list the tracked text files that hold an absolute path "
                   "of this machine; exit 1 when there is one")
    a = p.parse_args(argv)
    if a.check:
        hits = find_machine_paths(tracked_text_files())
        for name, line, what in hits:
            print(f"{name}:{line}: an absolute path ({what})")
        return 1 if hits else 0
    if not a.paths:
        p.error("give files or folders to rewrite, or --check")
    files = []
    for path in map(Path, a.paths):
        files += sorted(f for f in path.rglob("*") if f.is_file() and f.suffix in TEXT_SUFFIXES) if path.is_dir() \
            else [path]
    counts: dict[str, int] = {}
    for f in files:
        status = rewrite(f, a.repo, a.home)
        counts[status] = counts.get(status, 0) + 1
        if status.startswith("left alone"):
            print(f"{f}: {status}", file=sys.stderr)
    print(", ".join(f"{n} {s}" for s, n in counts.items()) or "no files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
