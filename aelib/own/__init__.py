"""Your own downstream model: fit a front-end to a recogniser you bring, trainable, frozen or a black box.

    from aelib.own import BlackBox, ClipSet, Downstream, NoiseSet, arms, evaluate, fit_frontend, summary

    clips = ClipSet.from_folder("my_clips")            # targets from sub-folder names, or from_manifest(csv)
    noise = NoiseSet.from_folder("my_noise")
    (tr, va, te), (ntr, nva, nte) = clips.split(), noise.split()
    model = Downstream(my_module, loss=lambda m, x, n, y: per_sample_loss, trainable=False)  # or
    model = BlackBox(lambda waves, targets: per_utterance_errors)
    fits = {p: fit_frontend(model, tr, va, ntr, nva, paradigm=p) for p in ("cascade", "iterative")}
    rows = evaluate(arms(model, fits), te, nte)         # one row per arm, test clip and SNR
    print(summary(rows))

Which paradigms fit which model: :data:`aelib.own.downstream.PARADIGMS`; docs/own_model.md is the guide.
"""
from .data import ClipSet, NoiseSet, OwnDataError, mixtures
from .downstream import PARADIGMS, BlackBox, Downstream, DownstreamError
from .evaluate import evaluate, paired, summary
from .fit import Fit, FitSettings, FrontEnd, arms, fit_frontend

__all__ = ["PARADIGMS", "BlackBox", "ClipSet", "Downstream", "DownstreamError", "Fit", "FitSettings", "FrontEnd",
           "NoiseSet", "OwnDataError", "arms", "evaluate", "fit_frontend", "mixtures", "paired", "summary"]
