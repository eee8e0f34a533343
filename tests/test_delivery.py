"""Delivery: Binder files, Colab badges/setup cells from ONE address, slides, prepare, static site.

Cheap by design: one ``nbconvert --to slides`` call for all notebooks, the static build of notebook
00 only, and prepare's real run in fast mode (whose cache is then handed to the notebook tests, so
CI trains nothing twice). The ipywidgets 7.7.1 run lives in tests/test_ipywidgets7.py.
"""
from __future__ import annotations

import copy
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import nbformat
import pytest

from course_utils import config, prepare, site

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _load_sync():
    spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "tools" / "sync_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sync = _load_sync()


def _env(**extra) -> dict:
    return {**os.environ, "MPLBACKEND": "Agg", **extra}


# --- Binder -------------------------------------------------------------------------------------

def _requirement_names(path: Path) -> set[str]:
    names = set()
    for ln in path.read_text().splitlines():
        ln = ln.split("#", 1)[0].strip()
        if ln and not ln.startswith("-"):
            names.add(re.split(r"[<>=!~;\[ ]", ln, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_binder_configuration_is_sane():
    binder = ROOT / "binder"
    assert (binder / "runtime.txt").read_text().strip() == "python-3.12"

    req = [ln.split("#", 1)[0].strip() for ln in (binder / "requirements.txt").read_text().splitlines()]
    req = [ln for ln in req if ln]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in req, "CPU-only torch wheels"
    assert any(re.fullmatch(r"torch(>=[\d.]+)?", ln) for ln in req)
    assert any(re.fullmatch(r"torchvision(>=[\d.]+)?", ln) for ln in req)
    assert not any("--index-url" in ln and "--extra" not in ln for ln in req), "PyPI must stay the main index"
    # No local reference (repo2docker's rule): then the pip layer is built from this file alone and
    # reused by every commit that leaves it unchanged. The course package comes from postBuild.
    local = [ln for ln in req if ln.startswith(("-r", "-c", "-e", "--requirement", "--constraint", "--editable", "."))
             or "file://" in ln]
    assert not local, f"binder/requirements.txt must hold third-party packages only, found {local}"
    missing = _requirement_names(ROOT / "requirements.txt") - _requirement_names(binder / "requirements.txt") \
        - {"nbval", "pytest"}  # test-only
    assert not missing, f"binder/requirements.txt lacks {sorted(missing)} of requirements.txt"

    post = binder / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable (git update-index --chmod=+x)"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") or text.startswith("#!/bin/bash\n")
    assert re.search(r"^set -[a-z]*e[a-z]*( |$)", text, re.M), "postBuild must stop on the first error (set -e)"
    assert re.search(r"^python -m pip install .*--no-deps -e \.$", text, re.M), "postBuild installs the package"
    assert re.search(r"^\. binder/start$", text, re.M), "postBuild caps threads as binder/start does"
    assert "ensure_mnist" in text and "python -m course_utils.prepare" in text
    assert subprocess.run(["bash", "-n", str(post)]).returncode == 0, "postBuild has a bash syntax error"
    jobs = re.search(r"^BINDER_PREPARE_JOBS=\((.*?)^\)", text, re.M | re.S)
    assert jobs, "postBuild names the jobs it pre-trains in BINDER_PREPARE_JOBS=( ... )"
    jobs = [ln.split("#", 1)[0].strip() for ln in jobs.group(1).splitlines()]
    jobs = [j for j in jobs if j]
    known = list(prepare.JOBS)
    assert jobs and set(jobs) <= set(known), f"postBuild's jobs {sorted(set(jobs) - set(known))} are not in {known}"


@pytest.mark.parametrize("cpu_max, expected", [("150000 100000", 1), ("50000 100000", 1), ("max 100000", None)])
def test_binder_start_caps_threads_at_the_cgroup_quota(tmp_path, cpu_max, expected):
    start = ROOT / "binder" / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable"
    assert start.read_text().rstrip().endswith('exec "$@"\nfi'), "binder/start must end by exec-ing its command"
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    env = {k: v for k, v in os.environ.items() if k != "COURSE_THREADS"}
    r = subprocess.run([str(start), sys.executable, "-c",
                        "import os, torch; print(os.environ['OMP_NUM_THREADS'], torch.get_num_threads())"],
                       env={**env, "COURSE_CGROUP_ROOT": str(tmp_path)}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    want = expected if expected is not None else min(nproc, 2)
    assert r.stdout.split() == [str(want), str(want)], (cpu_max, r.stdout, r.stderr)


# --- Colab: one address, badges, setup cells ---------------------------------------------------------

def test_every_notebook_and_the_readme_agree_with_the_one_repository_address():
    assert NOTEBOOKS, "no notebooks found"
    url = sync.repository_url(ROOT)
    assert sync.github_slug(url) == "hanyang-ai-lab/autoencoder-course"
    problems = sync.run(ROOT, check=True)
    assert problems == [], "\n".join(problems)
    # and the setup cell installs from that address, on Colab only
    for p in NOTEBOOKS:
        nb = nbformat.read(p, as_version=4)
        setup = next(c for c in nb.cells if c.cell_type == "code")
        assert setup.metadata["tags"] == ["course-setup"] or "course-setup" in setup.metadata["tags"], p.name
        assert f"git+{url}" in setup.source and 'if "google.colab" in sys.modules:' in setup.source


def _copy_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, root / name)
    for p in NOTEBOOKS:
        shutil.copy(p, root / "notebooks" / p.name)
    return root


def test_sync_rewrites_every_badge_and_setup_cell_from_pyproject(tmp_path):
    root = _copy_repo(tmp_path)
    first = NOTEBOOKS[0].name
    # a fork: change the one address
    py = root / "pyproject.toml"
    py.write_text(py.read_text().replace("github.com/hanyang-ai-lab/autoencoder-course", "github.com/someone/ae-fork"))
    # a notebook written without badges or setup cell
    nb = nbformat.read(root / "notebooks" / first, as_version=4)
    title = nb.cells[0]
    title.source = "\n".join(ln for ln in title.source.splitlines() if "badge" not in ln)
    nb.cells = [c for c in nb.cells if "course-setup" not in c.metadata.get("tags", [])]
    nbformat.write(nb, root / "notebooks" / "99_new.ipynb")

    problems = sync.run(root, check=True)
    assert any("99_new.ipynb: badges" in p for p in problems)
    assert any("99_new.ipynb: setup cell placed first" in p for p in problems)
    assert any(f"{first}: setup cell text" in p for p in problems)
    assert any("README.md: README badges" in p for p in problems)
    assert sync.main(["--check", "--root", str(root)]) == 1

    changed = sync.run(root)
    assert all(": updated " in c for c in changed), changed
    assert sync.run(root, check=True) == []
    for p in sorted((root / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        assert "hanyang-ai-lab" not in text, p.name
        assert f"colab.research.google.com/github/someone/ae-fork/blob/main/notebooks/{p.name}" in nb.cells[0].source
        assert f"mybinder.org/v2/gh/someone/ae-fork/HEAD?urlpath=lab/tree/notebooks/{p.name}" in nb.cells[0].source
        setup = nb.cells[1]
        assert setup.source == sync.setup_source("https://github.com/someone/ae-fork")
        assert setup.metadata["slideshow"]["slide_type"] == "skip" and "course-setup" in setup.metadata["tags"]
    readme = (root / "README.md").read_text()
    assert "hanyang-ai-lab" not in readme.split("## Credits")[0]
    with pytest.raises(ValueError, match="github.com/OWNER/NAME"):
        sync.github_slug("https://gitlab.com/a/b")


def test_sync_replaces_files_through_a_rename_never_in_place(tmp_path):
    """A hard link to the old README and notebook keeps the old text: sync wrote new files and
    renamed them into place (an in-place write would change the linked copy too, and a crash
    half way would leave a truncated notebook)."""
    root = _copy_repo(tmp_path)
    py = root / "pyproject.toml"
    py.write_text(py.read_text().replace("github.com/hanyang-ai-lab/autoencoder-course", "github.com/someone/ae-fork"))
    first = root / "notebooks" / NOTEBOOKS[0].name
    links = {p: tmp_path / (p.name + ".old") for p in (root / "README.md", first)}
    for p, link in links.items():
        os.link(p, link)
    before = {p: p.read_text(encoding="utf-8") for p in links}
    assert all(": updated " in c for c in sync.run(root))
    for p, link in links.items():
        assert link.read_text(encoding="utf-8") == before[p], f"{p.name} was rewritten in place"
        assert p.read_text(encoding="utf-8") != before[p] and "someone/ae-fork" in p.read_text(encoding="utf-8")
    assert nbformat.read(first, as_version=4).cells
    assert not [p for p in root.rglob(".*.tmp")], "a temp file was left behind"


def test_delivery_check_catches_outputs_missing_slides_and_kernel():
    url = sync.repository_url(ROOT)
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    name = NOTEBOOKS[0].name
    assert sync.check_notebook(nb, url, name) == []
    bad = copy.deepcopy(nb)
    code = next(i for i, c in enumerate(bad.cells) if c.cell_type == "code" and i > 2)
    bad.cells[code].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"})]
    bad.cells[code].execution_count = 3
    del bad.cells[0].metadata["slideshow"]
    bad.metadata["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    bad.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    found = "\n".join(sync.check_notebook(bad, url, name))
    for needle in ("stored outputs ['display_data', 'image/png']", "execution_count", "slide_type",
                   "kernelspec", "widget state"):
        assert needle in found, (needle, found)


# --- Live seminar: slides ---------------------------------------------------------------------------

def _slide_counts(html: str) -> tuple[int, int]:
    """(horizontal slides, all slides) of a reveal.js export: depth-1 and leaf <section>s."""
    start = html.index('<div class="slides">')
    depth, horizontal, leaves, last_open = 0, 0, 0, False
    for m in re.finditer(r"<section\b[^>]*>|</section>", html[start:]):
        if m.group(0).startswith("<section"):
            depth += 1
            horizontal += depth == 1
            last_open = True
        else:
            leaves += last_open  # a section that closes with no section inside it is a slide
            last_open = False
            depth -= 1
            if depth < 0:
                raise AssertionError("unbalanced <section> tags")
    assert depth == 0, "unbalanced <section> tags"
    return horizontal, leaves


@pytest.mark.system
def test_every_notebook_exports_to_sensible_slides(tmp_path):
    out = tmp_path / "slides"
    res = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "slides", "--output-dir", str(out),
                          *map(str, NOTEBOOKS)], capture_output=True, text=True, env=_env(), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    for p in NOTEBOOKS:
        nb = nbformat.read(p, as_version=4)
        kinds = [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in nb.cells]
        shown = [k for k in kinds if k not in ("skip", "notes")]
        lead = 0 if shown and shown[0] in ("slide", "subslide") else 1  # content before any slide cell
        n_slide, n_sub = kinds.count("slide"), kinds.count("subslide")
        horizontal, total = _slide_counts((out / f"{p.stem}.slides.html").read_text(encoding="utf-8"))
        print(f"{p.name}: {total} slides ({horizontal} horizontal)")
        assert 5 <= total <= 80, f"{p.name}: {total} slides; a lesson should have 5..80"
        assert horizontal == n_slide + lead and total == n_slide + n_sub + lead, (
            f"{p.name}: export has {horizontal}/{total} slides, metadata says {n_slide} slides + {n_sub} subslides")


# --- Live seminar: prepare ------------------------------------------------------------------------

def test_prepare_runs_its_explicit_job_list_and_caches(tmp_cache, monkeypatch):
    """prepare runs the jobs of prepare.JOBS (named, in order), nothing found by reflection: a real
    job trains once, and a second run only loads from the cache."""
    import inspect

    for name, f in prepare.JOBS.items():
        required = [p for p in inspect.signature(f).parameters.values() if p.default is p.empty]
        assert not required, f"job {name} needs arguments {required}"
    assert [n for n, _ in prepare.jobs()] == list(prepare.JOBS)
    sizes = dict(config.SIZES)
    sizes.update({"mnist_train": (500, 500), "mnist_test": (200, 200), "ae_epochs": (1, 1)})
    monkeypatch.setattr(config, "SIZES", sizes)
    first = prepare.prepare(only=["pca_fit", "latent_models"], progress=False)
    assert [r["name"] for r in first] == ["latent_models", "pca_fit"]      # JOBS order, not the caller's
    assert "6 model(s)" in first[0]["what"] and len(first[0]["files"]) == 6
    assert [p.name.split("-")[0] for p in first[1]["files"]] == ["pca"]
    second = prepare.prepare(only=["pca_fit", "latent_models"], progress=False)
    assert all(r["files"] == [] for r in second), "a second prepare must load from the cache, not retrain"
    with pytest.raises(ValueError, match=r"unknown job\(s\) \['nope'\]"):
        prepare.prepare(only=["nope"], progress=False)


@pytest.mark.system
def test_prepare_command_fills_the_session_cache_then_only_loads(prepared_cache):
    """``python -m course_utils.prepare`` (run once per test session by the ``prepared_cache``
    fixture, into the session's COURSE_CACHE_DIR) reports every job; a second run trains nothing."""
    first = prepared_cache
    for name in prepare.JOBS:
        assert re.search(rf"^  {name} ", first, re.M), f"{name} not reported:\n{first}"
    assert re.search(rf"Done: {len(prepare.JOBS)} model set\(s\) in [\d.]+ s", first), first
    cmd = [sys.executable, "-m", "course_utils.prepare"]
    second = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert second.returncode == 0 and "trained," not in second.stdout, second.stdout
    print(first.splitlines()[-1], "| rerun:", second.stdout.splitlines()[-1])


# --- Readers without a kernel: static site -------------------------------------------------------------

def _widget_notebook() -> nbformat.NotebookNode:
    """A two-cell notebook whose only figure is drawn behind a slider (show_interactive)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 · Widget page"), nbformat.v4.new_code_cell(textwrap.dedent("""
        import ipywidgets as W
        import matplotlib.pyplot as plt
        from course_utils.widgets import show_interactive

        def callback(a=0.5):
            fig, ax = plt.subplots()
            ax.plot([0, 1], [0, a])
            return fig, {"a": a}

        show_interactive(callback, a=W.FloatSlider(value=0.5, min=0.0, max=1.0))
        """).strip())]
    return nb


@pytest.mark.system
def test_static_site_of_notebook_00_and_a_widget_page(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    shutil.copy(NOTEBOOKS[0], src / NOTEBOOKS[0].name)
    nbformat.write(_widget_notebook(), src / "99_widget.ipynb")
    out = tmp_path / "site"
    # --only selects notebooks; here 00 and the widget page (any other notebook would be left out)
    res = subprocess.run([sys.executable, "-m", "course_utils.site", str(out), "--notebooks", str(src),
                          "--only", "00", "99"],
                         cwd=tmp_path, env=_env(COURSE_FAST="1"), capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    pages = sorted(p.name for p in out.glob("*.html"))
    assert pages == ["00_start_here.html", "00_start_here.slides.html", "99_widget.html", "99_widget.slides.html",
                     "index.html"], pages
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="./00_start_here.html"' in index and 'href="./99_widget.html"' in index and "failed" not in index
    figure = r'<img[^>]+src="data:image/png;base64,[A-Za-z0-9+/=\s]{1000,}'
    page = (out / "00_start_here.html").read_text(encoding="utf-8")
    assert re.search(figure, page), "no embedded figure in notebook 00's page"
    assert "Start here" in page and "Traceback" not in page
    n_solutions = sum("solution" in c.metadata.get("tags", []) for c in nbformat.read(NOTEBOOKS[0], 4).cells)
    folded = re.findall(r'<details class="course-solution">.*?</details>', page, re.S)
    assert n_solutions >= 1 and len(folded) == n_solutions and all("Solution" in f for f in folded), \
        "each solution cell of notebook 00 is folded into a closed <details> block"
    widget_page = (out / "99_widget.html").read_text(encoding="utf-8")
    assert len(re.findall(figure, widget_page)) == 1, "the slider's figure must appear once, as a plain image"
    widget_deck = (out / "99_widget.slides.html").read_text(encoding="utf-8")
    assert len(re.findall(figure, widget_deck)) == 1, "the deck shows the slider's figure too, once"
    with pytest.raises(ValueError, match="no notebook in .* starts with"):
        site.find_notebooks(src, only=["42"])
    assert [p.name for p in site.find_notebooks(ROOT / "notebooks", only=["00"])] == [NOTEBOOKS[0].name]


def test_build_folder_is_not_committed():
    ignored = subprocess.run(["git", "check-ignore", "-q", "build/site/index.html"], cwd=ROOT)
    if ignored.returncode == 128:
        pytest.skip("not a git checkout")
    assert ignored.returncode == 0, "build/ must be in .gitignore"


@pytest.mark.system
def test_jupyterlab_extensions_are_the_slideshows_and_all_compatible():
    """`jupyter labextension list` in this environment (this Python, not the first `jupyter` on PATH): the slideshow (jupyterlab-deck) and the widget
    manager are enabled and OK, and no extension is flagged incompatible with this JupyterLab (as
    jupyterlab-rise's @jupyterlab/mathjax3-extension was: built for JupyterLab 3)."""
    res = subprocess.run([sys.executable, "-m", "jupyterlab.labextensions", "list"], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    text = re.sub(r"\x1b\[[0-9;]*m", "", res.stdout + res.stderr)
    assert res.returncode == 0, text[-2000:]
    for ext in ("@deathbeds/jupyterlab-deck", "@jupyter-widgets/jupyterlab-manager"):
        assert re.search(rf"^\s*{re.escape(ext)} v\S+ enabled\s+OK", text, re.M), \
            f"{ext} is not installed and enabled (pip install -r requirements.txt):\n{text}"
    flagged = [ln.strip() for ln in text.splitlines() if re.search(r"\sX(\s|$)", ln)]
    assert "incompatible" not in text and not flagged, f"extensions flagged incompatible: {flagged}\n{text}"
