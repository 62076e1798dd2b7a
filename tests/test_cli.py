"""Every command line answers a user's mistake with one ``error:`` line and exit status 2, not a traceback;
a bug keeps its traceback. The mains are called in this process; one case runs as the user types it."""
import json
import subprocess
import sys

import pytest

from aelib.errors import USAGE_EXIT, UserError, guard
from aelib.layout import REPO

from .fake_corpus import make_fake_corpus
from .scripts import load_script


def _one_error_line(capsys, rc: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == USAGE_EXIT and len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in err[0]
    return err[0]


# (the table) python -m aelib.runs ...: bad names, bad values, a flag without a value
RUNS_MISTAKES = {
    "--task kwz --paradigm clean": "unknown task",
    "--task kws --paradigm clever": "unknown paradigm",
    "--task kws --paradigm clean --set foo=1": "unknown config keys ['foo']",
    "--task kws --paradigm clean --set lr": "--set expects [SCOPE:]KEY=VALUE, got 'lr'",
    "--task kws --paradigm iterative --preset smoke --set lr=abc": "lr expects a number > 0",
    '--task kws --paradigm clean --set batch_size="big"': "batch_size expects an integer >= 1",
    "--task kws --paradigm clean --set train_snr_low=30": "train_snr_low",
    "--task kws --paradigm clean --set test_snrs=[0,nan]": "test_snrs",
}


@pytest.mark.parametrize("args", RUNS_MISTAKES)
def test_runs_cli_names_the_mistake(args, capsys, tmp_path):
    from aelib.runs import main

    rc = main([*args.split(), "--run-root", str(tmp_path)])
    assert RUNS_MISTAKES[args] in _one_error_line(capsys, rc)
    assert not any(tmp_path.iterdir())  # refused before a run folder exists


def test_runs_cli_a_finished_run_never_answers_for_other_settings(capsys, tmp_path):
    """The first row of the issue: a smoke request with ca_epochs=3 in the folder of a finished run made with
    other settings is refused, naming the keys; the finished run is untouched."""
    from aelib.config import make_config
    from aelib.runs import execute, main

    data = make_fake_corpus(tmp_path / "fake")
    common = ["--task", "kws", "--paradigm", "noisy", "--preset", "smoke", "--data-dir", str(data),
              "--run-root", str(tmp_path / "runs")]
    cfg = make_config("smoke", task="kws", paradigm="noisy", data_dir=str(data), run_root=str(tmp_path / "runs"),
                      test_snrs=(0.0,))
    execute(cfg, progress=False)
    before = (cfg.run_dir / "metrics.json").read_bytes()
    line = _one_error_line(capsys, main([*common, "--set", "test_snrs=[0]", "ca_epochs=3"]))
    assert "finished run made with other settings (ca_epochs)" in line and str(cfg.run_dir) in line
    assert main([*common, "--set", "test_snrs=[0]"]) == 0  # the same settings: its results, as they are
    assert json.loads(capsys.readouterr().out) == json.loads(before)["headline"]
    assert (cfg.run_dir / "metrics.json").read_bytes() == before


def test_study_cli_refuses_bad_values_before_any_notebook(capsys, tmp_path):
    from aelib.study import main

    for sets, what in ((["lr=abc"], "lr expects a number > 0"), (["asr:batch_size=big"], "batch_size expects"),
                       (["kws/joint:joint_lambda=-1"], "joint_lambda")):
        rc = main(["--preset", "smoke", "--run-root", str(tmp_path), "--quiet", "--set", *sets])
        assert what in _one_error_line(capsys, rc)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("module, args, what", [
    ("aelib.corpora.__main__", ["summary", "{tmp}/nowhere"], "no finished embedded corpus"),
    ("aelib.corpora.__main__", ["adapt", "speechcommands", "{tmp}/nowhere", "--out", "{tmp}/out"], "nowhere"),
    ("aelib.ablations", ["--run-root", "{tmp}/nowhere", "--tables-only"], "no finished ablation"),
])
def test_other_package_clis_name_the_mistake(module, args, what, capsys, tmp_path):
    import importlib

    main = importlib.import_module(module).main
    rc = main([a.format(tmp=tmp_path) for a in args])
    assert what in _one_error_line(capsys, rc)
    assert not (tmp_path / "nowhere").exists()  # nothing written where the user pointed by mistake


def test_scripts_name_the_mistake(tmp_path):
    for script, args, what in (("report.py", ["--study", str(tmp_path / "nowhere"), "--check"], "no study at"),
                               ("compare_studies.py", [str(tmp_path / "a"), str(tmp_path / "b")], "no study folder"),
                               ("equal_runs.py", [str(tmp_path)], "usage"),
                               ("val_score.py", [str(tmp_path / "nowhere")], "no run folder at"),
                               ("test_sampling.py", [str(tmp_path / "nowhere")], "no run folder at"),
                               ("merge_tables.py", [str(tmp_path / "t"), "--retrained", "ser"], "does not exist")):
        p = subprocess.run([sys.executable, f"scripts/{script}", *args], cwd=REPO, capture_output=True, text=True)
        err = p.stderr.strip().splitlines()
        assert p.returncode == USAGE_EXIT and len(err) == 1 and err[0].startswith("error: ") and what in err[0], \
            (script, p.stderr)


def test_as_the_user_types_it_one_line_and_no_traceback():
    p = subprocess.run([sys.executable, "-m", "aelib.runs", "--task", "kwz", "--paradigm", "clean"], cwd=REPO,
                       capture_output=True, text=True)
    assert p.returncode == USAGE_EXIT and p.stderr.strip().splitlines() == [
        "error: Config.task = 'kwz': unknown task, expected one of 'kws', 'asr', 'ser', 'asc'"]


def test_a_bug_keeps_its_traceback():
    @guard
    def buggy(argv=None):
        return {}["missing"]

    @guard
    def mistaken(argv=None):
        raise UserError("two\nlines")

    with pytest.raises(KeyError):
        buggy()
    assert mistaken() == USAGE_EXIT


def test_equal_runs_models_compares_weights_not_configs(tmp_path):
    import torch

    mod = load_script("equal_runs")

    def save(study, cfg, w):
        p = tmp_path / study / "kws" / "noisy" / "seed0" / "checkpoints" / "best.th"
        p.parent.mkdir(parents=True)
        torch.save({"config": cfg, "ae": None, "ca": {"state": {"w": w}}}, p)

    save("a", {"eval_seed": -1}, torch.ones(3))
    save("b", {"eval_seed": 0}, torch.ones(3))  # another evaluation setting, the same weights
    save("c", {"eval_seed": -1}, torch.tensor([1.0, 1.0, 1.0 + 1e-7]))
    assert mod.compare_models(tmp_path / "a", tmp_path / "b") == []
    assert mod.compare_models(tmp_path / "a", tmp_path / "c") == ["kws/noisy/seed0: models differ"]
