"""Where things live on disk: the one owner of the run-folder and shared-stage layout.

    <run_root>/<study>/<task>/<paradigm>/seed<k>/   one run (params.json, metrics.json, ...)
    <run_root>/_shared/<task>/seed<k>/              stages cached across paradigms and studies

Every other module builds and parses these paths through the functions here, so that the layout is
written down once. Nothing here imports torch or the rest of aelib.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, NamedTuple

SHARED = "_shared"  # the folder name beside the studies that holds cached shared stages
REPO = Path(__file__).resolve().parent.parent  # the repository (the package's parent folder)
_SEED = re.compile(r"seed(\d+)")


class RunKey(NamedTuple):
    task: str
    paradigm: str
    seed: int

    def __str__(self) -> str:  # "kws/iterative/seed0"
        return run_name(self.task, self.paradigm, self.seed)


def seed_name(seed: int) -> str:
    return f"seed{int(seed)}"


def run_name(task: str, paradigm: str, seed: int) -> str:
    """``"<task>/<paradigm>/seed<k>"``: a run's name inside its study (also its relative folder)."""
    return f"{task}/{paradigm}/{seed_name(seed)}"


def run_dir(study_dir: str | Path, task: str, paradigm: str, seed: int) -> Path:
    """The folder of one run inside a study folder."""
    return Path(study_dir) / task / paradigm / seed_name(seed)


def study_dir(run_root: str | Path, study: str) -> Path:
    return Path(run_root) / study


def shared_dir(run_root: str | Path, task: str, seed: int) -> Path:
    """The cache of one task's and seed's shared stages (pre-trained AE, clean CA, input quality)."""
    return Path(run_root) / SHARED / task / seed_name(seed)


def parse_run_dir(path: str | Path, tasks: Iterable[str], paradigms: Iterable[str]) -> RunKey | None:
    """The (task, paradigm, seed) of a run folder's path, or None when the path is not one."""
    p = Path(path)
    m = _SEED.fullmatch(p.name)
    if m and p.parent.name in tuple(paradigms) and p.parent.parent.name in tuple(tasks):
        return RunKey(p.parent.parent.name, p.parent.name, int(m.group(1)))
    return None


def find_run_dirs(root: str | Path, tasks: Iterable[str], paradigms: Iterable[str]) -> list[tuple[RunKey, Path]]:
    """Every run folder (finished or not) of the study folder ``root``, sorted by path; a run folder
    itself gives just that run."""
    tasks, paradigms = tuple(tasks), tuple(paradigms)
    root = Path(root)
    own = parse_run_dir(root, tasks, paradigms)
    if own is not None:
        return [(own, root)]
    out = []
    for d in sorted(root.glob("*/*/seed*")):
        key = parse_run_dir(d, tasks, paradigms)
        if key is not None and d.is_dir():
            out.append((key, d))
    return out


def relative_to_repo(path: str | Path) -> str:
    """``path`` as a committed file records it (issue 25: no absolute path of the machine that wrote it):
    relative to the repository when it lies inside it, ``~/...`` under the home directory, else as given
    ("" stays ""). :func:`resolve_recorded` reads such a path back."""
    if str(path) == "":
        return ""
    p = Path(path).expanduser().resolve()
    try:
        return str(p.relative_to(REPO))
    except ValueError:
        pass
    try:
        return str(Path("~") / p.relative_to(Path.home().resolve()))
    except (ValueError, RuntimeError):  # RuntimeError: no home directory to be found
        return str(path)


def resolve_recorded(path: str | Path) -> Path:
    """A path that a committed file records (:func:`relative_to_repo`) on this machine: ``~`` expanded, a
    relative one taken from the repository root (not the cwd)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else REPO / p


PATH_START = r"(?<![\w.~/-])"  # a path starts here, not inside another path or word
# the root ends here: /x/repo matches /x/repo/a, "/x/repo" and "in /x/repo.", not /x/repository or /x/repo.git
PATH_END = r"(?![\w~-]|\.\w)"


def root_pattern(root: str | Path) -> re.Pattern:
    """``root`` (an absolute folder) where it starts a path in a text, itself or followed by ``/...``."""
    return re.compile(PATH_START + re.escape(str(root).rstrip("/")) + PATH_END + "/?")


def home_dir(home: str | Path | None) -> Path | None:
    """The home directory to look for, or None when it is ``/`` or ``/home`` (it would match every path)."""
    home = Path.home() if home is None else Path(home)
    return home if home.is_absolute() and home not in (Path("/"), Path("/home")) else None


def portable_text(text: str, repo: str | Path = REPO, home: str | Path | None = None) -> str:
    """``text`` with ``<repo>/x`` as ``x`` (``<repo>`` alone as ``.``) and ``<home>/x`` as ``~/x``."""
    text = root_pattern(repo).sub(lambda m: "" if m.group().endswith("/") else ".", text)
    if home_dir(home) is None:
        return text
    return root_pattern(home_dir(home)).sub(lambda m: "~/" if m.group().endswith("/") else "~", text)
