"""Build a static, readable copy of the executed course: a page and a slide deck per notebook, an index.

Usage (from the repository root)::

    python -m course_utils.site                    # every notebook, full size, into build/site
    python -m course_utils.site build/site --only 00 03   # only notebooks 00 and 03
    COURSE_FAST=1 python -m course_utils.site      # small sizes (a quick preview; CI uses this)

Each notebook is executed top to bottom in a fresh kernel (its folder as working directory, the
environment passed through, so ``COURSE_FAST``, ``COURSE_DATA_DIR`` and ``COURSE_CACHE_DIR`` apply),
then written as HTML with its figures embedded (no separate image files), so the folder can be
published on GitHub Pages or read offline. Sliders need a kernel, so each widget is replaced by the
figure it drew when the notebook ran. Beside each page, ``<name>.slides.html`` is the executed
notebook as a slide deck (:mod:`course_utils.deck`); pages and decks load nothing from the network
(MathJax is copied into ``assets/mathjax``). The default output folder, ``build/site``, is
git-ignored. A notebook that fails is still written (with its error shown) and marked in the index;
the command then exits with status 1.
"""
from __future__ import annotations

import argparse
import html
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import quote

from . import config, deck
from .atomic import write_text_atomic
from .deck import MATHJAX_URL

__all__ = ["find_notebooks", "build_site", "freeze_widgets", "drop_noise", "strip_ansi", "page_exporter",
           "deck_exporter", "write_deck", "main"]

#: Seconds one cell may run before the build reports it as hung (full size, fast mode).
CELL_TIMEOUT_S = (600, 180)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
#: Lines of executor noise (not the notebook's own output) that never belong on a page.
_NOISE = re.compile(r"Kernel is running over TCP without encryption|"
                    r"Please consider running over IPC or enabling encryption")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI colour and cursor codes (tracebacks are coloured)."""
    return _ANSI.sub("", text)


def default_notebook_dir() -> Path:
    """``notebooks/`` beside this package (a repository checkout), else ``./notebooks``."""
    here = Path(__file__).resolve().parents[1] / "notebooks"
    return here if here.is_dir() else Path("notebooks").resolve()


def find_notebooks(folder: str | Path | None = None, only: list[str] | None = None) -> list[Path]:
    """The course notebooks in ``folder``, sorted; ``only`` keeps those whose name starts with one
    of the given prefixes (``"00"``, ``"03_tsne"``, or a full file name)."""
    folder = Path(folder) if folder is not None else default_notebook_dir()
    if not folder.is_dir():
        raise ValueError(f"notebook folder {folder} does not exist; pass the folder holding the .ipynb files")
    paths = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if only:
        chosen = [p for p in paths if any(p.name.startswith(o) for o in only)]
        missing = [o for o in only if not any(p.name.startswith(o) for p in paths)]
        if missing:
            raise ValueError(f"no notebook in {folder} starts with {missing}; "
                             f"available: {[p.name for p in paths]}")
        paths = chosen
    if not paths:
        raise ValueError(f"no notebooks (*.ipynb) in {folder}")
    return paths


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def freeze_widgets(nb) -> int:
    """Replace each widget view in ``nb``'s outputs by what its Output widgets captured.

    A slider needs a kernel, but the figure it drew when the notebook ran (kept in the stored
    widget state) can be shown as a plain output, so the static page has the figure even offline.
    Returns how many widget views were frozen.
    """
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    view = "application/vnd.jupyter.widget-view+json"

    def captured(model_id: str, seen: set) -> list:
        if model_id in seen or model_id not in state:
            return []
        seen.add(model_id)
        model = state[model_id]
        if model.get("model_name") == "OutputModel":
            return list(model.get("state", {}).get("outputs", []))
        outs = []
        for child in model.get("state", {}).get("children", []):
            if isinstance(child, str) and child.startswith("IPY_MODEL_"):
                outs += captured(child[len("IPY_MODEL_"):], seen)
        return outs

    import nbformat

    frozen = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        new_outputs, shown = [], set()
        for out in cell.get("outputs", []):
            model_id = out.get("data", {}).get(view, {}).get("model_id")
            if model_id is None:
                new_outputs.append(out)
                continue
            if model_id not in shown:  # displayed and returned: show once
                shown.add(model_id)
                new_outputs += [nbformat.from_dict(o) for o in captured(model_id, set())]
                frozen += 1
        cell.outputs = new_outputs
    nb.metadata.pop("widgets", None)
    return frozen


def drop_noise(nb) -> int:
    """Remove the executor's "Kernel is running over TCP without encryption" lines from ``nb``'s
    stream outputs (outputs left empty are dropped). Returns how many lines were removed."""
    removed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                lines = out.get("text", "").splitlines(keepends=True)
                clean = [line for line in lines if not _NOISE.search(line)]
                removed += len(lines) - len(clean)
                if not clean:
                    continue
                out["text"] = "".join(clean)
            kept.append(out)
        cell.outputs = kept
    return removed


#: The page template: JupyterLab's, with each exercise's solution cell (tag ``solution``, hidden in
#: JupyterLab by ``jupyter.source_hidden``) folded into a ``<details>`` block, closed until clicked.
_PAGE_TEMPLATE = """{%- extends 'course_notes.html.j2' -%}
{% block any_cell %}
{%- if 'solution' in cell.metadata.get('tags', []) -%}
<details class="course-solution"><summary>Solution (click to reveal)</summary>
{{ super() }}
</details>
{%- else -%}{{ super() }}{%- endif -%}
{% endblock any_cell %}
"""


def speaker_notes_templates() -> dict[str, str]:
    """The template the page template extends: the offline one (:mod:`course_utils.deck`), with each speaker-notes cell (tag
    ``speaker-notes``, slide type "notes": what the presenter says on a main slide, written by
    ``tools/slide_layout.py``) folded into a closed ``<details>`` block, as the solutions are."""
    return {"course_notes.html.j2": """{%- extends 'course_offline.html.j2' -%}
{% block any_cell %}
{%- if 'speaker-notes' in cell.metadata.get('tags', []) -%}
<details class="course-speaker-notes"><summary>Speaker notes (for the presenter)</summary>
{{ super() }}
</details>
{%- else -%}{{ super() }}{%- endif -%}
{% endblock any_cell %}
"""}


def page_exporter():
    """The nbconvert ``HTMLExporter`` of the site's pages (JupyterLab look, solutions collapsed).

    Its pages load nothing from the network: MathJax from ``assets/mathjax`` beside them (copied
    by :func:`course_utils.deck.copy_mathjax`), no require.js (widgets are frozen) and no mermaid."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", template_file="course_page.html.j2",
                        mathjax_url=MATHJAX_URL, extra_loaders=[DictLoader(_templates())])


def _templates() -> dict[str, str]:
    return {"course_offline.html.j2": deck.OFFLINE_TEMPLATE, **speaker_notes_templates(),
            "course_page.html.j2": _PAGE_TEMPLATE, "course_deck.html.j2": deck.DECK_TEMPLATE}


def deck_exporter():
    """The nbconvert ``HTMLExporter`` of the site's slide decks (``<name>.slides.html``): the page
    template with cells grouped into slides (see :mod:`course_utils.deck`); offline like the pages."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", template_file="course_deck.html.j2",
                        mathjax_url=MATHJAX_URL, extra_loaders=[DictLoader(_templates())])


def write_deck(nb, target: str | Path, title: str, exporter=None) -> Path:
    """Write the executed notebook ``nb`` as a slide deck to ``target`` (skip and notes cells left
    out). The deck needs ``assets/mathjax`` beside it (:func:`course_utils.deck.copy_mathjax`)."""
    exporter = exporter if exporter is not None else deck_exporter()
    body, _ = exporter.from_notebook_node(deck.deck_notebook(nb), resources={"metadata": {"name": title}})
    return write_text_atomic(Path(target), body)


def _count_images(nb) -> int:
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if any(k.startswith("image/") for k in o.get("data", {})))


def build_site(out: str | Path | None = None, only: list[str] | None = None,
               notebook_dir: str | Path | None = None, timeout: int | None = None,
               progress: bool = True) -> list[dict]:
    """Execute the chosen notebooks and write ``out/<name>.html`` and the slide deck
    ``out/<name>.slides.html`` for each, ``out/index.html``, and MathJax into ``out/assets/mathjax``.

    ``timeout`` is the seconds one cell may run (default :data:`CELL_TIMEOUT_S`: 600 at full size,
    180 in fast mode), so a hung cell fails that notebook clearly within minutes.
    Returns one record per notebook: ``name``, ``title``, ``html`` and ``slides`` (paths), ``seconds``,
    ``images`` (figures embedded) and ``error`` (None, or the first line of the failure).
    """
    timeout = config.pick(*CELL_TIMEOUT_S) if timeout is None else timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds per cell, got {timeout!r}")
    paths = find_notebooks(notebook_dir, only)
    out = Path(out) if out is not None else config.artifact_dir() / "site"
    out.mkdir(parents=True, exist_ok=True)
    exporter = page_exporter()
    deck.copy_mathjax(out)
    # Figures must be captured as outputs: the kernel inherits this environment, and a non-inline
    # MPLBACKEND (e.g. Agg, set by the tests) would leave every page without images.
    saved_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        records = _execute_and_export(paths, out, exporter, timeout, progress)
    finally:
        if saved_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved_backend
    write_text_atomic(out / "index.html", _index_html(records))
    return records


def _execute_and_export(paths, out, exporter, timeout, progress) -> list[dict]:
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    from .headless import HeadlessClient

    records = []
    decks = deck_exporter()
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        title = _title(nb, p.stem)
        if progress:
            print(f"executing {p.name} ...", flush=True)
        t0 = time.perf_counter()
        error = None
        try:
            HeadlessClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(p.parent)}}).execute()
        except CellTimeoutError:
            error = f"a cell ran longer than the {timeout} s allowed per cell (hung?); see the page"
        except CellExecutionError as err:
            text = strip_ansi(str(err)).strip()
            error = text.splitlines()[-1] if text else type(err).__name__
        except Exception as err:  # kernel died, timeout, ...: still write the page, then report it
            error = f"{type(err).__name__}: {err}"
        seconds = time.perf_counter() - t0
        freeze_widgets(nb)
        drop_noise(nb)
        deck.offline_badges(nb)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
        target = out / (p.stem + ".html")
        write_text_atomic(target, body)
        slides = write_deck(nb, out / (p.stem + ".slides.html"), title, decks)
        rec = {"name": p.name, "title": title, "html": target, "slides": slides, "seconds": seconds,
               "images": _count_images(nb), "error": error}
        records.append(rec)
        if progress:
            state = f"FAILED: {error}" if error else "ok"
            print(f"  {p.name}: {seconds:.1f} s, {rec['images']} figure(s), {state}", flush=True)
    return records


def _index_html(records: list[dict]) -> str:
    mode = "fast mode (small sizes)" if config.FAST else "full size"
    rows = []
    for r in records:
        error = strip_ansi(r["error"]) if r["error"] else None
        status = (f'<span class="bad">failed: {html.escape(error)}</span>' if error
                  else f'{r["images"]} figure(s), executed in {r["seconds"]:.0f} s')
        slides = (f' · <a href="{_href(r["slides"].name)}">slides</a>' if r.get("slides") else "")
        rows.append(f'<li><a href="{_href(r["html"].name)}">{html.escape(r["title"])}</a>{slides}'
                    f' <small>— {status}</small></li>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AutoEncoder — a way for unsupervised learning of nonlinear manifolds</title>
<style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
li{{margin:.4rem 0}} .bad{{color:#b00}} small{{color:#555}}</style></head>
<body>
<h1>AutoEncoder — a way for unsupervised learning of nonlinear manifolds</h1>
<p><b>오토인코더: 비선형 매니폴드의 비지도 학습.</b> A static, executed copy of the course
({mode}, built {time.strftime('%Y-%m-%d')}). Sliders need a running kernel: open a notebook on
Binder or Colab (links at the top of each page) to move them. Each notebook also has its
executed slide deck ("slides": Space or PageDown next, PageUp back, ← → by slide), which, like
the pages, needs no network.</p>
<ol>
{chr(10).join(rows)}
</ol>
</body></html>
"""


def _href(file_name: str) -> str:
    """A link to a file beside the index: relative (``./``), URL-quoted, HTML-escaped, so no file
    name (``javascript:alert(1).html``) can become a scheme or break out of the attribute."""
    return html.escape("./" + quote(file_name, safe=""), quote=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.site",
        description="Execute the course notebooks and write a static HTML copy with an index page.")
    parser.add_argument("out", nargs="?", type=Path, default=None,
                        help="output folder (default: build/site, git-ignored)")
    parser.add_argument("--only", nargs="+", metavar="PREFIX",
                        help="notebook name prefixes to build, e.g. --only 00 03 (default: all)")
    parser.add_argument("--notebooks", type=Path, default=None, help="folder of the notebooks")
    parser.add_argument("--timeout", type=int, default=None,
                        help=f"seconds allowed per cell (default {CELL_TIMEOUT_S[0]}, "
                             f"{CELL_TIMEOUT_S[1]} in fast mode)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        records = build_site(args.out, args.only or None, args.notebooks, args.timeout)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = records[0]["html"].parent
    failed = [r["name"] for r in records if r["error"]]
    print(f"Wrote {len(records)} page(s), their slide decks and index.html to {out} in {time.perf_counter() - t0:.0f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    print(f"Open {out / 'index.html'} in a browser.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
