"""Two CPU processes (gloo) train like one process on the same global batch (aelib.distributed)."""
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from aelib.config import make_config
from aelib.distributed import GlobalBatchSampler

from .fake_corpus import make_fake_corpus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cfg(root, run_root, paradigm):
    # speed perturbation off: it gives asr clips different lengths, and each rank pads only its own share of a
    # batch, so the AE's BatchNorm statistics would differ by padding (measured 2e-3), not by semantics
    return make_config("smoke", task="asr", paradigm=paradigm, data_dir=str(root), run_root=str(run_root),
                       batch_size=4, ca_epochs=2, ae_epochs=1, test_snrs=(0.0,), max_eval_clips=2, speed_perturb=0.0)


def _worker(rank, world, port, root, run_root, paradigm):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    _no_dropout()
    from aelib.runs import execute

    execute(_cfg(root, run_root, paradigm), progress=False)
    torch.distributed.destroy_process_group()


def _no_dropout():
    """Dropout masks depend on how many samples a process draws for, so they differ by design: off here."""
    torch.nn.Dropout.forward = lambda self, x: x


def test_sampler_shares_cover_the_global_batches():
    single = list(GlobalBatchSampler(10, 4, 3, True, 1, 0))
    shares = [list(GlobalBatchSampler(10, 4, 3, True, 2, r)) for r in range(2)]
    assert [a + b for a, b in zip(*shares)] == single
    with pytest.raises(ValueError, match="divisible"):
        GlobalBatchSampler(10, 5, 0, True, 2, 0)


@pytest.mark.parametrize("paradigm", ["iterative"])  # AE, CA and importance phases; noisy also passes
def test_two_processes_match_one(paradigm, tmp_path, monkeypatch):
    # asr: LayerNorm only, so per-rank statistics cannot differ in the CA; iterative adds the AE (BatchNorm,
    # so per-rank batch statistics) and per-process importance weights: a looser tolerance
    root = make_fake_corpus(tmp_path / "corpus")
    torch.set_num_threads(1)
    monkeypatch.setattr(torch.nn.Dropout, "forward", lambda self, x: x)
    from aelib.runs import execute

    execute(_cfg(root, tmp_path / "single", paradigm), progress=False)
    mp.start_processes(_worker, args=(2, _free_port(), root, tmp_path / "ddp", paradigm), nprocs=2,
                       start_method="spawn", join=True)
    rel = "default/asr/{}/seed0/checkpoints/best.th".format(paradigm)
    a = torch.load(tmp_path / "single" / rel, weights_only=False)
    b = torch.load(tmp_path / "ddp" / rel, weights_only=False)
    # relative L2 distance of all CA weights: Adam turns float rounding in near-zero gradients (e.g. a conv bias
    # followed by LayerNorm) into full-size steps, so element-wise comparison would test rounding, not semantics
    sa, sb = a["ca"]["state_dict"], b["ca"]["state_dict"]
    va = torch.cat([v.flatten() for k, v in sa.items() if v.is_floating_point()])
    vb = torch.cat([sb[k].flatten() for k, v in sa.items() if v.is_floating_point()])
    err = float((va - vb).norm() / va.norm())
    assert err < 1e-3, err  # measured: noisy 6e-5, iterative 1.5e-4
    assert (tmp_path / "ddp" / rel).parent.parent.joinpath("metrics.json").exists()


def test_length_bucketed_batches_cover_everything_once_with_less_padding():
    import random

    rng = random.Random(0)
    lengths = [rng.uniform(0.9, 4.8) for _ in range(203)]
    plain = list(GlobalBatchSampler(203, 8, 5, True, 1, 0))
    sortish = list(GlobalBatchSampler(203, 8, 5, True, 1, 0, lengths=lengths, buckets=10))
    assert sorted(i for b in sortish for i in b) == list(range(203)) and len(sortish) == len(plain) == 26
    assert sortish == list(GlobalBatchSampler(203, 8, 5, True, 1, 0, lengths=lengths, buckets=10))  # seeded
    padded = lambda batches: sum(max(lengths[i] for i in b) * len(b) for b in batches)  # noqa: E731
    assert padded(sortish) < 0.85 * padded(plain)
    assert list(GlobalBatchSampler(203, 8, 5, False, 1, 0, lengths=lengths, buckets=10))[0] == list(range(8))
