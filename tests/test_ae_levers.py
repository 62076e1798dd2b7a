"""scripts/ae_levers.py's noise banks: recorded files of other kinds, for training or as a validation cell."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from aelib.data import AudioCache
from tests.scripts import load_script

levers = load_script("ae_levers")


def _write(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.random.default_rng(seed).standard_normal(1600).astype(np.float32) * 0.3, 16_000)


def test_recorded_files_by_kind_once_each_and_a_val_other_bank(tmp_path):
    _write(tmp_path / "a" / "rain.wav", 0)
    _write(tmp_path / "b" / "rain.wav", 0)  # byte-identical: once
    _write(tmp_path / "b" / "owl.wav", 1)
    _write(tmp_path / "b" / "wind.wav", 2)  # not an asked-for kind
    files = levers.recorded(tmp_path, ["rain", "owl"])
    assert sorted(t for *_, t in files) == ["extra_owl", "extra_rain"]
    assert all(np.sqrt(np.mean(w.astype(np.float64) ** 2)) == pytest.approx(0.1, rel=1e-3) for _, w, _ in files)
    bundles = {t: SimpleNamespace(cache=AudioCache(16_000), noise={"val": None}) for t in ("kws", "asr")}
    assert levers.add_val_other(bundles, tmp_path, ["rain", "owl"]) == {"extra_owl": 1, "extra_rain": 1}
    bank = bundles["asr"].noise["val_other"]
    assert len(bank) == 2 and set(bank.types.values()) == {"extra_owl", "extra_rain"} and bank.lengths == [1600, 1600]
    cache = AudioCache(16_000)
    cache._cache["t0"] = np.zeros(800, np.float32)
    train = SimpleNamespace(cache=cache, noise={"train": levers.NoiseBank([{"path": "t0", "type": "fire"}], cache)})
    assert levers.shared_files(train.noise["train"], bank) == []
    levers._add_to_bank(train, "extra://owl.wav", files[0][1], "extra_owl")  # the same audio under another name
    assert levers.shared_files(train.noise["train"], bank) == [files[0][0]]
    with pytest.raises(SystemExit, match="no .wav or .ogg"):
        levers.recorded(tmp_path, ["thunder"])
