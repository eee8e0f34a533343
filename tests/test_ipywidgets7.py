"""The widget tests again, under ipywidgets 7.7.1 — the version Google Colab ships.

The course supports ipywidgets 7.7 (Colab) and 8.x (JupyterLab 4, Binder). Development happens on
8.x, so a Colab break would otherwise show up first in a classroom. This test builds a throwaway
virtual environment in a temporary folder *with the system site packages* (torch, matplotlib and
the course package are reused, nothing is downloaded but ipywidgets 7.7.1 and its small
dependencies), installs ``ipywidgets==7.7.1`` from PyPI into it — shadowing the system's 8.x — and
runs every widget test file (``tests/test_widgets_*.py``) with that interpreter. The nested run's
header names the ipywidgets version it imported; the test checks it is 7.7.1 and prints the summary.

About a minute (the venv and the pip install, then the widget tests). It needs PyPI (CI has it);
offline it fails with a message saying so — deselect it with ``-k "not ipywidgets7"``.
"""
from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLAB_IPYWIDGETS = "7.7.1"
_OFFLINE_HINTS = ("Could not find a version", "No matching distribution", "NewConnectionError",
                  "Failed to establish a new connection", "Temporary failure in name resolution",
                  "Network is unreachable", "ConnectTimeout", "ReadTimeout", "ProxyError")


def _venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def test_widget_tests_pass_under_colab_ipywidgets(tmp_path):
    widget_tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_widgets_*.py"))
    assert "tests/test_widgets_interactive.py" in widget_tests, "the show_interactive tests must exist"

    env_dir = tmp_path / "venv-ipywidgets7"
    try:
        venv.EnvBuilder(system_site_packages=True, with_pip=True, symlinks=os.name != "nt").create(env_dir)
    except Exception as err:
        pytest.fail(f"could not create a virtual environment with pip ({type(err).__name__}: {err}); "
                    f"on Debian/Ubuntu install the python3-venv package")
    py = _venv_python(env_dir)

    pip = subprocess.run(
        [str(py), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet",
         "--retries", "2", "--timeout", "30", f"ipywidgets=={COLAB_IPYWIDGETS}"],
        capture_output=True, text=True, timeout=600)
    if pip.returncode != 0:
        tail = (pip.stdout + pip.stderr).strip()[-2000:]
        offline = any(h in tail for h in _OFFLINE_HINTS)
        pytest.fail(
            (f"pip could not download ipywidgets=={COLAB_IPYWIDGETS} from the package index — is PyPI "
             f"reachable? (CI has PyPI; offline, deselect this test with -k 'not ipywidgets7').\n"
             if offline else f"pip install ipywidgets=={COLAB_IPYWIDGETS} into the throwaway venv failed.\n")
            + tail)

    probe = subprocess.run([str(py), "-c", "import ipywidgets; print(ipywidgets.__version__)"],
                           capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == COLAB_IPYWIDGETS, (
        f"the venv imports ipywidgets {probe.stdout.strip()!r}, not {COLAB_IPYWIDGETS}: {probe.stderr[-1000:]}")

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
