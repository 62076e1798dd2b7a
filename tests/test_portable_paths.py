"""Committed files name no absolute path of the machine that wrote them (issue 25): the tracked files, the
path rule of :func:`aelib.layout.relative_to_repo`, and the writers of study_info.json, params.json and the
inventory table."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from aelib import layout
from aelib.layout import REPO, relative_to_repo, resolve_recorded

from .scripts import load_script


@pytest.fixture(scope="module")
def pp():
    return load_script("portable_paths")


def _git_checkout() -> bool:
    if shutil.which("git") is None:
        return False
    out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=REPO, capture_output=True, text=True)
    return out.returncode == 0 and Path(out.stdout.strip()).resolve() == REPO


@pytest.mark.skipif(not _git_checkout(), reason="not a git checkout")
def test_no_tracked_file_holds_an_absolute_path_of_this_machine(pp):
    """The repository's absolute path, the home directory and /tmp/, computed here (so on any machine), in
    every tracked text file. A hit names its fix: ``python scripts/portable_paths.py FILE``, and the writer."""
    own = {REPO / "scripts" / "portable_paths.py", Path(__file__).resolve()}  # the checker quotes what it looks for
    files = [f for f in pp.tracked_text_files() if f.resolve() not in own]
    assert len(files) > 100 and any(f.suffix == ".ipynb" for f in files)
    hits = pp.find_machine_paths(files)
    assert not hits, "\n".join(f"{name}:{line}: {what}" for name, line, what in hits[:20])


def test_relative_to_repo_makes_paths_portable(tmp_path, monkeypatch):
    home = tmp_path / "home" / "me"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    assert relative_to_repo(REPO / "runs" / "default") == "runs/default"
    assert relative_to_repo(REPO) == "."
    assert relative_to_repo(home / ".cache" / "aelib" / "corpus" / "small") == "~/.cache/aelib/corpus/small"
    assert relative_to_repo("~/corpus") == "~/corpus"
    assert relative_to_repo(home) == "~"
    assert relative_to_repo("/srv/corpus") == "/srv/corpus"  # anything else: as given
    assert relative_to_repo("") == ""  # Config.data_dir "" (the preset's default) stays ""
    monkeypatch.chdir(REPO)
    assert relative_to_repo("runs") == "runs"


def test_resolve_recorded_reads_them_back(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # a relative recorded path is the repository's, not the cwd's
    assert resolve_recorded("runs/default") == REPO / "runs" / "default"
    assert resolve_recorded("~/.cache/aelib") == tmp_path / ".cache" / "aelib"
    assert resolve_recorded("/srv/corpus") == Path("/srv/corpus")
    for p in (REPO / "runs" / "x", tmp_path / "corpus", Path("/srv/corpus")):
        assert resolve_recorded(relative_to_repo(p)) == p


def test_study_info_records_portable_paths(tmp_path, monkeypatch):
    from aelib.study.report import RunOutcome, write_info

    monkeypatch.setenv("HOME", str(tmp_path))
    study = REPO / "runs" / "s"
    r = RunOutcome("kws", "clean", 0, str(layout.run_dir(study, "kws", "clean", 0)), "done")
    info = {"study": "s", "data_dir": str(tmp_path / ".cache" / "aelib" / "corpus" / "small"),
            "runs": [{**vars(r), "notebook": r.notebook}]}
    write_info(tmp_path, info)
    text = (tmp_path / "study_info.json").read_text()
    saved = json.loads(text)
    assert saved["data_dir"] == "~/.cache/aelib/corpus/small"
    assert saved["runs"][0]["run_dir"] == "runs/s/kws/clean/seed0"
    assert saved["runs"][0]["notebook"] == "runs/s/kws/clean/seed0/train.ipynb"
    assert str(REPO) not in text and str(tmp_path) not in text
    assert info["runs"][0]["run_dir"] == r.run_dir  # the runner's own copy keeps the paths it works with


def test_params_json_records_portable_paths_and_the_config_keeps_them(tmp_path, monkeypatch):
    """params.json records data_dir and run_root portably, while the Config (whose data_dir is part of every
    cached stage's key) keeps them as given, and a resume still finds the same settings."""
    from aelib.config import make_config
    from aelib.runs import prepare_run_dir, settings_diff

    monkeypatch.setenv("HOME", str(tmp_path))
    corpus = tmp_path / ".cache" / "aelib" / "corpus" / "smoke"
    cfg = make_config("smoke", task="kws", paradigm="clean", data_dir=str(corpus), run_root=str(tmp_path / "runs"))
    run_dir = prepare_run_dir(cfg, "abc")
    saved = json.loads((run_dir / "params.json").read_text())["config"]
    assert saved["data_dir"] == "~/.cache/aelib/corpus/smoke" and saved["run_root"] == "~/runs"
    assert cfg.data_dir == str(corpus) and cfg.run_root == str(tmp_path / "runs")
    assert settings_diff(saved, cfg.to_dict()) == []
    assert {k: v for k, v in saved.items() if k not in ("data_dir", "run_root")} == \
           {k: v for k, v in cfg.to_dict().items() if k not in ("data_dir", "run_root")}


def test_inventory_and_benchmark_record_portable_paths():
    from aelib.results import inventory

    study = REPO / "runs" / "default"
    inv = inventory(study, tasks=["kws"], paradigms=["clean"], seeds=[0])
    assert list(inv["run_dir"]) == ["runs/default/kws/clean/seed0"]
    if not (study / "study_info.json").exists():
        pytest.skip("no committed study")
    bench = load_script("benchmark")
    times = bench.study_times(study)
    assert times["study_dir"] == "runs/default" and str(REPO) not in json.dumps(times)


def test_rewrite_keeps_json_formatting(pp, tmp_path):
    """The one-off rewrite of files made before the writers were portable: only the paths change."""
    from aelib.files import atomic_write_json

    repo, home = "/x/repo", "/x/home"
    f = tmp_path / "params.json"
    atomic_write_json(f, {"config": {"run_root": "/x/repo/runs", "data_dir": "/x/home/.cache/c", "lr": 0.001,
                                     "other": "/x/repository/y", "root": "/x/repo"}, "nan": float("nan")})
    before = f.read_text()
    assert pp.rewrite(f, repo, home) == "changed"
    assert f.read_text() == before.replace('"/x/repo/runs"', '"runs"').replace("/x/home/", "~/") \
        .replace('"/x/repo"', '"."')
    nb = tmp_path / "results.ipynb"
    nb.write_text('{\n "text": ["study: /x/repo/runs/default\\n"]\n}\n')
    assert pp.rewrite(nb, repo, home) == "changed" and "study: runs/default" in nb.read_text()
    odd = tmp_path / "odd.json"
    odd.write_text('{"a": "/x/repo/b"}')  # not atomic_write_json's format: left for a hand edit
    assert pp.rewrite(odd, repo, home).startswith("left alone") and odd.read_text() == '{"a": "/x/repo/b"}'


@pytest.mark.parametrize("text, found", [("see /x/repo/runs", True), ('"/x/repo"', True), ("in /x/repo.", True),
                                         ("/x/repository/a", False), ("/y/x/repo/a", False), ("~/x", False),
                                         ("/x/home/me", True), ("/tmp/pytest-1/a", True), ("runs/tmp1/", False)])
def test_machine_patterns(pp, text, found):
    pats = pp.machine_patterns("/x/repo", "/x/home")
    assert any(p.search(text) for p in pats.values()) == found
