"""The training paradigms: what trains on what, and which loss reaches which weights.

A paradigm is a list of :class:`Phase` objects; the one trainer (:mod:`aelib.train`) runs them in
order. Each phase has a *step* that says how a batch becomes a loss, and :func:`step_loss` is the
single place where that is decided:

``ae``           AE alone, by its waveform loss on (noisy -> clean). CA untouched.
``ae_weighted``  the paper's AE phase: per-sample AE losses weighted by importance computed from the
                 frozen CA's loss on the *enhanced* sample; weights are detached, so no CA gradient
                 reaches the AE, and the CA is neither updated nor put in training mode.
``ca``           CA alone, by its task loss, on clean, noisy, or *detached* enhanced audio.
``joint``        L = L_AE + lambda * L_CA, the CA loss back-propagating through the AE.

Paradigms (DESIGN.md):
``clean``      ca_clean
``noisy``      ca_noisy
``cascade``    ae_pretrain -> ca on enhanced (AE frozen); with ``budget_matched`` the AE gets
               ``rounds x ae_epochs_per_round`` more epochs and the CA ``rounds x ca_epochs_per_round``
               more, i.e. exactly iterative's AE and CA epochs (the equal-budget ablation)
``joint``      ae_pretrain -> joint (a fresh CA, both updated)
``iterative``  ae_pretrain, ca_clean -> rounds x (ae_weighted, ca on enhanced)
``noisereduce`` the classical peer: ca on the output of noisereduce's spectral gating (no AE training)

``ae_pretrain`` and ``ca_clean`` are *shared* phases: the same computation for several paradigms,
done once per task and seed and reused (see :mod:`aelib.train`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .config import FRONTEND_PARADIGMS, Config
from .importance import importance_weights
from .losses import ae_loss as ae_loss_fn

STEPS = ("ae", "ae_weighted", "ca", "joint")
CA_INPUTS = ("clean", "noisy", "enhanced")


@dataclass(frozen=True)
class Phase:
    name: str  # unique within a paradigm; shared phases have the same name everywhere
    step: str  # ae | ae_weighted | ca | joint
    epochs: int
    ca_input: str = "noisy"  # what the CA sees in ca / validation: clean | noisy | enhanced
    select_by: str = "ca"  # best state by validation "ca" metric or "ae" loss
    shared: bool = False  # identical across paradigms: computed once per task and seed

    @property
    def trains(self) -> tuple[str, ...]:
        return {"ae": ("ae",), "ae_weighted": ("ae",), "ca": ("ca",), "joint": ("ae", "ca")}[self.step]


def phases(cfg: Config) -> list[Phase]:
    """The phase list of ``cfg.paradigm``, with epochs from the config."""
    ae_pre = Phase("ae_pretrain", "ae", cfg.ae_epochs, ca_input="enhanced", select_by="ae", shared=True)
    ca_clean = Phase("ca_clean", "ca", cfg.ca_epochs, ca_input="clean", shared=True)
    if cfg.paradigm == "clean":
        return [ca_clean]
    if cfg.paradigm == "noisy":
        return [Phase("ca_noisy", "ca", cfg.ca_epochs, ca_input="noisy")]
    if cfg.paradigm == "cascade":
        if not cfg.budget_matched:
            return [ae_pre, Phase("ca_enhanced", "ca", cfg.ca_epochs, ca_input="enhanced")]
        extra_ae, extra_ca = cfg.rounds * cfg.ae_epochs_per_round, cfg.rounds * cfg.ca_epochs_per_round
        return [ae_pre, Phase("ae_more", "ae", extra_ae, ca_input="enhanced", select_by="ae"),
                Phase("ca_enhanced", "ca", cfg.ca_epochs + extra_ca, ca_input="enhanced")]
    if cfg.paradigm == "noisereduce":
        return [Phase("ca_gated", "ca", cfg.ca_epochs, ca_input="enhanced")]
    if cfg.paradigm == "joint":
        return [ae_pre, Phase("joint", "joint", cfg.ca_epochs, ca_input="enhanced")]
    if cfg.paradigm == "iterative":
        out = [ae_pre, ca_clean]
        for r in range(1, cfg.rounds + 1):
            out.append(Phase(f"round{r}_ae", "ae_weighted", cfg.ae_epochs_per_round, ca_input="enhanced"))
            out.append(Phase(f"round{r}_ca", "ca", cfg.ca_epochs_per_round, ca_input="enhanced"))
        return out
    raise ValueError(f"unknown paradigm {cfg.paradigm!r}")


def uses_ae(paradigm: str) -> bool:
    """Whether the run has a front-end (a learned AE, or noisereduce's gate for ``noisereduce``)."""
    return paradigm in FRONTEND_PARADIGMS


def ca_input(phase: Phase, batch: dict[str, Any], ae: nn.Module | None) -> torch.Tensor:
    """The waveform the CA sees; enhanced audio is computed without gradient (the AE is frozen)."""
    if phase.ca_input == "clean":
        return batch["clean"]
    if phase.ca_input == "noisy" or ae is None:
        return batch["noisy"]
    was_training = ae.training
    ae.eval()
    with torch.no_grad():
        out = ae(batch["noisy"])
    ae.train(was_training)
    return out


def _mask_padding(wave: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Zero the padded tail so that variable-length batches do not leak padding into losses."""
    t = torch.arange(wave.shape[-1], device=wave.device)
    return wave * (t[None, :] < lengths[:, None])


def step_loss(
    phase: Phase,
    batch: dict[str, Any],
    ae: nn.Module | None,
    ca: nn.Module,
    task: Any,
    cfg: Config,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Scalar training loss of one batch for ``phase`` plus logs (per-sample weights for ae_weighted).

    Callers set train/eval modes and the optimiser's parameter set; this function decides which
    graph exists, so it alone fixes which gradient can reach which weights.
    """
    clean, noisy, lengths = batch["clean"], batch["noisy"], batch["length"]
    profile = batch.get("profile")  # speaker profiles (ser_speaker_norm), else None
    info: dict[str, Any] = {}
    if phase.step in ("ae", "ae_weighted", "joint"):
        if ae is None:
            raise ValueError(f"phase {phase.name} needs an AE")
        est = _mask_padding(ae(noisy), lengths)
        l_ae = ae_loss_fn(cfg.ae_loss)(est, clean, noisy)
        if phase.step == "ae":
            return l_ae.mean(), info
        if phase.step == "ae_weighted":
            with torch.no_grad():  # the CA only scores the sample: no graph, so no CA gradient to the AE
                l_ca = task.loss(task.forward(ca, est.detach(), lengths, profile), batch, cfg)
            w = importance_weights(l_ca, cfg.importance, w_max=cfg.importance_w_max,
                                   temperature=cfg.importance_temperature)
            info["weights"] = w.detach().cpu()
            info["ca_loss"] = l_ca.detach().cpu()
            return (w * l_ae).sum() / w.sum().clamp_min(1e-8), info
        l_ca = task.loss(task.forward(ca, est, lengths, profile), batch, cfg)  # joint: CA loss flows into the AE
        info["ae_loss"] = float(l_ae.mean().detach())
        info["ca_loss"] = float(l_ca.mean().detach())
        return l_ae.mean() + cfg.joint_lambda * l_ca.mean(), info
    if phase.step == "ca":
        x = ca_input(phase, batch, ae)
        return task.loss(task.forward(ca, x, lengths, profile), batch, cfg).mean(), info
    raise ValueError(f"unknown step {phase.step!r}; choose one of {STEPS}")
