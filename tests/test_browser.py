"""End to end in a real browser: JupyterLab + headless Chromium drive the course's sliders.

Widgets are where a course breaks silently: when the kernel's ipywidgets and JupyterLab's widget
manager disagree, every learner sees "Error displaying widget" while every headless test stays
green. This test looks at what the learner sees. It

1. starts a real JupyterLab server (127.0.0.1, a free port, a random token) on a temporary copy of
   ``notebooks/``, with this process's environment (COURSE_FAST, COURSE_DATA_DIR, COURSE_CACHE_DIR);
2. opens a notebook in Debian's Chromium through Playwright, runs Run → Run All Cells, waits until
   the kernel is idle (asked over the server's REST API) and fails on any error output;
3. finds a slider by its label, checks that it is rendered as a slider, moves it with the keyboard
   and asserts that the figure it drives changed;
4. presents the same notebook, with its kernel still live, as a slideshow at 1280×720 with
   jupyterlab-deck (the README's presenter guide: the notebook toolbar's "Toggle Deck" button, Space
   to advance), walks every slide, fails if a slide is taller than the screen, and on the slider's
   slide moves the slider and requires the figure to change — the sliders work on the slides;
5. saves screenshots of each state under ``course_utils.config.artifact_dir() / "browser-test"``
   (``./build/browser-test`` unless ``COURSE_ARTIFACT_DIR`` is set), one per slide in ``slides/``.

Missing Chromium or Playwright skips the test on a laptop, but fails it in CI (``CI=true``).
The server, its kernels and the browser are always shut down; every wait has a deadline.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest

from course_utils import config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DECK_KEYS = ROOT / "binder" / "deck-keys.json"  # the slideshow's keys (Space, PageDown, ...)
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: Seconds one notebook may take, from opening it to the last slider check (own deadline, so a
#: stuck kernel or browser fails the test instead of hanging CI). COURSE_BROWSER_TIMEOUT overrides.
NOTEBOOK_TIMEOUT = float(os.environ.get("COURSE_BROWSER_TIMEOUT") or config.pick(1800, 600))
SERVER_START_TIMEOUT = 120.0
STEP_TIMEOUT_MS = 60_000  # any single Playwright action or wait

# The harness checks itself on a tiny notebook it writes (a slider wired with show_interactive to a
# callback that draws a figure), so a broken widget stack is told apart from a broken lesson.
HARNESS_NB = "browser_harness.ipynb"
HARNESS_LABEL = "harness slope"

#: (notebook, label of the slider it must show). The labels are the sliders' ``description``.
CASES = [
    (HARNESS_NB, HARNESS_LABEL),
    ("06_denoising_autoencoder.ipynb", "noise level σ"),
    ("04_autoencoder.ipynb", "code size"),
]

#: The projector the slideshow must fit: every slide's content at most this tall, no scrolling.
SLIDE_VIEWPORT = {"width": 1280, "height": 720}
DECK_BUTTON = '.jp-NotebookPanel-toolbar [data-command="deck:toggle"]'

STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
# What a learner sees when a widget cannot be shown: the widget manager's error box (a model or
# view that cannot be created), its "Error displaying widget…" text, or a "Loading widget…" that
# never goes away (the front end never got the model).
WIDGET_ERROR = ".jupyter-widgets-error-widget"
WIDGET_ERROR_TEXT = ("Error displaying widget", "Click to show javascript error")
WIDGET_LOADING_TEXT = "Loading widget"
# A traceback as JupyterLab renders an error output (stream stderr such as tqdm bars is fine).
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*\w*(Error|Exception)\b", re.M)


def _in_ci() -> bool:
    return (os.environ.get("CI") or "").strip().lower() not in ("", "0", "false", "no", "off")


def _missing_tools() -> list[str]:
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the `playwright` Python package (pip install playwright)")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium, or set COURSE_CHROMIUM)")
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        missing.append("jupyterlab")
    return missing


def _skip_or_fail(reason: str):
    if _in_ci():
        pytest.fail(f"browser test cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc; empty elsewhere)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # a zombie is dead for our purposes
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True
    return True


def _die_with_parent() -> None:
    """In the server's child process (Linux): get SIGTERM if pytest itself is killed."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _write_harness_notebook(path: Path) -> None:
    import nbformat

    cells = [
        "import ipywidgets\nimport matplotlib.pyplot as plt\nfrom course_utils.widgets import show_interactive",
        textwrap.dedent('''\
            def slope_figure(slope):
                """A line whose slope is the slider's value: the picture changes when it moves."""
                fig, ax = plt.subplots(figsize=(4, 3))
                ax.plot([0, 1], [0, slope])
                ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="x", ylabel="y", title=f"slope {slope:.2f}")
                return fig, {"slope": slope}'''),
        # Assigned: show_interactive displays the widget and returns it, so a cell that ENDS with
        # the call shows the widget twice (the test counts sliders, and would say so).
        f'ui = show_interactive(slope_figure, slope=ipywidgets.FloatSlider(value=0.5, min=0.0, '
        f'max=1.0, step=0.1, description="{HARNESS_LABEL}"))',
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Browser harness\nA title slide, then the slider's slide.")]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in cells]
    for cell, kind in zip(nb.cells, ["slide", "skip", "skip", "slide"]):  # as the lessons do
        cell.metadata["slideshow"] = {"slide_type": kind}
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    nbformat.write(nb, path)


class Lab:
    """A running JupyterLab server: base URL, token and a tiny REST client."""

    def __init__(self, base: str, token: str, root: Path, proc: subprocess.Popen, log: Path):
        self.base, self.token, self.root, self.proc, self.log = base, token, root, proc, log

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(self.base + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def kernel_of(self, nb_path: str) -> str | None:
        for s in self.api("/api/sessions"):
            if s.get("path") == nb_path and s.get("kernel"):
                return s["kernel"]["id"]
        return None

    def kernel_state(self, kernel_id: str) -> str:
        return self.api(f"/api/kernels/{kernel_id}")["execution_state"]

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return "(no server log)"


def _stop_server(lab_proc: subprocess.Popen, lab: Lab | None) -> None:
    """Shut down kernels, then the server's process group; SIGKILL whatever is left."""
    pid = lab_proc.pid
    kernels = _children(pid)  # kernels start in their own session, so find them by parent
    if lab is not None and lab_proc.poll() is None:
        try:
            for k in lab.api("/api/kernels"):
                lab.api(f"/api/kernels/{k['id']}", method="DELETE")
        except (OSError, urllib.error.URLError, ValueError):
            pass
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        if lab_proc.poll() is not None:
            break
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            lab_proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
    for k in kernels:
        if _alive(k):
            try:
                os.killpg(k, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(k, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


@pytest.fixture(scope="module")
def browser_tools():
    missing = _missing_tools()
    if missing:
        _skip_or_fail("browser test needs " + " and ".join(missing))


@pytest.fixture(scope="module")
def artifacts() -> Path:
    d = config.artifact_dir() / "browser-test"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _lab_env(tmp: Path, token: str) -> dict:
    """The server's environment: ours (COURSE_* reach the kernel), a private Jupyter config, and the
    token in JUPYTER_TOKEN — never on the command line (readable with ``ps``) nor in the log (a
    token from the environment is shown as ``...`` in the server's start-up banner)."""
    # A private Jupyter config folder: no user password, theme, workspace or extension settings leak
    # in. All cells stay in the DOM (no windowing) and no news pop-up covers the page.
    cfg = tmp / "jupyter-config"
    settings = cfg / "lab" / "user-settings" / "@jupyterlab"
    for rel, value in {
        "notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                "checkForUpdates": False},
    }.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))

    env = dict(os.environ)  # COURSE_FAST, COURSE_DATA_DIR, COURSE_CACHE_DIR reach the kernel
    env["JUPYTER_CONFIG_DIR"] = str(cfg)
    env["JUPYTER_RUNTIME_DIR"] = str(tmp / "jupyter-runtime")
    env["JUPYTER_TOKEN"] = token
    env.pop("JUPYTER_TOKEN_FILE", None)
    env.pop("MPLBACKEND", None)  # conftest/CI set Agg; the kernel must use the inline backend
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _lab_settings(tmp: Path) -> Path:
    """JupyterLab's application settings folder for the test server, holding the slideshow keys
    exactly as a presenter installs them (README): ``overrides.d/deck-keys.json``."""
    settings = tmp / "lab-app-settings"
    (settings / "overrides.d").mkdir(parents=True, exist_ok=True)
    shutil.copy(DECK_KEYS, settings / "overrides.d" / DECK_KEYS.name)
    return settings


def _lab_command(port: int, root: Path, settings: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}"]
    if settings is not None:
        cmd.append(f"--LabApp.app_settings_dir={settings}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    return cmd


@contextlib.contextmanager
def _running_lab(tmp: Path, root: Path, log: Path):
    """Start JupyterLab on 127.0.0.1:<free port> with a random token; yield a Lab; always stop it."""
    port, token = _free_port(), secrets.token_hex(24)
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(_lab_command(port, root, _lab_settings(tmp)), cwd=tmp, env=_lab_env(tmp, token),
                                stdout=log_fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    server = Lab(f"http://127.0.0.1:{port}", token, root, proc, log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {proc.returncode}:\n{server.log_tail()}")
            try:
                server.api("/api/status")
                break
            except (OSError, urllib.error.URLError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT:.0f} s:\n"
                            f"{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        _stop_server(proc, server)


@pytest.fixture(scope="module")
def lab(browser_tools, tmp_path_factory, artifacts):
    """JupyterLab on 127.0.0.1:<free port> with a random token, serving a copy of notebooks/."""
    tmp = tmp_path_factory.mktemp("browser")
    root = tmp / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _write_harness_notebook(root / HARNESS_NB)
    with _running_lab(tmp, root, artifacts / "jupyterlab-server.log") as server:
        yield server


def test_server_token_travels_in_the_environment_and_stays_out_of_the_log(tmp_path):
    """No browser needed: the token is not in the server's command line nor in its log, and it works."""
    if importlib.util.find_spec("jupyterlab") is None:
        _skip_or_fail("this test needs JupyterLab")
    root = tmp_path / "root"
    root.mkdir()
    log = tmp_path / "server.log"
    with _running_lab(tmp_path, root, log) as server:
        cmdline = Path(f"/proc/{server.proc.pid}/cmdline")
        if cmdline.exists():
            assert server.token not in cmdline.read_bytes().decode(errors="replace")
        assert server.token not in " ".join(_lab_command(1, root))
        assert "started" in json.dumps(server.api("/api/status"))  # the token from the environment works
        anonymous = urllib.request.Request(server.base + "/api/status")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(anonymous, timeout=10)
        with urllib.request.urlopen(f"{server.base}/lab?token={server.token}", timeout=30):
            pass  # a page opened with the token in its URL, as the browser does
    assert server.token not in log.read_text(errors="replace")


@pytest.fixture(scope="module")
def browser(browser_tools):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = None
    try:
        try:
            b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                   timeout=STEP_TIMEOUT_MS)
        except PlaywrightError as e:
            _skip_or_fail(f"Chromium at {CHROMIUM} did not start: {e}")
        yield b
    finally:
        try:
            if b is not None:
                b.close()
        finally:
            pw.stop()


class Deadline:
    """The time left for one notebook; every wait checks it."""

    def __init__(self, seconds: float, what: str):
        self.end, self.what, self.seconds = time.monotonic() + seconds, what, seconds

    def check(self, doing: str):
        if time.monotonic() > self.end:
            pytest.fail(f"{self.what}: over the {self.seconds:.0f} s budget while {doing}")


def _wait(cond, deadline: Deadline, doing: str, every: float = 0.5, limit: float | None = None):
    """Poll ``cond()`` until it returns something truthy; fail at the deadline (or ``limit`` s)."""
    end = time.monotonic() + limit if limit else None
    while True:
        value = cond()
        if value:
            return value
        if callable(doing) and (time.monotonic() > deadline.end or (end and time.monotonic() > end)):
            doing = doing()
        deadline.check(str(doing))
        if end and time.monotonic() > end:
            pytest.fail(f"{deadline.what}: no result within {limit:.0f} s while {doing}")
        time.sleep(every)


def _error_outputs(page) -> list[str]:
    texts = page.locator(STDERR_OUTPUT).all_inner_texts()
    return [t for t in texts if _TRACEBACK.search(t)]


def _broken_widgets(page, loading_too: bool = False) -> list[str]:
    """Outputs showing a widget error (and, with ``loading_too``, ones still 'Loading widget…')."""
    found = [f"widget error box: {t.strip()!r}" for t in page.locator(WIDGET_ERROR).all_inner_texts()]
    for t in page.locator(".jp-OutputArea-output").all_inner_texts():
        t = t.strip()
        if any(m in t for m in WIDGET_ERROR_TEXT) or (loading_too and t.startswith(WIDGET_LOADING_TEXT)):
            found.append(t)
    return found


def _run_all_and_wait(page, lab: Lab, nb: str, kernel: str, deadline: Deadline) -> None:
    """Run → Run All Cells, then wait until every cell has run and the kernel is idle."""
    _wait(lambda: lab.kernel_state(kernel) == "idle", deadline, "waiting for the kernel to start")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()

    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt")

    def started():
        return any(re.search(r"\[(\*|\d+)\]", t) for t in prompts.all_inner_texts())

    _wait(started, deadline, "waiting for Run All Cells to start", limit=60)

    quiet = {"n": 0}

    def finished():
        running = any("*" in t for t in prompts.all_inner_texts())
        idle = lab.kernel_state(kernel) == "idle"
        # Between two queued cells the kernel is briefly idle: ask for three quiet polls in a row.
        quiet["n"] = quiet["n"] + 1 if (idle and not running) else 0
        errors = _error_outputs(page)
        if errors:
            pytest.fail(f"{nb}: a cell failed:\n{errors[0][-3000:]}")
        return quiet["n"] >= 3

    def progress() -> str:
        texts = prompts.all_inner_texts()
        done = sum(bool(re.search(r"\[\d+\]", t)) for t in texts)
        busy = next((i for i, t in enumerate(texts) if "*" in t), None)
        return f"running all cells ({done}/{len(texts)} code cells done, code cell {busy} running)"

    _wait(finished, deadline, progress, every=1.0)


def _check_saved_notebook(page, lab: Lab, nb: str, deadline: Deadline):
    """Save from the browser and read the notebook back: every code cell ran, none errored."""
    before = lab.api(f"/api/contents/{nb}?content=0")["last_modified"]
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    _wait(lambda: lab.api(f"/api/contents/{nb}?content=0")["last_modified"] != before,
          deadline, "saving the notebook", limit=60)
    model = lab.api(f"/api/contents/{nb}?content=1")["content"]
    code = [c for c in model["cells"] if c["cell_type"] == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{nb}: {errors[0]['ename']}: {errors[0]['evalue']}"
    not_run = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    assert not not_run, f"{nb}: code cells {not_run} did not run"
    stray = _stray_outputs(model["cells"])
    assert not stray, f"{nb}: outputs a learner should not see:\n" + "\n".join(stray)


# What must never appear in a lesson's outputs: a Python warning, or the repr of a matplotlib
# object that a cell happened to end with (``<matplotlib.legend.Legend at 0x7f…>``, ``Text(0.5, 1.0,
# 'title')``, ``[<matplotlib.lines.Line2D at 0x…>]``).
_WARNING = re.compile(r"\b\w*Warning: ")
_STRAY_REPR = re.compile(r"<[\w.]+ at 0x[0-9a-f]+>|^(Text|Legend)\(")


def _stray_outputs(cells: list[dict]) -> list[str]:
    """'cell N: what' for each warning or stray repr among the cells' outputs (saved notebook)."""
    found = []
    for n, cell in enumerate(cells):
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = "".join(out.get("text", ""))
                m = _WARNING.search(text)
                if m:
                    line = text[m.start():].splitlines()[0]
                    found.append(f"cell {n}: a warning: {line[:200]}")
            elif out.get("output_type") == "execute_result":
                text = "".join(out.get("data", {}).get("text/plain", ""))
                if _STRAY_REPR.search(text):
                    found.append(f"cell {n}: a stray repr (end the line with `;` or plt.show()): {text[:120]}")
    return found


def _figure_of(interact) -> str:
    """A fingerprint of what the widget's output area shows: its images (src) or its markup."""
    out = interact.locator(".widget-output").first
    srcs = out.locator("img").evaluate_all("els => els.map(e => e.getAttribute('src'))")
    return "\n".join(srcs) if srcs else ""


def _slider(page, label: str):
    """The slider whose description is exactly ``label`` (ipywidgets 8 and 7 markup)."""
    return page.locator(".widget-slider").filter(
        has=page.locator(".widget-label").get_by_text(label, exact=True))


_VISIBLE_SLIDE_JS = """() => {
    const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell'));
    const shown = [];
    cells.forEach((c, i) => {
        if (!c.classList.contains('jp-deck-mod-visible')) return;
        const r = c.getBoundingClientRect();
        const text = (c.querySelector('.jp-MarkdownOutput, .jp-InputArea-editor') || c).innerText;
        shown.push({i: i, top: r.top, bottom: r.bottom, text: text.trim().split('\\n')[0].slice(0, 70)});
    });
    return shown;
}"""


def _slide_state(page) -> tuple:
    """(indices of the cells the slideshow shows now, their content height in px, first line)."""
    shown = page.evaluate(_VISIBLE_SLIDE_JS)
    if not shown:
        return (), 0.0, ""
    height = max(c["bottom"] for c in shown) - min(c["top"] for c in shown)
    return tuple(c["i"] for c in shown), height, shown[0]["text"]


def _settled_slide(page, deadline: Deadline) -> tuple:
    """The slide once it stops changing (two equal reads in a row: the deck animates)."""
    last = None
    for _ in range(20):
        deadline.check("waiting for a slide to settle")
        now = _slide_state(page)
        if last is not None and now[0] == last[0] and abs(now[1] - last[1]) < 1:
            return now
        last = now
        time.sleep(0.3)
    return last


def _present_and_check(page, lab: Lab, kernel: str, nb: str, label: str, shots: Path,
                       deadline: Deadline) -> None:
    """Present the running notebook as a presenter does (README): 1280×720, select the first cell,
    the toolbar's "Toggle Deck", then Space through every slide. Each slide must fit the screen,
    every cell the deck does not skip must come on screen, and on the slide that shows the slider,
    moving it must change the figure."""
    page.set_viewport_size(SLIDE_VIEWPORT)
    page.keyboard.press("Escape")
    first = page.locator(".jp-Notebook .jp-Cell").first  # the deck starts at the active cell
    first.locator(".jp-MarkdownOutput, .jp-InputArea-editor").locator("visible=true").first.click()
    page.keyboard.press("Escape")
    button = page.locator(DECK_BUTTON)
    if button.count() == 0:
        pytest.fail(f"{nb}: no 'Toggle Deck' button in the notebook toolbar: jupyterlab-deck is not "
                    "installed (pip install -r requirements.txt)")
    button.first.click()
    _wait(lambda: page.locator(".jp-Deck .jp-Notebook").count() > 0, deadline,
          "waiting for the slideshow to start", limit=30)
    slide_dir = shots / "slides"
    shutil.rmtree(slide_dir, ignore_errors=True)
    slide_dir.mkdir()

    try:
        seen, too_tall, slider_checked = _walk_slides(page, lab, kernel, nb, label, shots, slide_dir,
                                                      deadline)
    finally:  # leave the slideshow (JupyterLab remembers it; the next notebook must open normally)
        with contextlib.suppress(Exception):
            page.locator(".jp-Deck-Remote .jp-deck-mod-stop").first.click(timeout=10_000)
            page.wait_for_selector(".jp-Deck", state="detached", timeout=10_000)
    limit = SLIDE_VIEWPORT["height"]
    print(f"{nb}: {len(seen)} slide states at {limit} px; too tall: {too_tall or 'none'}")
    assert len(seen) >= 2, f"{nb}: the slideshow never advanced (Space on the notebook): {seen}"
    assert slider_checked or not label, f"{nb}: no slide showed the slider {label!r} ({len(seen)} slides walked)"
    assert not too_tall, (f"{nb}: slides taller than the {limit} px screen (screenshots in "
                          f"{slide_dir}):\n" + "\n".join(too_tall))
    cells = json.loads((lab.root / nb).read_text(encoding="utf-8"))["cells"]
    kinds = [c.get("metadata", {}).get("slideshow", {}).get("slide_type", "-") for c in cells]
    never = [f"cell {i} ({cells[i].get('id')}, {kinds[i]})" for i in range(len(cells))
             if kinds[i] not in ("skip", "notes") and not any(i in state[0] for state in seen)]
    assert not never, (f"{nb}: Space never showed these cells (a sub-slide straight after a sub-slide? "
                       f"see tools/slide_layout.py): " + ", ".join(never))


def _walk_slides(page, lab: Lab, kernel: str, nb: str, label: str, shots: Path, slide_dir: Path,
                 deadline: Deadline) -> tuple[list, list, bool]:
    """Space through the slideshow from its first slide: (states seen, the too-tall ones, whether
    the slider was moved on its slide)."""
    limit = SLIDE_VIEWPORT["height"]
    seen, too_tall, slider_checked = [], [], False
    state = _settled_slide(page, deadline)
    while True:
        cells, height, first = state
        n = len(seen) + 1
        seen.append(state)
        page.screenshot(path=str(slide_dir / f"{n:02d}.png"))
        if height > limit:
            too_tall.append(f"slide {n} (cells {list(cells)}, {height:.0f} px): {first!r}")
        slider = _slider(page, label) if label else None
        if label and not slider_checked and slider.count() and slider.first.is_visible() and \
                slider.first.evaluate("e => !!e.closest('.jp-deck-mod-visible')"):
            _move_slider_on_slide(page, lab, kernel, nb, label, shots, deadline)
            slider_checked = True
            page.evaluate("document.activeElement && document.activeElement.blur()")  # leave the handle
        page.keyboard.press("Space")
        time.sleep(0.4)
        state = _settled_slide(page, deadline)
        if state[0] == cells or len(seen) > 200:  # Space on the last slide changes nothing
            break
    return seen, too_tall, slider_checked


def _nudge_slider(page, lab: Lab, kernel: str, nb: str, label: str, interact, slider, before_shot,
                  deadline: Deadline, where: str = "") -> tuple[str, str]:
    """Move the slider ``label`` one step with an arrow key, as a keyboard user would, and wait until
    the figure under it has changed and the kernel is idle; ``before_shot()`` runs once the figure
    is there, before the key. Returns the readout before and after. ``where``: " on the slide"."""
    handle = slider.locator(".noUi-handle, .ui-slider-handle").first
    readout = slider.locator(".widget-readout").first
    value_before = readout.inner_text()
    figure_before = _wait(lambda: _figure_of(interact), deadline,
                          f"waiting for the figure under {label!r}{where}", limit=120)
    before_shot()
    at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    handle.focus()
    page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
    _wait(lambda: readout.inner_text() != value_before, deadline,
          f"waiting for {label!r} to move{where}", limit=30)

    def redrawn():
        errors = _error_outputs(page)
        if errors:
            pytest.fail(f"{nb}: moving {label!r}{where} raised:\n{errors[0][-3000:]}")
        now = _figure_of(interact)
        return now and now != figure_before and lab.kernel_state(kernel) == "idle"

    _wait(redrawn, deadline, f"waiting for the figure under {label!r} to change{where}", limit=180)
    return value_before, readout.inner_text()


def _move_slider_on_slide(page, lab: Lab, kernel: str, nb: str, label: str, shots: Path,
                          deadline: Deadline) -> None:
    """On the current slide: the slider is a slider, an arrow key moves it, the figure changes."""
    slider = _slider(page, label)
    interact = page.locator(".widget-interact").filter(has=slider).last
    _nudge_slider(page, lab, kernel, nb, label, interact, slider,
                  lambda: page.screenshot(path=str(shots / "5_slide_before.png")), deadline, " on the slide")
    assert page.locator(".jp-Deck .jp-Notebook").count(), f"{nb}: moving the slider left the slideshow"
    page.screenshot(path=str(shots / "6_slide_after.png"))
    broken = _broken_widgets(page, loading_too=True)
    assert not broken, f"{nb}: widgets on the slide the audience cannot use: {broken}"


@pytest.mark.parametrize("nb, label", CASES, ids=[c[0].split("_")[0] if c[0] != HARNESS_NB
                                                  else "harness" for c in CASES])
def test_slider_redraws_figure_in_jupyterlab(nb, label, lab, browser, artifacts):
    if not (lab.root / nb).is_file():
        pytest.fail(f"notebooks/{nb} does not exist")
    shots = artifacts / Path(nb).stem
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    deadline = Deadline(NOTEBOOK_TIMEOUT, nb)

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    kernel = None
    try:
        # A workspace of its own per notebook, reset: only this notebook is open, so no hidden tab
        # of an earlier case (whose cells match the same selectors) is restored beside it.
        workspace = "case-" + "".join(ch if ch.isalnum() else "-" for ch in Path(nb).stem)
        page.goto(f"{lab.base}/lab/workspaces/{workspace}/tree/{nb}?reset&token={lab.token}",
                  wait_until="domcontentloaded")
        kernel = _wait(lambda: lab.kernel_of(nb), deadline, "waiting for the notebook's kernel")
        _run_all_and_wait(page, lab, nb, kernel, deadline)
        page.screenshot(path=str(shots / "1_ran_all.png"))
        _check_saved_notebook(page, lab, nb, deadline)

        # The slider is rendered as a slider (the widget manager works), found by its label.
        slider = _slider(page, label)

        def rendered():
            broken = _broken_widgets(page)
            if broken:
                pytest.fail(f"{nb}: widget not rendered: {broken[0][:300]}")
            return slider.count() > 0

        try:
            _wait(rendered, deadline, f"waiting for the slider {label!r}", limit=60)
        except pytest.fail.Exception as e:
            still = _broken_widgets(page, loading_too=True)
            raise AssertionError(f"{e}; widget outputs: {still or 'none found'}") from None
        n = slider.count()
        assert n == 1, (f"{nb}: the learner sees {n} sliders labelled {label!r}; one expected (a cell "
                        "ending with show_interactive(...) displays the returned widget again)")
        label_el = slider.locator(".widget-label").first
        if label_el.evaluate("e => e.scrollWidth > e.clientWidth"):
            warnings.warn(f"{nb}: the label {label!r} is cut off on screen (description_width)")
        handle = slider.locator(".noUi-handle, .ui-slider-handle").first
        handle.wait_for(state="visible")
        interact = page.locator(".widget-interact").filter(has=slider).last
        interact.scroll_into_view_if_needed()
        value_before, value_after = _nudge_slider(
            page, lab, kernel, nb, label, interact, slider,
            lambda: interact.screenshot(path=str(shots / "2_slider_before.png")), deadline)
        interact.screenshot(path=str(shots / "3_slider_after.png"))
        page.screenshot(path=str(shots / "4_page_after.png"))
        assert value_after != value_before
        broken = _broken_widgets(page, loading_too=True)
        assert not broken, f"{nb}: widgets the learner cannot use: {broken}"

        # The same notebook, kernel still live, presented as a slideshow on a projector.
        _present_and_check(page, lab, kernel, nb, label, shots, deadline)
    except BaseException:
        try:  # show the first error output, if any, in the screenshot
            if _error_outputs(page):
                page.locator(STDERR_OUTPUT).filter(has_text=_TRACEBACK).first.scroll_into_view_if_needed(
                    timeout=5000)
            page.screenshot(path=str(shots / "FAILED.png"))
        except Exception:  # noqa: BLE001  (the page may be gone; the original error matters)
            pass
        (shots / "browser-console.log").write_text("\n".join(console))
        raise
    finally:
        if kernel is not None:
            try:
                lab.api(f"/api/kernels/{kernel}", method="DELETE")
            except (OSError, urllib.error.URLError, ValueError):
                pass
        context.close()


#: The other lessons, measured only on request (COURSE_SLIDES_ALL=1; each runs all its cells in the
#: browser, minutes apiece): every slide of their slideshow fits 1280×720.
OTHER_DECKS = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")
                     if p.name not in {c[0] for c in CASES})


@pytest.mark.parametrize("nb", OTHER_DECKS, ids=[n.split("_")[0] for n in OTHER_DECKS])
def test_other_slideshows_fit_the_screen(nb, lab, browser, artifacts):
    if (os.environ.get("COURSE_SLIDES_ALL") or "").strip() in ("", "0"):
        pytest.skip("set COURSE_SLIDES_ALL=1 to measure the slides of every notebook (minutes each)")
    shots = artifacts / Path(nb).stem
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    deadline = Deadline(NOTEBOOK_TIMEOUT, nb)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    kernel = None
    try:
        workspace = "slides-" + "".join(ch if ch.isalnum() else "-" for ch in Path(nb).stem)
        page.goto(f"{lab.base}/lab/workspaces/{workspace}/tree/{nb}?reset&token={lab.token}",
                  wait_until="domcontentloaded")
        kernel = _wait(lambda: lab.kernel_of(nb), deadline, "waiting for the notebook's kernel")
        _run_all_and_wait(page, lab, nb, kernel, deadline)
        _present_and_check(page, lab, kernel, nb, None, shots, deadline)
    finally:
        if kernel is not None:
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                lab.api(f"/api/kernels/{kernel}", method="DELETE")
        context.close()
