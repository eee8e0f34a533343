"""Colab's setup cell, run for real against this checkout: it installs the course package and nothing else.

Every notebook's first code cell (written by ``tools/sync_notebooks.py``, tag ``course-setup``) is

    import sys
    if "google.colab" in sys.modules:
        %pip install -q "autoencoder-course @ git+https://github.com/OWNER/NAME"

On Colab torch, torchvision, numpy, matplotlib, scikit-learn, ipywidgets … are already installed, so
that line must add only the course package: reinstalling torch would cost a learner minutes and
gigabytes. This test takes notebook 00's setup cell as it is, points its URL at this checkout
(``git+file://``: pip clones the committed HEAD, as it would clone GitHub), adds
``--dry-run --report``, and runs the cell in a real IPython shell — so the ``%pip`` magic and the
``google.colab`` guard are the ones Colab runs — once with a stand-in ``google.colab`` module
importable (the guard opens) and once without (the cell does nothing). The current environment
plays Colab's preinstalled packages. It needs git and pip ≥ 22.2 (``--dry-run``, ``--report``), and
pip fetches the build backend (setuptools) from the package index as it does on Colab; without
those it is skipped with the reason (with ``CI=true`` an unreachable index fails instead).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"
PACKAGE = "autoencoder-course"
_PIP_LINE = re.compile(r'^(?P<indent>\s*)%pip install (?P<opts>[^"]*)"' + re.escape(PACKAGE)
                       + r' @ git\+(?P<url>[^"]+)"\s*$', re.M)
_OFFLINE = ("No matching distribution found for setuptools", "NewConnectionError", "Network is unreachable",
            "Temporary failure in name resolution", "Failed to establish a new connection")

RUNNER = textwrap.dedent("""
    import sys
    from IPython.core.interactiveshell import InteractiveShell
    if sys.argv[2] == "colab":
        import google.colab  # the stand-in: the guard sees "google.colab" in sys.modules
    shell = InteractiveShell.instance()
    result = shell.run_cell(open(sys.argv[1], encoding="utf-8").read())
    result.raise_error()
    print("PIP EXIT CODE", shell.user_ns.get("_exit_code"))
""")


def _setup_cell() -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "course-setup" in c.metadata.get("tags", [])]
    assert cells, f"{NOTEBOOK.name} has no setup cell (tag course-setup); run tools/sync_notebooks.py"
    return cells[0].source


def _requirements():
    if not shutil.which("git"):
        pytest.skip("git is not installed: pip cannot clone a git+ URL")
    if not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git checkout")
    helptext = subprocess.run([sys.executable, "-m", "pip", "install", "--help"],
                              capture_output=True, text=True, timeout=120).stdout
    if "--dry-run" not in helptext or "--report" not in helptext:
        pytest.skip("this pip has no `install --dry-run --report` (pip >= 22.2 has)")


def _run_cell(source: str, tmp_path: Path, colab: bool) -> subprocess.CompletedProcess:
    fake = tmp_path / "fake-colab"
    (fake / "google" / "colab").mkdir(parents=True, exist_ok=True)  # namespace `google`, like Colab's
    (fake / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab\'s google.colab."""\n')
    cell = tmp_path / "setup_cell.ipy"
    cell.write_text(source, encoding="utf-8")
    runner = tmp_path / "run_cell.py"
    runner.write_text(RUNNER, encoding="utf-8")
    # PYTHONPATH holds only the stand-in: a checkout on it (e.g. PYTHONPATH=$PWD with a leftover
    # autoencoder_course.egg-info) would count for pip as the course "already installed".
    env = {**os.environ, "PYTHONPATH": str(fake) if colab else "",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    return subprocess.run([sys.executable, str(runner), str(cell), "colab" if colab else "local"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


def test_colab_setup_cell_installs_only_the_course_package(tmp_path):
    _requirements()
    source = _setup_cell()
    m = _PIP_LINE.search(source)
    assert m, f"the setup cell has no `%pip install ... \"{PACKAGE} @ git+URL\"` line:\n{source}"
    assert 'if "google.colab" in sys.modules:' in source, "the install must be guarded to run on Colab only"

    # This checkout instead of GitHub. ``file://localhost/...``: pip < 24 rejects an empty host.
    local_url = f"file://localhost{ROOT.as_posix()}"
    report = tmp_path / "report.json"
    line = (f'{m["indent"]}%pip install {m["opts"]}"{PACKAGE} @ git+{local_url}" '
            f'--dry-run --report "{report}"')
    cell = source[:m.start()] + line + source[m.end():]

    # Not on Colab: the cell does nothing.
    off = _run_cell(cell, tmp_path, colab=False)
    assert off.returncode == 0, off.stdout[-3000:] + off.stderr[-3000:]
    assert not report.exists() and "PIP EXIT CODE None" in off.stdout, off.stdout[-3000:]

    # On "Colab": the %pip magic runs pip with this interpreter.
    on = _run_cell(cell, tmp_path, colab=True)
    out = on.stdout + on.stderr
    assert on.returncode == 0, out[-4000:]
    if "PIP EXIT CODE 0" not in on.stdout and any(h in out for h in _OFFLINE):
        reason = "pip could not fetch the build backend (setuptools) from the package index"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason} (CI=true):\n{out[-3000:]}")
        pytest.skip(reason)
    assert "PIP EXIT CODE 0" in on.stdout, f"the setup cell's pip failed:\n{out[-4000:]}"
    assert report.is_file(), f"pip wrote no report:\n{out[-3000:]}"

    installs = json.loads(report.read_text(encoding="utf-8"))["install"]
    names = [i["metadata"]["name"] for i in installs]
    assert names == [PACKAGE], (f"on Colab the setup cell would install {names}, not only {PACKAGE}: "
                                f"a dependency of the course is missing from (or too old in) this environment, "
                                f"or the package pins something Colab does not have")
    course = installs[0]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert course["download_info"].get("vcs_info", {}).get("commit_id") == head, course["download_info"]
    requires = " ".join(course["metadata"].get("requires_dist", []))
    assert "torch" in requires and "ipywidgets" in requires, requires  # present, hence not reinstalled
