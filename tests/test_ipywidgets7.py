"""The widget tests again, under ipywidgets 7.7.1 — the version Google Colab ships.

The course supports ipywidgets 7.7 (Colab) and 8.x (JupyterLab 4, Binder). Development happens on
8.x, so a Colab break would otherwise show up first in a classroom. This test builds a throwaway
virtual environment in a temporary folder that sees the *outer* environment's packages (torch,
matplotlib, pytest, nbval, the course package: nothing big is downloaded), installs
``ipywidgets==7.7.1`` from the package index into it — shadowing the outer 8.x — and runs every
widget test file (``tests/test_widgets_*.py``) with that interpreter. The nested run's header names
the ipywidgets version it imported; the test checks it is 7.7.1 and prints the summary.

How the nested venv sees the outer packages: ``venv``'s ``system_site_packages`` would expose only
the *base* interpreter's packages, which is wrong when the outer Python is itself a venv (the
README's setup). So the nested venv is made without them, and a ``.pth`` file in its
site-packages adds the repository root and the outer interpreter's site directories
(``site.addsitedir``, so their own ``.pth`` files, e.g. an editable install, work too). A ``.pth`` is read
after the venv's own site-packages is on ``sys.path``, so the venv's ipywidgets 7.7.1 comes first.

About a minute (the venv and the pip install, then the widget tests). It needs the package index:
a short probe (``pip download --no-deps ipywidgets==7.7.1``, no retries) decides that first. When
the index cannot supply 7.7.1 the test is skipped with a one-line reason — unless ``CI=true``, where
it fails (CI has PyPI). ``test_offline_index_skips_locally_and_fails_in_ci`` checks exactly that
with a real unreachable index (``PIP_INDEX_URL=http://127.0.0.1:9/simple``).
"""
from __future__ import annotations

import importlib.util
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLAB_IPYWIDGETS = "7.7.1"
REQUIREMENT = f"ipywidgets=={COLAB_IPYWIDGETS}"
PROBE_TIMEOUT_S = 15  # pip's socket timeout for the reachability probe (no retries)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _venv_site_packages(py: Path) -> Path:
    out = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         capture_output=True, text=True, timeout=60, check=True)
    return Path(out.stdout.strip())


def _outer_site_dirs() -> list[str]:
    """The outer interpreter's site directories (its venv's, or the system's), user site included."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        dirs.append(site.getusersitepackages())
    seen, out = set(), []
    for d in dirs:
        if d not in seen and Path(d).is_dir():
            seen.add(d)
            out.append(d)
    return out


def _index_offers_ipywidgets7(pip: list[str], dest: Path) -> tuple[bool, str]:
    """``(True, "")`` when the configured package index serves ipywidgets 7.7.1 (one quick try,
    no retries); else ``(False, pip's last error line)``."""
    try:
        r = subprocess.run([*pip, "download", "--no-deps", "--disable-pip-version-check", "--no-input",
                            "--retries", "0", "--timeout", str(PROBE_TIMEOUT_S), "--dest", str(dest), REQUIREMENT],
                           capture_output=True, text=True, timeout=PROBE_TIMEOUT_S * 4 + 60)
    except subprocess.TimeoutExpired:
        return False, f"pip download {REQUIREMENT} did not finish in {PROBE_TIMEOUT_S * 4 + 60} s"
    if r.returncode == 0:
        return True, ""
    lines = [ln.strip() for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return False, (errors or lines or ["(no output)"])[-1]


def _skip_or_fail(reason: str):
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: the package index must be reachable)")
    pytest.skip(reason)


def test_widget_tests_pass_under_colab_ipywidgets(tmp_path):
    widget_tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_widgets_*.py"))
    assert "tests/test_widgets_interactive.py" in widget_tests, "the show_interactive tests must exist"

    # 1. Can the package index supply 7.7.1? Decided before building anything, in seconds.
    outer_pip = [sys.executable, "-m", "pip"] if importlib.util.find_spec("pip") else None
    if outer_pip:
        ok, why = _index_offers_ipywidgets7(outer_pip, tmp_path / "probe")
        if not ok:
            _skip_or_fail(f"package index unreachable or without {REQUIREMENT}: {why}")

    # 2. The nested venv: its own site-packages first, then the outer environment's, then the repo.
    env_dir = tmp_path / "venv-ipywidgets7"
    try:
        venv.EnvBuilder(system_site_packages=False, with_pip=True, symlinks=os.name != "nt").create(env_dir)
    except Exception as err:
        pytest.fail(f"could not create a virtual environment with pip ({type(err).__name__}: {err}); "
                    f"on Debian/Ubuntu install the python3-venv package")
    py = _venv_python(env_dir)
    if not outer_pip:  # an outer environment without pip: probe with the nested one
        ok, why = _index_offers_ipywidgets7([str(py), "-m", "pip"], tmp_path / "probe")
        if not ok:
            _skip_or_fail(f"package index unreachable or without {REQUIREMENT}: {why}")
    outer = _outer_site_dirs()
    assert outer, f"the outer interpreter {sys.executable} reports no site-packages folder"
    pth = _venv_site_packages(py) / "_outer_environment.pth"
    pth.write_text(f"{ROOT}\n" + "".join(f"import site; site.addsitedir({d!r})\n" for d in outer),
                   encoding="utf-8")

    # 3. ipywidgets 7.7.1 (and only what it needs that the outer environment lacks) into the venv.
    #    pip sees the outer 8.x through the .pth and leaves it alone ("outside environment").
    pip = subprocess.run(
        [str(py), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet",
         "--retries", "2", "--timeout", "30", REQUIREMENT],
        capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, (f"pip install {REQUIREMENT} into the throwaway venv failed although the "
                                 f"index offers it:\n{(pip.stdout + pip.stderr).strip()[-3000:]}")

    probe = subprocess.run(
        [str(py), "-c", "import ipywidgets, torch, pytest, nbval, course_utils; print(ipywidgets.__version__); "
                        "print(course_utils.__file__)"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert probe.returncode == 0, (f"the nested venv does not see the outer environment's packages "
                                   f"({', '.join(outer)}):\n{probe.stderr[-2000:]}")
    version, course_file = probe.stdout.split()
    assert version == COLAB_IPYWIDGETS, f"the venv imports ipywidgets {version!r}, not {COLAB_IPYWIDGETS}"
    assert Path(course_file).resolve().is_relative_to(ROOT), (
        f"the nested venv imports course_utils from {course_file}, not from this checkout {ROOT}")

    # 4. The widget tests with that interpreter.
    env = {**os.environ, "COURSE_EXPECT_IPYWIDGETS": COLAB_IPYWIDGETS, "MPLBACKEND": "Agg",
           "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([str(py), "-m", "pytest", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
                          *widget_tests],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    out = run.stdout + run.stderr
    header = next((ln for ln in out.splitlines() if ln.startswith("ipywidgets ")), "(no ipywidgets header line)")
    summary = out.strip().splitlines()[-1] if out.strip() else "(no output)"
    print(f"widget tests under {header}: {summary}")
    assert header.startswith(f"ipywidgets {COLAB_IPYWIDGETS} "), f"nested run used {header}\n{out[-3000:]}"
    assert run.returncode == 0, f"widget tests fail under ipywidgets {COLAB_IPYWIDGETS}:\n{out[-6000:]}"
    assert " passed" in summary, summary


@pytest.mark.parametrize("ci", ["", "true"], ids=["local", "CI"])
def test_offline_index_skips_locally_and_fails_in_ci(ci, tmp_path):
    """A real unreachable index (nothing listens on port 9): locally one SKIPPED line with the
    reason, with CI=true a failure. Seconds: the probe gives up before any venv is built."""
    if not importlib.util.find_spec("pip"):
        pytest.skip("this interpreter has no pip; the probe then runs inside the nested venv")
    env = {**os.environ, "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0", "CI": ci}
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
                        "-o", "addopts=", f"{Path(__file__).relative_to(ROOT)}::test_widget_tests_pass_under_colab_ipywidgets",
                        "--basetemp", str(tmp_path / "inner")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    if ci:
        assert r.returncode == 1 and "1 failed" in out, out[-3000:]
        assert "CI=true: the package index must be reachable" in out, out[-3000:]
    else:
        assert r.returncode == 0 and "1 skipped" in out, out[-3000:]
        reason = [ln for ln in out.splitlines() if ln.startswith("SKIPPED")]
        assert len(reason) == 1 and f"package index unreachable or without {REQUIREMENT}" in reason[0], out[-3000:]
