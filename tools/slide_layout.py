"""Slide layout of the course notebooks for the live seminar (jupyterlab-deck, 1280×720).

Two levers, both cell metadata only (the notebook's teaching content is untouched):
- ``slideshow.slide_type``: "subslide" puts a cell on a slide of its own, "fragment" adds it to the
  slide above, "skip" leaves it out of the slideshow;
- a cell whose code is long shows only its output (the figure) on the slide ("output_only"), or
  is drawn a little smaller there ("zoom", e.g. 0.9); in the notebook nothing changes.
  jupyterlab-deck applies a cell's ``@deathbeds/jupyterlab-fonts`` styles, here scoped to
  presenting mode (:data:`PRESENTING`).

Usage: ``python tools/slide_layout.py`` applies :data:`LAYOUT` (idempotent), then run
``python tools/sync_notebooks.py``. ``tests/test_browser.py`` measures every slide of 04 and 06.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FONTS_KEY = "@deathbeds/jupyterlab-fonts"
PRESENTING = "body[data-jp-deck-mode='presenting'] &"

#: notebook -> {cell id: what to set}: ("slide_type", kind), ("output_only", True), ("zoom", factor).
LAYOUT: dict[str, dict[str, list[tuple[str, object]]]] = {
    "02_manifold_hypothesis.ipynb": {       # figures and the widget's check on sub-slides of their own
        "cell-007": [("slide_type", "subslide")],     # explained variance of the image families
        "cell-012": [("slide_type", "subslide")],     # PCA of the rotated-digit curve
        "cell-017": [("slide_type", "subslide")],     # five embeddings of the Swiss roll
        "cell-021": [("slide_type", "subslide")],     # the widget's small check below the slider
    },
    "03_tsne_visualization.ipynb": {
        "cell-006": [("slide_type", "subslide")],     # t-SNE against PCA maps
        "cell-009": [("slide_type", "subslide")],     # the perplexity table
        "cell-014": [("slide_type", "subslide")],     # cluster spreads
    },
    "05_stacked_autoencoder.ipynb": {       # until these cells are split (models | training + figure)
        "cell-007": [("output_only", True)],          # deep vs shallow: the table and the loss curves
        "cell-013": [("output_only", True)],          # three ways to train the stack
    },
    "07_applications.ipynb": {
        "cell-018": [("output_only", True)],          # rate–distortion curves and their table
    },
    "08_learning_the_manifold.ipynb": {     # code-heavy: the slides show results, the notebook the code
        "96b80a0d": [("output_only", True)],          # the ring data and its exact score
        "ac76d8e3": [("output_only", True)],          # the DAE's arrows
        "728968a1": [("output_only", True)],          # DAE field against Tweedie's exact field
        "9e27cd81": [("output_only", True)],          # where they disagree
        "5989bb4e": [("output_only", True)],          # denoising steps on MNIST
        "f771124d": [("output_only", True)],          # Jacobians: the numbers
        "c27ce7ec": [("slide_type", "subslide"), ("output_only", True)],  # Jacobians: the figure
        "20dcafce": [("output_only", True)],          # annealed Langevin samples
    },
    "01_curse_of_dimensionality.ipynb": {   # each figure on a sub-slide after the code computing it
        "cell-006": [("slide_type", "subslide")],     # fraction of the cube inside the ball
        "cell-011": [("slide_type", "subslide")],     # spread of distances against dimension
        "cell-019": [("slide_type", "subslide")],     # nearest-neighbour accuracy with noise dims
    },
    "06_denoising_autoencoder.ipynb": {
        "i16b-008": [("output_only", True)],          # the recorded 2000-epoch run: curve and saturation
        "cell-012": [("output_only", True)],          # baselines bar chart (fragment under the numbers)
        "cell-019": [("output_only", True)],          # four pre-activation histograms
        "cell-024": [("slide_type", "subslide")],     # loss curves of the repair, below its table
        "cell-028": [("slide_type", "subslide")],     # error against epochs, below the timing
        "cell-033": [("output_only", True)],          # robustness curves
        "cell-035": [("output_only", True)],          # the masking DAE's row of digits
    },
    "04_autoencoder.ipynb": {
        "cell-017": [("output_only", True)],          # pixel vs code blends over many pairs
        "cell-007": [("zoom", 0.92)],                 # the training loop: the code is the point
        "cell-013": [("output_only", True)],          # 2-D codes of test digits
        "cell-015": [("output_only", True), ("zoom", 0.9)],  # decoded grid of 2-D codes
        "cell-028": [("output_only", True)],          # t-SNE of pixels and of codes
    },
}


def apply(layout: dict = LAYOUT) -> list[str]:
    """Set the layout's metadata in the notebooks; return 'notebook cell: change' lines."""
    changed = []
    for name, cells in layout.items():
        path = ROOT / "notebooks" / name
        nb = json.loads(path.read_text(encoding="utf-8"))
        by_id = {c.get("id"): c for c in nb["cells"]}
        for cell_id, changes in cells.items():
            if cell_id not in by_id:
                raise ValueError(f"{name}: no cell with id {cell_id!r}")
            md = by_id[cell_id].setdefault("metadata", {})
            for what, value in changes:
                if what == "slide_type":
                    md.setdefault("slideshow", {})["slide_type"] = value
                elif what in ("output_only", "zoom"):
                    rules = md.setdefault(FONTS_KEY, {}).setdefault("styles", {}).setdefault("", {})
                    if what == "output_only":
                        rules[PRESENTING + " .jp-Cell-inputWrapper"] = {"display": "none"}
                    else:
                        rules[PRESENTING] = {"zoom": f"{round(100 * float(value))}%"}
                else:
                    raise ValueError(f"unknown layout change {what!r}")
                changed.append(f"{name} {cell_id}: {what} = {value}")
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


if __name__ == "__main__":
    print("\n".join(apply()) or "nothing to do")
    sys.exit(0)
