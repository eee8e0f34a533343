"""Keep every notebook's badges and Colab setup cell, and the README's badges, in step with ONE address.

The repository's public address lives in one place: ``pyproject.toml`` → ``[project.urls]``
``Repository``. This maintainer tool derives from it

* the "Open in Colab" and "Binder" badge lines of every notebook's title cell,
* every notebook's first code cell (tag ``course-setup``, slide "skip"): the Colab-only install,
* the README's badge pair at the top, the address stated in its first lines (between
  ``<!-- repository:start -->`` and ``<!-- repository:end -->``) and its table of per-notebook
  Colab/Binder links (between ``<!-- notebook-links:start -->`` and ``<!-- notebook-links:end -->``),

and it checks the delivery rules of a notebook: slide metadata on every cell, outputs cleared
(no stored images or widget state), kernel metadata, and the exact setup cell.

Usage (from anywhere)::

    python tools/sync_notebooks.py            # rewrite what disagrees, report what changed
    python tools/sync_notebooks.py --check    # change nothing; exit 1 and list every disagreement

It lives in ``tools/`` rather than ``course_utils`` on purpose: it edits repository files
(README, notebooks) that an installed copy of the package — e.g. the one Colab pip-installs — does
not have, so it is maintainer tooling, not part of what learners install.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python tools/sync_notebooks.py` from a checkout, installed or not
    sys.path.insert(0, str(ROOT))
from course_utils.atomic import write_text_atomic  # noqa: E402
SETUP_TAG = "course-setup"
SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
COLAB_BRANCH = "main"   # Colab opens a file on a branch
BINDER_REF = "HEAD"     # Binder builds the default branch's latest commit
LINKS_START, LINKS_END = "<!-- notebook-links:start -->", "<!-- notebook-links:end -->"
REPO_START, REPO_END = "<!-- repository:start -->", "<!-- repository:end -->"  # the address, in words

_COLAB_BADGE_RE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)[ \t]*$", re.M)
_BINDER_BADGE_RE = re.compile(r"^\[!\[Binder\]\([^)]*\)\]\([^)]*\)[ \t]*$", re.M)


# --- the one source of truth ------------------------------------------------------------------

def repository_url(root: Path = ROOT) -> str:
    """``[project.urls] Repository`` of ``root/pyproject.toml``, e.g. ``https://github.com/o/r``."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+
        url = tomllib.loads(text).get("project", {}).get("urls", {}).get("Repository")
    except ModuleNotFoundError:  # Python 3.10: read the one line we need
        section = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        m = section and re.search(r'^Repository\s*=\s*"([^"]+)"', section.group(1), re.M)
        url = m.group(1) if m else None
    if not url:
        raise ValueError(f"{root / 'pyproject.toml'} has no [project.urls] Repository entry")
    github_slug(url)  # validate
    return url.rstrip("/")


def github_slug(url: str) -> str:
    """``owner/name`` of a GitHub address; ValueError for anything else (Colab/Binder need GitHub)."""
    m = re.fullmatch(r"https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?", url or "")
    if not m:
        raise ValueError(f"Repository URL must look like https://github.com/OWNER/NAME, got {url!r}")
    return f"{m.group(1)}/{m.group(2)}"


# --- what each generated piece must say ---------------------------------------------------------

def colab_url(url: str, notebook: str) -> str:
    return f"https://colab.research.google.com/github/{github_slug(url)}/blob/{COLAB_BRANCH}/notebooks/{notebook}"


def binder_url(url: str, notebook: str) -> str:
    return f"https://mybinder.org/v2/gh/{github_slug(url)}/{BINDER_REF}?urlpath=lab/tree/notebooks/{notebook}"


def colab_badge(url: str, notebook: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(url, notebook)})"


def binder_badge(url: str, notebook: str) -> str:
    return f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(url, notebook)})"


def setup_source(url: str) -> str:
    """The exact text of every notebook's setup cell."""
    return (
        "# Setup — on Colab this installs the course package (torch is already there); elsewhere it does nothing.\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "autoencoder-course @ git+{url}"'
    )


def notebook_paths(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


# --- notebooks ---------------------------------------------------------------------------------

def _with_badges(source: str, url: str, name: str) -> str:
    """``source`` (a title cell) with exactly one canonical Colab line then one Binder line."""
    lines = source.split("\n")
    keep = [ln for ln in lines if not (_COLAB_BADGE_RE.match(ln) or _BINDER_BADGE_RE.match(ln))]
    badge_at = next((i for i, ln in enumerate(lines) if _COLAB_BADGE_RE.match(ln) or _BINDER_BADGE_RE.match(ln)), None)
    pair = [colab_badge(url, name), binder_badge(url, name)]
    if badge_at is None:  # none yet: add after the text, separated by a blank line
        while keep and not keep[-1].strip():
            keep.pop()
        return "\n".join(keep + [""] + pair)
    insert_at = sum(1 for ln in lines[:badge_at] if not (_COLAB_BADGE_RE.match(ln) or _BINDER_BADGE_RE.match(ln)))
    return "\n".join(keep[:insert_at] + pair + keep[insert_at:])


def _new_setup_cell(url: str):
    cell = nbformat.v4.new_code_cell(setup_source(url))
    cell.metadata["slideshow"] = {"slide_type": "skip"}
    cell.metadata["tags"] = [SETUP_TAG]
    return cell


def sync_notebook(nb, url: str, name: str) -> list[str]:
    """Bring ``nb``'s badges and setup cell in line with ``url`` (in place); return what changed."""
    changes = []
    title = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if title is None:
        raise ValueError(f"{name}: no markdown title cell to put the badges in")
    fixed = _with_badges(title.source, url, name)
    if fixed != title.source:
        title.source = fixed
        changes.append("badges")
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = code[0] if code and SETUP_TAG in code[0].metadata.get("tags", []) else None
    if setup is None:
        tagged = [c for c in code if SETUP_TAG in c.metadata.get("tags", [])]
        if tagged:  # tagged but not first: move it to be the first code cell
            setup = tagged[0]
            nb.cells.remove(setup)
        else:
            setup = _new_setup_cell(url)
            if "id" in title:  # nbformat >= 4.5 notebooks carry cell ids
                setup["id"] = "course-setup"
        nb.cells.insert(nb.cells.index(title) + 1, setup)
        changes.append("setup cell placed first")
    if setup.source != setup_source(url):
        setup.source = setup_source(url)
        changes.append("setup cell text")
    if setup.metadata.get("slideshow", {}).get("slide_type") != "skip":
        setup.metadata.setdefault("slideshow", {})["slide_type"] = "skip"
        changes.append("setup cell slide type")
    return changes


def check_notebook(nb, url: str, name: str) -> list[str]:
    """Every way ``nb`` breaks the delivery rules (empty list when it is fine)."""
    problems = []
    probe = copy.deepcopy(nb)
    for change in sync_notebook(probe, url, name):
        problems.append(f"{name}: {change} disagree with pyproject's Repository {url} "
                        f"(run `python tools/sync_notebooks.py`)")
    ks = nb.metadata.get("kernelspec", {})
    if ks.get("name") != "python3" or ks.get("language", "python") != "python":
        problems.append(f"{name}: kernelspec must be python3 (Python), got {dict(ks)!r}")
    if nb.metadata.get("language_info", {}).get("name") != "python":
        problems.append(f"{name}: metadata.language_info.name must be 'python'")
    if "widgets" in nb.metadata:
        problems.append(f"{name}: stored widget state in metadata.widgets (clear it before committing)")
    for i, cell in enumerate(nb.cells):
        where = f"{name} cell {i} ({cell.cell_type}: {cell.source[:40]!r})"
        slide = cell.metadata.get("slideshow", {}).get("slide_type")
        if slide not in SLIDE_TYPES:
            problems.append(f"{where}: slideshow.slide_type must be one of {SLIDE_TYPES}, got {slide!r}")
        if cell.cell_type == "code":
            if cell.get("outputs"):
                kinds = sorted({k for o in cell.outputs for k in o.get("data", {})} | {o.output_type for o in cell.outputs})
                problems.append(f"{where}: stored outputs {kinds} (clear outputs before committing)")
            if cell.get("execution_count") is not None:
                problems.append(f"{where}: stored execution_count (clear outputs before committing)")
        if cell.get("attachments"):
            problems.append(f"{where}: embedded attachments (images belong in outputs of running code)")
    setups = [i for i, c in enumerate(nb.cells) if SETUP_TAG in c.metadata.get("tags", [])]
    if len(setups) > 1:
        problems.append(f"{name}: {len(setups)} cells tagged {SETUP_TAG!r}; exactly one expected")
    return problems


# --- README ------------------------------------------------------------------------------------

def readme_links_table(url: str, paths: list[Path]) -> str:
    rows = [LINKS_START,
            "| notebook | open on Colab | open on Binder |",
            "|---|---|---|"]
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        rows.append(f"| [{_title(nb) or p.stem}](notebooks/{p.name}) | [Colab]({colab_url(url, p.name)}) "
                    f"| [Binder]({binder_url(url, p.name)}) |")
    rows.append(LINKS_END)
    return "\n".join(rows)


def sync_readme(text: str, url: str, paths: list[Path]) -> tuple[str, list[str]]:
    """README ``text`` with canonical top badges (opening notebook 00) and the per-notebook table."""
    changes = []
    first = paths[0].name if paths else "00_start_here.ipynb"
    out = _BINDER_BADGE_RE.sub(binder_badge(url, first), text, count=1)
    out = _COLAB_BADGE_RE.sub(colab_badge(url, first), out, count=1)
    if not _BINDER_BADGE_RE.search(out) or not _COLAB_BADGE_RE.search(out):
        raise ValueError("README.md needs a Binder and an 'Open In Colab' badge line near the top")
    if out != text:
        changes.append("README badges")
    if REPO_START in out and REPO_END in out:
        a, b = out.index(REPO_START), out.index(REPO_END) + len(REPO_END)
        stated = f"{REPO_START}[`{github_slug(url)}`]({url}){REPO_END}"
        if out[a:b] != stated:
            out = out[:a] + stated + out[b:]
            changes.append("README repository address")
    if LINKS_START in out and LINKS_END in out:
        a, b = out.index(LINKS_START), out.index(LINKS_END) + len(LINKS_END)
        table = readme_links_table(url, paths)
        if out[a:b] != table:
            out = out[:a] + table + out[b:]
            changes.append("README notebook links")
    return out, changes


# --- the command -------------------------------------------------------------------------------

def run(root: Path = ROOT, check: bool = False) -> list[str]:
    """Sync (or with ``check``, only inspect) every notebook and the README; return the findings."""
    url = repository_url(root)
    paths = notebook_paths(root)
    findings: list[str] = []
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        if check:
            findings += check_notebook(nb, url, p.name)
            continue
        changes = sync_notebook(nb, url, p.name)
        if changes:
            nbformat.validate(nb)
            write_notebook(nb, p)
            findings.append(f"{p.name}: updated {', '.join(changes)}")
        findings += check_notebook(nb, url, p.name)  # what syncing cannot fix
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    fixed, changes = sync_readme(text, url, paths)
    if changes:
        if check:
            findings += [f"README.md: {c} are out of date (a notebook added or renamed, or the Repository "
                         f"address {url} changed; run `python tools/sync_notebooks.py`)" for c in changes]
        else:
            write_text_atomic(readme, fixed)
            findings.append(f"README.md: updated {', '.join(changes)}")
    return findings


def write_notebook(nb, path: Path) -> None:
    """Write ``nb`` to ``path`` as ``nbformat.write`` would, through a temp file and a rename."""
    text = nbformat.writes(nb)
    write_text_atomic(path, text if text.endswith("\n") else text + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on any disagreement")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    findings = run(args.root.resolve(), check=args.check)
    url = repository_url(args.root.resolve())
    n = len(notebook_paths(args.root.resolve()))
    for f in findings:
        print(f)
    bad = [f for f in findings if ": updated " not in f]
    print(f"{n} notebooks + README checked against {url}: "
          + ("all consistent" if not findings else f"{len(findings) - len(bad)} updated, {len(bad)} problems"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
