"""Bad-input behaviour of aelib.audio: one clear error or warning naming the file and the fix."""
import numpy as np
import pytest
import soundfile as sf

from aelib.audio import (
    AudioError,
    as_waveform,
    fit_length,
    is_silent,
    load_audio,
    write_audio,
)


def _tone(sr=16000, secs=0.5, f=440.0):
    t = np.arange(int(sr * secs)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def test_roundtrip_16k(tmp_path):
    p = tmp_path / "a.wav"
    write_audio(p, _tone())
    x = load_audio(p)
    assert x.dtype == np.float32 and x.shape == (8000,)
    assert np.max(np.abs(x - _tone())) < 1e-3  # PCM_16 quantisation only


def test_wrong_rate_is_resampled_with_warning(tmp_path):
    p = tmp_path / "a44.wav"
    sf.write(p, _tone(sr=44100), 44100)
    with pytest.warns(UserWarning, match="resampling to 16000"):
        x = load_audio(p)
    assert abs(len(x) - 8000) <= 1


def test_stereo_is_mixed_down_with_warning(tmp_path):
    p = tmp_path / "st.wav"
    t = _tone()
    sf.write(p, np.stack([t, -t * 0 + t], axis=1), 16000)
    with pytest.warns(UserWarning, match="mixing down"):
        x = load_audio(p)
    assert x.ndim == 1 and np.allclose(x, t, atol=1e-3)


def test_corrupt_file_names_file(tmp_path):
    p = tmp_path / "bad.wav"
    p.write_bytes(b"RIFF\x00\x00not really a wav")
    with pytest.raises(AudioError, match="bad.wav") as e:
        load_audio(p)
    msg = str(e.value)  # soundfile's own text ends with '.', ours must not double it
    assert ".." not in msg and msg.endswith("Re-create or remove the file.") and "\n" not in msg


@pytest.mark.parametrize("raw, message", [
    ("noise clip is empty", "noise clip is empty."),
    ("Format not recognised.. Re-create or remove the file.", "Format not recognised. Re-create or remove the file."),
    ("done.", "done."),
    ("what?.", "what?"),
    ("two\nlines  here", "two lines here."),
])
def test_audio_error_messages_are_one_line_with_one_full_stop(raw, message):
    assert str(AudioError(raw)) == message


@pytest.mark.parametrize("sr", [8000, 44100, np.int32(22050), 48000.0])
def test_as_waveform_resamples_any_positive_whole_rate(sr):
    x = as_waveform(_tone(sr=int(sr)), sr)
    assert x.dtype == np.float32 and abs(len(x) - 8000) <= 1


def test_as_waveform_pcm_scaling_follows_soundfile(tmp_path):
    p = tmp_path / "a.wav"
    write_audio(p, _tone())
    pcm, _ = sf.read(p, dtype="int16")
    assert np.array_equal(as_waveform(pcm, 16000), load_audio(p))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    sf.write(p, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="no samples"):
        load_audio(p)


def test_silence_and_fit_length():
    assert is_silent(np.zeros(100)) and not is_silent(_tone())
    assert fit_length(np.ones(10), 4).shape == (4,)
    assert fit_length(np.ones(3), 5).tolist() == [1, 1, 1, 0, 0]


def test_write_is_atomic_no_tmp_left(tmp_path):
    write_audio(tmp_path / "x.wav", _tone())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]
