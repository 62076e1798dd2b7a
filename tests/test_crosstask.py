"""The cross-task matrix (aelib.crosstask) on a study whose runs are partly summaries only."""
import shutil

from aelib.config import make_config
from aelib.crosstask import cross_task_matrix
from aelib.runs import execute

from .fake_corpus import make_fake_corpus


def test_the_cross_task_matrix_takes_only_runs_with_models(tmp_path):
    """A partial rerun on a clone: the retrained task has its model, the committed summaries have none."""
    data = str(make_fake_corpus(tmp_path / "fake"))
    for task in ("ser", "kws"):
        execute(make_config("smoke", task=task, paradigm="iterative", data_dir=data, run_root=str(tmp_path / "runs"),
                            study="s", test_snrs=(0.0,)), progress=False)
    shutil.rmtree(tmp_path / "runs" / "s" / "kws" / "iterative" / "seed0" / "checkpoints")  # summaries only
    m = cross_task_matrix(tmp_path / "runs" / "s", max_clips=4)
    assert set(m["ca_task"]) == {"ser"} and set(m["ae_task"]) == {"none", "ser"}
