"""Evaluation of a trained pipeline over the SNR grid, noise splits and speech kinds.

One row per test utterance and condition goes to ``predictions.csv`` (the mixture record, the
reference, the prediction, per-utterance correctness or WER, and AE quality with ``input_``
columns for the unprocessed mixture beside the enhanced ones), and the means per cell go to
``metrics.json``. Per-utterance rows are what confidence intervals and paired tests between
paradigms are computed from (:mod:`aelib.metrics`).
"""
from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import layout, metrics
from .config import Config, knob_names, settings_hash
from .data import DataBundle
from .device import pick_device, to_device
from .files import atomic_write_json

CLEAN = "clean"  # the SNR label of the clean condition


def predict_batch(task: Any, ca: nn.Module, wave: torch.Tensor, lengths: torch.Tensor, labels: list[str],
                  profile: torch.Tensor | None = None) -> list[str]:
    """CA predictions (class names or transcripts) for a batch of waveforms (``profile``: speaker profiles)."""
    return task.decode(task.forward(ca, wave, lengths, profile), labels, ca)


def conditions(cfg: Config, data: DataBundle) -> list[tuple[str, str | None, float | None]]:
    """(speech kind, noise split, snr) cells: clean once per kind, then every split x SNR."""
    kinds = data.test_kinds()
    splits = [s for s in ("test_seen", "test_unseen") if s in data.noise]
    out: list[tuple[str, str | None, float | None]] = []
    for kind in kinds:
        out.append((kind, None, None))
        out.extend((kind, s, snr) for s in splits for snr in cfg.test_snrs)
    return out


def signal_quality(sig: np.ndarray, clean: np.ndarray, sr: int, with_pesq: bool, with_stoi: bool = True,
                   prefix: str = "") -> dict[str, float]:
    """SI-SDR, and optionally STOI and wide-band PESQ, of one signal against the clean reference.

    PESQ (~45 ms per second of audio) and STOI are what make evaluation slow on a CPU, so callers
    compute them on a fixed subset of utterances (``Config.ae_metric_clips``); SI-SDR is always computed.
    """
    out = {f"{prefix}sisdr": float(metrics.si_sdr(sig[None], clean[None])[0])}
    if with_stoi:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[f"{prefix}stoi"] = float(metrics.stoi(sig[None], clean[None], sr)[0])
            if with_pesq:
                out[f"{prefix}pesq"] = float(metrics.pesq_wb(sig[None], clean[None], sr)[0])
    return out


#: the settings that fix a run's test mixtures and what is scored on them (the Config fields tagged
#: ``input_quality``): what the input-quality cache is keyed by
INPUT_QUALITY_KEYS = knob_names(input_quality=True)


class InputQuality:
    """The unprocessed mixtures' quality (the ``input_`` columns), computed once per task and seed.

    Every paradigm of a task and seed is tested on the same mixtures, so these numbers are equal across
    its AE runs, and PESQ and STOI of the input were half of an AE run's metric time. The first run to
    evaluate a cell stores them under ``<run_root>/_shared/<task>/seed<k>/`` (one JSON per settings key,
    merged on write, so parallel workers only ever repeat work, never lose it); later runs read them.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.values: dict[str, dict[str, float]] = self._read()
        self.computed = 0

    @classmethod
    def for_run(cls, cfg: Config) -> InputQuality:
        d = cfg.to_dict()
        key = settings_hash({k: d[k] for k in INPUT_QUALITY_KEYS})
        return cls(layout.shared_dir(cfg.run_root, cfg.task, cfg.seed) / f"input_quality-{key}.json")

    def _read(self) -> dict[str, dict[str, float]]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):  # a damaged cache only costs time
            return {}

    def get(self, key: str, noisy: np.ndarray, clean: np.ndarray, sr: int, with_pesq: bool,
            with_stoi: bool) -> dict[str, float]:
        if key not in self.values:
            self.values[key] = signal_quality(noisy, clean, sr, with_pesq, with_stoi, prefix="input_")
            self.computed += 1
        return self.values[key]

    def save(self) -> None:
        """Merge with what other workers wrote meanwhile, then replace the file atomically."""
        if self.path is None or not self.computed:
            return
        self.values = {**self._read(), **self.values}
        atomic_write_json(self.path, self.values)
        self.computed = 0


@torch.no_grad()
def evaluate(cfg: Config, data: DataBundle, ae: nn.Module | None, ca: nn.Module, *,
             progress: bool = True, input_quality: InputQuality | None = None,
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the test grid; returns (per-utterance rows, per-cell summary rows).

    ``input_quality`` defaults to the run's shared cache (:class:`InputQuality`); pass
    ``InputQuality(None)`` to compute every input metric afresh.
    """
    device = pick_device(cfg.device)
    inputs = input_quality if input_quality is not None else InputQuality.for_run(cfg)
    task = data.task
    data.attach_profiles(ca)  # speaker_norm only, once per DataBundle
    ca = ca.to(device).eval()
    if ae is not None:
        ae = ae.to(device).eval()
    rows: list[dict[str, Any]] = []
    cells: list[dict[str, Any]] = []
    grid = conditions(cfg, data)
    for kind, split, snr in tqdm(grid, desc=f"evaluate {cfg.task}/{cfg.paradigm}", disable=not progress):
        ds = data.test_set(kind, split, snr)
        cell_rows: list[dict[str, Any]] = []
        for batch in data.loader(ds, shuffle=False):
            batch = to_device(batch, device)
            x = batch["noisy"]
            enh = ae(x) if ae is not None else x
            preds = predict_batch(task, ca, enh, batch["length"], data.labels, batch.get("profile"))
            for j, i in enumerate(batch["index"].tolist()):
                n = int(batch["length"][j])
                r = ds.rows[i]
                row = {"clip": r["path"], "source": r["source"], "kind": kind, "noise_split": split or CLEAN,
                       "noise_type": data.noise[split].types[batch["noise_path"][j]] if split else "",
                       "noise_path": batch["noise_path"][j], "noise_offset": batch["noise_offset"][j],
                       "snr": CLEAN if snr is None else snr, "ref": r["label"], "pred": preds[j],
                       "score": task.per_sample_correct(preds[j], r["label"])}
                if ae is not None and split is not None:
                    full = cfg.ae_metric_clips <= 0 or len(cell_rows) < cfg.ae_metric_clips  # first N, every run alike
                    clean = batch["clean"][j, :n].float().cpu().numpy()
                    pesq = cfg.eval_pesq and full
                    row.update(signal_quality(enh[j, :n].float().cpu().numpy(), clean, cfg.sample_rate, pesq, full))
                    key = "|".join(map(str, (kind, split, snr, r["path"], row["noise_path"], row["noise_offset"], n,
                                             pesq, full)))
                    row.update(inputs.get(key, x[j, :n].float().cpu().numpy(), clean, cfg.sample_rate, pesq, full))
                cell_rows.append(row)
        inputs.save()
        rows.extend(cell_rows)
        cells.append(summarise_cell(task, data.labels, kind, split, snr, cell_rows))
    return rows, cells


def _nanmean(xs: list[float]) -> float:
    a = np.asarray([x for x in xs if x is not None], dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else math.nan


def summarise_cell(task: Any, labels: list[str], kind: str, split: str | None, snr: float | None,
                   rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Task scores and mean AE quality (with improvements over the input) for one cell."""
    cell: dict[str, Any] = {"kind": kind, "noise_split": split or CLEAN, "snr": CLEAN if snr is None else snr,
                            "n": len(rows)}
    if rows:
        cell.update(task.score([r["pred"] for r in rows], [r["ref"] for r in rows], labels))
    for m in ("sisdr", "stoi", "pesq"):
        if rows and m in rows[0]:
            cell[m] = _nanmean([r.get(m) for r in rows])
            cell[f"input_{m}"] = _nanmean([r.get(f"input_{m}") for r in rows])
            cell[f"{m}_delta"] = cell[m] - cell[f"input_{m}"]
    return cell


def source_family(source: str) -> str:
    """A source's family: its name up to the first ``-``, ``:`` or ``+`` and a ``*`` (``espeak-en-us+m7`` ->
    ``espeak*``, ``ufoai:fire04`` -> ``ufoai*``); a name without one is its own family (``slt``, ``1089``)."""
    head = re.split(r"[-:+]", source, maxsplit=1)[0]
    return f"{head}*" if head and head != source else source


def by_source(task: Any, labels: list[str], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task scores per test voice (source) on clean audio and pooled over the noisy grid.

    A run's headline pools every test voice, and the embedded corpus's test voices differ in kind (one
    unseen CMU speaker, six unseen espeak voices, one real speaker): a mean over them can hide that a model
    generalises to some unseen voices and not to others. Sources of a family with several members in
    ``rows`` are scored together (:func:`source_family`: the espeak voices), so that every seed's test
    subset gives the same groups, with enough clips each. Noisy rows weigh every (SNR, noise split) cell
    alike. Clips without a speaker (``task.voiceless_labels``) are left out, and so is a task whose
    interferer is speech (asc: its sources are scene recordings).
    """
    if task.interferer == "speech":
        return []
    rows = [r for r in rows if r["ref"] not in task.voiceless_labels]
    members: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        members.setdefault((r["kind"], source_family(r["source"])), set()).add(r["source"])

    def group(r: dict[str, Any]) -> str:
        fam = source_family(r["source"])
        return fam if len(members[(r["kind"], fam)]) > 1 else r["source"]

    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        cond = CLEAN if r["noise_split"] == CLEAN else "noisy"
        groups.setdefault((r["kind"], group(r), cond), []).append(r)
    out = []
    for (kind, source, cond), rs in sorted(groups.items()):
        out.append({"kind": kind, "source": source, "condition": cond, "n": len(rs),
                    "n_sources": len({r["source"] for r in rs}),
                    **task.score([r["pred"] for r in rs], [r["ref"] for r in rs], labels)})
    return out


def headline(task: Any, cells: list[dict[str, Any]]) -> dict[str, float]:
    """A few numbers a reader wants first: clean score, mean over the noisy grid, low-SNR mean."""
    m = task.primary_metric
    out: dict[str, float] = {}
    syn = [c for c in cells if c["kind"] == "synthetic"] or cells
    clean = [c[m] for c in syn if c["noise_split"] == CLEAN and m in c]
    if clean:
        out[f"clean_{m}"] = clean[0]
    for split in ("test_seen", "test_unseen"):
        vals = [c[m] for c in syn if c["noise_split"] == split and m in c]
        low = [c[m] for c in syn if c["noise_split"] == split and m in c and float(c["snr"]) <= 0]
        if vals:
            out[f"{split}_{m}"] = float(np.mean(vals))
        if low:
            out[f"{split}_lowsnr_{m}"] = float(np.mean(low))
    for k in ("sisdr_delta", "pesq_delta", "stoi_delta"):
        vals = [c[k] for c in syn if k in c and np.isfinite(c[k])]
        if vals:
            out[f"mean_{k}"] = float(np.mean(vals))
    return out
