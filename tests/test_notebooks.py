"""Notebook tests: papermill smoke runs, the demo as a Voila page in headless Chromium, nbval regression.

Three layers (STYLE.md):
    (a) papermill runs of ``00_corpus`` (smoke corpus), ``01_train`` (one tiny run, its knobs in
        ``config_json``) and ``03_demo`` (a smoke run trained here): no cell errors, and the files each
        notebook writes;
    (b) ``03_demo`` served by Voila on loopback and rendered by headless Chromium: the SNR slider and
        the demo's figure are in the page after the kernel ran; a screenshot is taken;
    (c) ``pytest --nbval-lax`` on the executed copies (outside git), with ``tests/nbval_sanitize.cfg``.

Every kernel, server and browser here runs with one BLAS/OpenMP thread: on 2 busy cores, contended
torch threads make single-clip inference 10-30x slower. Set ``AELIB_TEST_ARTIFACTS=<folder>`` to keep
the executed notebooks, the Voila screenshot and DOM there.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = Path(__file__).resolve().parent / "nbval_sanitize.cfg"
BIN = Path(sys.executable).parent
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
CELL_TIMEOUT = 300  # s per notebook cell: generous for 2 busy cores, yet a hang cannot stall CI for long


# ---- helpers ---------------------------------------------------------------------------------
def _artifact(path: Path) -> None:
    """Copy a file to $AELIB_TEST_ARTIFACTS (for people and CI) when that is set."""
    dest = os.environ.get("AELIB_TEST_ARTIFACTS")
    if dest and path.exists():
        Path(dest).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(dest) / path.name)


def _errors(nb_path: Path) -> list[str]:
    """Error outputs of an executed notebook, as 'cell i: ename: evalue'."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    return [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def _text(nb_path: Path) -> str:
    """All text outputs (stream, text/plain, text/markdown) of an executed notebook, joined."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            parts.append(o.get("text", ""))
            parts.extend(o.get("data", {}).get(k, "") for k in ("text/plain", "text/markdown"))
    return "\n".join(parts)


def _papermill(name: str, dest: Path, parameters: dict) -> Path:
    """Execute notebooks/<name>.ipynb into dest/<name>.ipynb (cwd dest) with papermill parameters."""
    import papermill as pm

    out = dest / f"{name}.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), parameters=parameters, kernel_name="python3",
                        progress_bar=False, execution_timeout=CELL_TIMEOUT, cwd=str(dest))
    _artifact(out)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f} s")


def _stop(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM (Voila then shuts its kernels down), SIGKILL to the process group if it hangs."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


CHROME_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--window-size=1280,2000", "--hide-scrollbars"]
# True once the kernel has run: the slider is rendered, the demo's Image widget shows the triptych, and the
# HTML widget holds the three players.
PAGE_READY_JS = """
const slider = document.querySelector('.jupyter-widget-slider, .widget-slider');
const figure = document.querySelector('img.jupyter-widget-image, img.widget-image');
const shown = !!figure && figure.complete && figure.naturalWidth > 0;
const players = document.querySelectorAll('audio').length;
return {ready: document.readyState === 'complete' && !!slider && shown && players >= 3,
        slider: !!slider, figure: shown, players: players, imgs: document.querySelectorAll('img').length};
"""


def _webdriver(base: str, method: str, path: str, body: dict | None = None, timeout: float = 60.0) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"{}")


def _render_chromedriver(url: str, chromium: str, driver: str, workdir: Path, shot: Path,
                         timeout: float) -> tuple[str, dict]:
    """Load ``url`` in headless Chromium through chromedriver (W3C WebDriver over HTTP, no selenium),
    wait until the page is ready, save a screenshot; returns (DOM, readiness)."""
    port = _free_port()
    proc = subprocess.Popen([driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_port(port, proc, 30)
        caps = {"capabilities": {"alwaysMatch": {"pageLoadStrategy": "none", "goog:chromeOptions": {
            "binary": chromium, "args": [*CHROME_ARGS, f"--user-data-dir={workdir / 'chrome-profile'}"]}}}}
        sid = _webdriver(base, "POST", "/session", caps)["value"]["sessionId"]
        try:
            _webdriver(base, "POST", f"/session/{sid}/timeouts", {"script": 30_000})
            _webdriver(base, "POST", f"/session/{sid}/url", {"url": url})  # returns at once: we poll below
            end, state = time.monotonic() + timeout, {}
            while time.monotonic() < end:
                state = _webdriver(base, "POST", f"/session/{sid}/execute/sync", {"script": PAGE_READY_JS, "args": []})["value"]
                if state["ready"]:
                    break
                time.sleep(1.0)
            if state.get("ready"):
                state["slider_moved"] = _move_slider(base, sid, timeout=60)
            time.sleep(1.0)  # let the layout settle before the screenshot
            png = _webdriver(base, "GET", f"/session/{sid}/screenshot")["value"]
            shot.write_bytes(base64.b64decode(png))
            dom = _webdriver(base, "GET", f"/session/{sid}/source")["value"]
            return dom, state
        finally:
            _webdriver(base, "DELETE", f"/session/{sid}")
    finally:
        _stop(proc, timeout=10)


SLIDER_JS = """
const readout = document.querySelector('.widget-slider .widget-readout, .jupyter-widget-slider .widget-readout');
const figure = document.querySelector('img.jupyter-widget-image, img.widget-image');
return {readout: readout ? readout.textContent.trim() : null, src: figure ? figure.src.length + ':' + figure.src.slice(-64) : null};
"""


def _move_slider(base: str, sid: str, timeout: float) -> bool:
    """Press ArrowRight on the SNR slider (0 -> 5 dB) and wait for the kernel to redraw the triptych: the live
    callback path (widget comm -> kernel -> Image widget) works in the page."""
    before = _webdriver(base, "POST", f"/session/{sid}/execute/sync", {"script": SLIDER_JS, "args": []})["value"]
    found = _webdriver(base, "POST", f"/session/{sid}/element",
                       {"using": "css selector", "value": ".widget-slider .noUi-handle, .jupyter-widget-slider .noUi-handle"})
    handle = next(iter(found["value"].values()))
    _webdriver(base, "POST", f"/session/{sid}/element/{handle}/value", {"text": "\ue014"})  # ArrowRight
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        now = _webdriver(base, "POST", f"/session/{sid}/execute/sync", {"script": SLIDER_JS, "args": []})["value"]
        if now["readout"] != before["readout"] and now["src"] != before["src"]:
            return True
        time.sleep(0.5)
    return False


def _render_cli(url: str, chromium: str, workdir: Path, shot: Path, timeout: float) -> tuple[str, dict]:
    """Fallback without chromedriver: ``--dump-dom`` and ``--screenshot`` with a virtual-time budget."""
    base = [chromium, *CHROME_ARGS, f"--user-data-dir={workdir / 'chrome-profile'}", "--virtual-time-budget=60000"]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=timeout).stdout
    subprocess.run([*base, f"--screenshot={shot}", url], capture_output=True, timeout=timeout)
    return dom, {"slider": "widget-slider" in dom, "figure": "widget-image" in dom, "players": dom.count("<audio")}


# ---- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_thread():
    """One BLAS/OpenMP thread here and in every kernel started from this process."""
    import torch

    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        for k, v in ONE_THREAD.items():
            mp.setenv(k, v)
        torch.set_num_threads(1)
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def demo_run(smoke_corpus, tmp_path_factory, one_thread) -> Path:
    """A finished smoke run (asr, cascade) on the smoke corpus: what the demo loads."""
    from aelib.config import make_config
    from aelib.runs import execute

    cfg = make_config("smoke", task="asr", paradigm="cascade", data_dir=str(smoke_corpus),
                      run_root=str(tmp_path_factory.mktemp("runs")), test_snrs=(0.0,), max_train_clips=8,
                      max_eval_clips=2)
    execute(cfg, progress=False)
    assert (cfg.run_dir / "checkpoints" / "best.th").exists()
    return cfg.run_dir


@pytest.fixture(scope="module")
def executed(tmp_path_factory, smoke_corpus, demo_run, one_thread) -> dict:
    """Papermill runs of both notebooks: executed copies and what each wrote."""
    out = tmp_path_factory.mktemp("executed")
    report = out / "corpus_report"
    t0 = time.perf_counter()
    corpus_nb = _papermill("00_corpus", out, dict(data_dir=str(smoke_corpus), size="smoke", out_dir=str(report),
                                                  build_if_missing=False))
    t1 = time.perf_counter()
    demo_nb = _papermill("03_demo", out, dict(run_dir=str(demo_run), grid_snrs="-10,0,20"))
    t2 = time.perf_counter()
    print(f"papermill: 00_corpus {t1 - t0:.1f} s, 03_demo {t2 - t1:.1f} s")
    return dict(corpus_nb=corpus_nb, report=report, demo_nb=demo_nb, study=demo_run.parents[2])


# ---- (a) papermill smoke runs ------------------------------------------------------------------
def test_corpus_notebook_runs(executed):
    nb = executed["corpus_nb"]
    assert _errors(nb) == []
    written = {p.name for p in executed["report"].iterdir()}
    assert written == {"corpus_counts.csv", "corpus_kinds.csv", "noise_bank.csv", "ser_cue_check.json",
                       "noise_types.png", *(f"clips_{t}.png" for t in ("kws", "asr", "ser", "asc"))}
    cue = json.loads((executed["report"] / "ser_cue_check.json").read_text())
    assert {"accuracy", "chance", "ok"} <= set(cue)
    text = _text(nb)
    assert "accuracy" in text and "chance" in text  # the SER trivial-cue verdict is printed


def test_demo_notebook_runs(executed):
    nb = executed["demo_nb"]
    assert _errors(nb) == []
    results = executed["study"] / "results"
    written = {p.name for p in results.iterdir()}
    # asr run present: its Figure-4 triptych and the static grid; no asc run: Figure 4 (asc) is reported missing
    assert written == {"figure4_asr.png", "demo_grid_asr_cascade_seed0_clip0.png"}
    text = _text(nb)
    assert "Figure 4 runs missing" in text and "asc (no finished" in text
    import nbformat

    demo = nbformat.read(nb, as_version=4)
    views = [o for c in demo.cells for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    pngs = [o for c in demo.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert views, "the slider demo displayed no widget"
    assert len(pngs) >= 2, "the static SNR grid and Figure 4 (asr) must be static images in the executed notebook"


def test_train_notebook_takes_other_knobs_in_config_json(smoke_corpus, tmp_path, one_thread):
    """01_train on its own, as a person runs it: the hand-edited parameters, any other knob in config_json
    (the study runner's way in is tests/test_study.py); the run records the Config those resolve to."""
    from aelib.config import make_config

    knobs = {"ca_epochs": 1, "max_train_clips": 8, "max_eval_clips": 2, "test_snrs": [0]}
    where = dict(task="kws", paradigm="clean", preset="smoke", seed=1, study="nb", data_dir=str(smoke_corpus),
                 run_root=str(tmp_path / "runs"))
    nb = _papermill("01_train", tmp_path, dict(where, config_json=json.dumps(knobs), threads=1, progress=False))
    assert _errors(nb) == []
    cfg = make_config(**where, **{**knobs, "test_snrs": (0.0,)})
    assert json.loads((cfg.run_dir / "params.json").read_text())["config"] == cfg.to_dict()
    assert (cfg.run_dir / "metrics.json").exists() and "accuracy" in _text(nb)


# ---- (b) the demo as a Voila page in headless Chromium -----------------------------------------
def test_demo_voila_page(demo_run, tmp_path, one_thread):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if chromium is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium chromium-driver); "
                    "the Voila page cannot be rendered")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
    voila = BIN / "voila"
    assert voila.exists(), f"voila not found next to {sys.executable}: pip install -e '.[notebooks]'"
    port = _free_port()
    env = {**os.environ, **ONE_THREAD, "AELIB_DEMO_RUN_DIR": str(demo_run),
           "AELIB_DEMO_SAVE_DIR": str(tmp_path / "voila_results")}
    log = open(tmp_path / "voila.log", "w")
    proc = subprocess.Popen([str(voila), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
                             str(NOTEBOOKS / "03_demo.ipynb")], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    shot = tmp_path / "voila_03_demo.png"
    try:
        _wait_port(port, proc, 60)
        url = f"http://127.0.0.1:{port}/"
        if driver:
            dom, state = _render_chromedriver(url, chromium, driver, tmp_path, shot, timeout=180)
        else:
            dom, state = _render_cli(url, chromium, tmp_path, shot, timeout=180)
    finally:
        _stop(proc)
        log.close()
    (tmp_path / "voila_03_demo.html").write_text(dom)
    for p in (shot, tmp_path / "voila_03_demo.html", tmp_path / "voila.log"):
        _artifact(p)
    voila_log = (tmp_path / "voila.log").read_text()
    assert state.get("slider"), f"no SNR slider in the Voila page ({state}); voila log:\n{voila_log[-2000:]}"
    assert state.get("figure"), f"the demo's triptych did not render ({state}); voila log:\n{voila_log[-2000:]}"
    assert state.get("players", 0) >= 3, f"the three Audio players are missing ({state})"
    if driver:
        assert state.get("slider_moved"), f"moving the SNR slider did not redraw the triptych ({state})"
    assert "jupyter-widgets" in dom
    assert "Traceback" not in dom, "a cell raised in the Voila page"
    assert shot.exists() and shot.stat().st_size > 20_000, "screenshot missing or blank"
    assert (tmp_path / "voila_results" / "figure4_asr.png").exists()  # the page ran to the end


# ---- (c) nbval regression on the executed copies ------------------------------------------------
def test_nbval_lax(executed, tmp_path, one_thread):
    nbs = [executed["corpus_nb"], executed["demo_nb"]]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
           "--nbval-lax", "--nbval-sanitize-with", str(SANITIZE), "--nbval-cell-timeout", str(CELL_TIMEOUT),
           "--nbval-kernel-name", "python3", *map(str, nbs)]
    r = subprocess.run(cmd, cwd=tmp_path, env={**os.environ, **ONE_THREAD}, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, f"nbval failed:\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"
    assert " passed" in r.stdout
