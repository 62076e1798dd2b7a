"""Real recorded audio from Debian packages: fetching, extracting, decoding, caching.

This module owns everything the embedded corpus takes from the Debian archive (DATA.md): it fetches a
package with ``apt-get download`` into a cache, unpacks it with ``dpkg -x`` (no installation), decodes
the files it needs to 16 kHz mono float32 and keeps the decoded arrays as ``.npy`` so that later builds
skip decoding. It also owns the check for the system tools the builder shells out to, so that a missing
tool gives one clear error naming the tool and the fix.

Cache layout (``$AELIB_CACHE``, default ``~/.cache/aelib``)::

    debs/<pkg>_<version>_all.deb       what apt-get download fetched (deleted once unpacked)
    debs/<pkg>/                         the dpkg -x tree (+ .extracted marker naming the .deb)
    decoded/<pkg>_<version>/<file>.npy  16 kHz mono float32, one per decoded source file

A corrupt or silent source file is skipped with a warning naming the file (never a silent drop).
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import SAMPLE_RATE, is_silent, resample, to_mono
from ..errors import UserError
from ..files import atomic_open


class SourceError(UserError, RuntimeError):
    """A tool or package the corpus builder needs is missing; the message names it and the fix."""


# tool -> Debian package(s) that provide it (what the fix line installs)
TOOL_PACKAGES = {
    "espeak-ng": "espeak-ng",
    "flite": "flite",
    "festival": "festival festvox-kdlpc16k festvox-us-slt-hts",
    "apt-get": "apt",
    "dpkg": "dpkg",
}

# Debian packages the builder reads (all "Architecture: all" data packages of Debian 12)
PACKAGES = {
    "en": "asterisk-core-sounds-en-wav",  # one real female speaker (Allison), 8 kHz prompts + digits
    "es": "asterisk-core-sounds-es-wav",  # Spanish prompts (babble material)
    "fr": "asterisk-core-sounds-fr-wav",  # French prompts (babble material)
    "ufoai": "ufoai-sound",  # ambience loops inside a zip (0snd.pk3)
    "hedgewars": "hedgewars-data",  # character voice packs (English, and non-English for babble)
    "moh": "asterisk-moh-opsound-wav",  # music-on-hold tracks
}

# of a big package, keep only what the builder reads (hedgewars-data unpacks to 160 MB, voices are 15 MB)
KEEP_ONLY = {"hedgewars-data": ("usr/share/games/hedgewars/Data/Sounds/voices",)}

ASTERISK_DIRS = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June"}
HEDGEWARS_VOICES = "usr/share/games/hedgewars/Data/Sounds/voices"
UFOAI_PK3 = "usr/share/games/ufoai/base/0snd.pk3"
MOH_DIR = "usr/share/asterisk/moh"


def cache_root() -> Path:
    """$AELIB_CACHE, else ~/.cache/aelib (outside git; safe to delete, it is rebuilt on demand)."""
    return Path(os.environ.get("AELIB_CACHE") or Path.home() / ".cache" / "aelib")


def require_tools(*names: str) -> dict[str, str]:
    """Resolve system tools on PATH; raise one SourceError listing every missing tool and the fix."""
    found = {n: shutil.which(n) for n in names}
    missing = [n for n, p in found.items() if p is None]
    if missing:
        pkgs = " ".join(dict.fromkeys(TOOL_PACKAGES.get(n, n) for n in missing))
        raise SourceError(
            f"the embedded corpus builder needs {', '.join(missing)}, not found on PATH. "
            f"Fix: `sudo apt-get install -y {pkgs}` (Debian/Ubuntu), then rerun the build."
        )
    return {n: str(p) for n, p in found.items()}


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def _find_deb(debs: Path, pkg: str) -> Path | None:
    hits = sorted(debs.glob(f"{pkg}_*.deb"))
    return hits[-1] if hits else None


def _prune(tree: Path, keep: tuple[str, ...] | None) -> None:
    """Delete every file of ``tree`` outside the ``keep`` sub-paths (None keeps everything)."""
    if not keep:
        return
    for path in sorted(tree.rglob("*"), reverse=True):
        rel = path.relative_to(tree).as_posix()
        if any(rel == k or rel.startswith(k + "/") or k.startswith(rel + "/") for k in keep):
            continue
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def package_root(pkg: str) -> Path:
    """The unpacked tree of Debian package ``pkg``, fetching and unpacking it into the cache once."""
    debs = cache_root() / "debs"
    dest = debs / pkg
    marker = dest / ".extracted"
    if marker.exists():
        return dest
    debs.mkdir(parents=True, exist_ok=True)
    deb = _find_deb(debs, pkg)
    if deb is None:
        require_tools("apt-get")
        res = _run(["apt-get", "download", pkg], cwd=debs)
        deb = _find_deb(debs, pkg)
        if res.returncode != 0 or deb is None:
            raise SourceError(
                f"could not download Debian package {pkg!r} with `apt-get download {pkg}`: "
                f"{(res.stderr or res.stdout).strip()[-400:]}. Fix: run `sudo apt-get update` (and check access "
                f"to a Debian 12 mirror), or place {pkg}_*.deb into {debs} by hand."
            )
    require_tools("dpkg")
    tmp = Path(tempfile.mkdtemp(prefix=f".{pkg}-", dir=debs))
    try:
        res = _run(["dpkg", "-x", str(deb), str(tmp)])
        if res.returncode != 0:
            raise SourceError(
                f"`dpkg -x {deb}` failed: {res.stderr.strip()[-400:]}. Fix: delete {deb} and rerun "
                "(it is downloaded again)."
            )
        _prune(tmp, KEEP_ONLY.get(pkg))
        (tmp / ".extracted").write_text(deb.name + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
        deb.unlink()  # the unpacked tree (and its marker, naming the version) is all that is needed
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def package_version(pkg: str) -> str:
    """Version of the cached .deb (from its file name), fetching the package if needed."""
    name = (package_root(pkg) / ".extracted").read_text().strip()
    return name.split("_")[1] if name.count("_") >= 2 else name


def _decode(data: bytes | Path, label: str) -> np.ndarray | None:
    """Decode to 16 kHz mono float32; warn (naming ``label``) and return None if corrupt or silent."""
    try:
        wave, sr = sf.read(io.BytesIO(data) if isinstance(data, bytes) else str(data), dtype="float32")
    except Exception as exc:  # soundfile raises several types on corrupt data
        warnings.warn(f"skipping source {label}: cannot decode ({exc})", stacklevel=3)
        return None
    wave = resample(to_mono(wave), sr, SAMPLE_RATE) if wave.size else wave
    if wave.size < SAMPLE_RATE // 20 or not np.all(np.isfinite(wave)) or is_silent(wave):
        warnings.warn(f"skipping source {label}: empty, non-finite or silent", stacklevel=3)
        return None
    return np.ascontiguousarray(wave, dtype=np.float32)


def _cached(pkg: str, rel: str, read) -> np.ndarray | None:
    """Decode once per (package version, file); the .npy cache is written atomically."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", rel)
    path = cache_root() / "decoded" / f"{pkg}_{package_version(pkg)}" / f"{safe}.npy"
    if path.exists():
        return np.load(path)
    wave = _decode(read(), f"{pkg}:{rel}")
    if wave is None:
        return None
    with atomic_open(path, "wb", suffix=".npy") as f:
        np.save(f, wave)
    return wave


def load_file(pkg: str, rel: str) -> np.ndarray | None:
    """A file of package ``pkg`` (path relative to the unpacked tree) as 16 kHz mono float32."""
    path = package_root(pkg) / rel
    if not path.exists():
        warnings.warn(f"skipping source {pkg}:{rel}: not in the package", stacklevel=2)
        return None
    return _cached(pkg, rel, lambda: path)


def asterisk(lang: str, name: str) -> np.ndarray | None:
    """An asterisk prompt, e.g. asterisk("en", "digits/7") (8 kHz originals, resampled)."""
    return load_file(PACKAGES[lang], f"usr/share/asterisk/sounds/{ASTERISK_DIRS[lang]}/{name}.wav")


def asterisk_names(lang: str, min_seconds: float = 0.0) -> list[str]:
    """Sorted prompt names (without .wav) of an asterisk language pack, optionally by minimum length."""
    root = package_root(PACKAGES[lang]) / "usr/share/asterisk/sounds" / ASTERISK_DIRS[lang]
    names = []
    for p in sorted(root.rglob("*.wav")):
        if min_seconds and sf.info(str(p)).duration < min_seconds:
            continue
        names.append(p.relative_to(root).with_suffix("").as_posix())
    return names


def _folder_audio(key: str, folder: str, pattern: str, stem: bool) -> list[tuple[str, np.ndarray]]:
    """(name, audio) of the files matching ``pattern`` in a package folder, sorted; unusable ones skipped."""
    pkg = PACKAGES[key]
    out = []
    for p in sorted((package_root(pkg) / folder).glob(pattern)):
        wave = load_file(pkg, f"{folder}/{p.name}")
        if wave is not None:
            out.append((p.stem if stem else p.name, wave))
    return out


def hedgewars_pack(pack: str) -> list[tuple[str, np.ndarray]]:
    """(file name, audio) of one hedgewars voice pack, sorted by name; unusable files are skipped."""
    return _folder_audio("hedgewars", f"{HEDGEWARS_VOICES}/{pack}", "*.ogg", stem=False)


def ufoai_ambience(name: str) -> np.ndarray | None:
    """An ambience loop from ufoai's 0snd.pk3 zip, e.g. ufoai_ambience("fire1")."""
    pkg = PACKAGES["ufoai"]
    member = f"sound/ambience/{name}.ogg"

    def read() -> bytes:
        with zipfile.ZipFile(package_root(pkg) / UFOAI_PK3) as z:
            return z.read(member)

    try:
        return _cached(pkg, member, read)
    except KeyError:
        warnings.warn(f"skipping source {pkg}:{member}: not in 0snd.pk3", stacklevel=2)
        return None


def moh_tracks() -> list[tuple[str, np.ndarray]]:
    """(file name, audio) of the music-on-hold tracks, sorted by name."""
    return _folder_audio("moh", MOH_DIR, "*.wav", stem=True)


def versions() -> dict[str, str]:
    """Versions of every Debian package used (recorded in build_info.json)."""
    return {pkg: package_version(pkg) for pkg in PACKAGES.values()}
