"""Slide layout of the course notebooks for the live seminar (jupyterlab-deck, 1280×720).

Two levers, both cell metadata only (the notebook's teaching content is untouched):
- ``slideshow.slide_type``: "subslide" puts a cell on a slide of its own, "fragment" adds it to the
  slide above, "skip" leaves it out of the slideshow. A sub-slide never comes straight after another
  sub-slide (skipped and notes cells between them do not count): jupyterlab-deck 0.2.0 links such a
  sub-slide from the main slide, in place of the sub-slide before it, so Space (and ↓) never show
  that earlier one (:func:`unreachable_subslides`). The tool makes such a cell a fragment of the
  sub-slide before it; LAYOUT must not ask for one;
- a cell whose code is long shows only its output (the figure) on the slide ("output_only"), or
  is drawn a little smaller there ("zoom", e.g. 0.9); in the notebook nothing changes.
  jupyterlab-deck applies a cell's ``@deathbeds/jupyterlab-fonts`` styles, here scoped to
  presenting mode (:data:`PRESENTING`).

The presenting track (60 minutes, :data:`speaker_notes.TRACK`) adds three rules, applied here too:
- every cell tagged ``solution`` or ``course-setup`` is "skip" (the deck never shows an answer);
- every main slide (slide type "slide") is followed by ONE speaker-notes cell (after the setup cell
  for the title slide: the setup cell stays cell 1): markdown, slide type
  "notes", tag ``speaker-notes``, id ``notes-<slide id>``, starting with "**Speaker notes.**", its
  bullets from :data:`speaker_notes.NOTES` (a main slide without notes is an error); the static site
  folds these cells into a closed ``<details>`` (``course_utils/site.py``);
- the README's "60-minute track" table, between ``<!-- track:start -->`` and ``<!-- track:end -->``,
  is written from :data:`speaker_notes.TRACK`.

Usage: ``python tools/slide_layout.py`` applies :data:`LAYOUT` and the notes (idempotent: a second
run changes nothing), then run ``python tools/sync_notebooks.py``. ``tests/test_slides.py`` checks the
rules (:func:`problems`); ``tests/test_browser.py`` measures every slide of 04 and 06.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from speaker_notes import NOTES, TRACK  # noqa: E402  (tools/speaker_notes.py: the words, kept apart)

NOTES_TAG = "speaker-notes"
NOTES_HEAD = "**Speaker notes.**"
SKIP_TAGS = ("solution", "course-setup")   # never on a slide: answers and the Colab install
TRACK_START, TRACK_END = "<!-- track:start -->", "<!-- track:end -->"
FONTS_KEY = "@deathbeds/jupyterlab-fonts"
PRESENTING = "body[data-jp-deck-mode='presenting'] &"

#: notebook -> {cell id: what to set}: ("slide_type", kind), ("output_only", True), ("zoom", factor).
LAYOUT: dict[str, dict[str, list[tuple[str, object]]]] = {
    "00_start_here.ipynb": {                # a short page: its data check and digits are slides
        "cell-007": [("slide_type", "slide")],        # MNIST verified on disk
        "cell-008": [("slide_type", "slide")],        # twenty test digits
    },
    "02_manifold_hypothesis.ipynb": {       # figures and the widget's check on sub-slides of their own
        "706e80ec": [("slide_type", "skip")],         # deep dive: why R² and not the best axis
        "17495051": [("slide_type", "skip")],         # deep dive: the scores under a rotated picture
        "cell-007": [("slide_type", "subslide")],     # explained variance of the image families
        "cell-012": [("slide_type", "subslide")],     # PCA of the rotated-digit curve (696 px)
        "cell-017": [("slide_type", "subslide")],     # five embeddings of the Swiss roll (367 px)
        "cell-021": [("slide_type", "subslide")],     # the widget's small check, after the slider (192 px)
        "cell-011": [("slide_type", "fragment")],     # the rotated-digit curve below the main slide's text (343 px together)
        "cell-016": [("slide_type", "fragment")],     # five embeddings: their code below the text (585 px together)
        "cell-020": [("slide_type", "fragment")],     # the slider below the main slide's text (654 px together)
    },
    "03_tsne_visualization.ipynb": {
        "cell-006": [("slide_type", "slide")],        # t-SNE against PCA maps: a main slide
        "cell-009": [("slide_type", "skip")],         # the perplexity table (long; the slider shows it)
        "cell-011": [("output_only", True)],          # three random starts: the maps and their numbers (808 px with the code)
        "cell-014": [("slide_type", "subslide")],     # cluster spreads (487 px)
        "cell-013": [("slide_type", "fragment")],     # cluster spreads: their code below the text (628 px together)
    },
    "05_stacked_autoencoder.ipynb": {       # deep vs shallow and the modern stack: code | numbers | figure
        "cell-007b": [("slide_type", "fragment")],    # deep vs shallow: training and the table
        "cell-007c": [("slide_type", "subslide")],    # deep vs shallow: the loss curves
        "cell-013b": [("slide_type", "fragment")],    # three ways to train the stack: the errors
        "cell-013c": [("slide_type", "subslide")],    # ... their loss curves
        "cell-013d": [("slide_type", "fragment")],    # ... and the plateau check
        "i16b-002": [("slide_type", "fragment")],     # tied weights: its reading below the model (686 px together)
        "i16b-001": [("zoom", 0.85)],                 # tied weights: the model (720 px alone at full scale)
        "cell-010": [("slide_type", "fragment")],     # the stack's sizes below the main slide's text (507 px together)
        "cell-011": [("slide_type", "subslide")],     # greedy pretraining, on a sub-slide of its own (411 px)
    },
    "07_applications.ipynb": {
        "cell-018": [("output_only", True)],          # rate–distortion curves and their table
        "cell-021": [("slide_type", "fragment")],     # honest summary of the codecs
        "cell-030": [("slide_type", "fragment")],     # honest summary of the probe
        "cell-034": [("zoom", 0.9)],                  # the four reasons measured (755 px at full scale)
    },
    "08_learning_the_manifold.ipynb": {     # code-heavy: the slides show results, the notebook the code
        "96b80a0d": [("output_only", True)],          # the ring data and its exact score
        "ac76d8e3": [("slide_type", "subslide"), ("output_only", True)],  # the DAE's arrows, their reading below (594 px together)
        "728968a1": [("output_only", True)],          # DAE field against Tweedie's exact field
        "9e27cd81": [("output_only", True)],          # where they disagree
        "5989bb4e": [("output_only", True)],          # denoising steps on MNIST
        "f771124d": [("output_only", True)],          # Jacobians: the numbers
        "c27ce7ec": [("slide_type", "fragment"), ("output_only", True)],  # Jacobians: the figure
        "20dcafce": [("output_only", True)],          # annealed Langevin samples
        "a1f0d62f": [("output_only", True)],          # held-out class: the AUROC table (916 px with the code)
        "9943829b": [("slide_type", "skip")],         # deep dive: the Swiss roll's tangent plane
        "7ffeeccd": [("slide_type", "skip")],
        "dae89ec9": [("slide_type", "skip")],
        "e64a4f75": [("slide_type", "skip")],
        "995f4b6c": [("slide_type", "fragment"), ("zoom", 0.85)],  # the toy DAE below the text (624 px alone at full scale; 626 together)
        "ab53ee3a": [("output_only", True)],          # the ring walk (944 px with the code)
        "73830789": [("output_only", True)],          # the detector's AUROC table ...
        "835151a3": [("output_only", True)],          # ... and its bars (1 228 px with both codes; 461 without)
    },
    "01_curse_of_dimensionality.ipynb": {   # each computation below its main slide's text, its figure on a sub-slide
        "cell-006": [("slide_type", "subslide")],     # fraction of the cube inside the ball, after its code (522 px)
        "cell-011": [("slide_type", "subslide")],     # spread of distances against dimension (507 px)
        "cell-019": [("slide_type", "subslide")],     # nearest-neighbour accuracy with noise dims (487 px)
        "cell-005": [("slide_type", "fragment")],     # ball_fraction below the main slide's text (567 px together)
        "cell-010": [("slide_type", "fragment")],     # distance_stats below the main slide's text (665 px together)
        "cell-018": [("slide_type", "fragment"), ("zoom", 0.85)],  # k-NN with noise dims below the text (645 px alone at full scale; 680 together)
    },
    "06_denoising_autoencoder.ipynb": {     # a figure's reading is a fragment below it (never a sub-slide after a sub-slide)
        "cell-016": [("slide_type", "subslide")],     # "it outputs nearly the same blob"
        "cell-020": [("slide_type", "fragment")],     # reading the saturation evidence
        "cell-025": [("slide_type", "fragment")],     # what each change did
        "cell-029": [("slide_type", "fragment")],     # each further epoch buys less
        "i16b-009": [("slide_type", "fragment")],     # what the recorded budget shows
        "i16b-008": [("output_only", True)],          # the recorded 2000-epoch run: curve and saturation
        "cell-012": [("output_only", True)],          # baselines bar chart (fragment under the numbers)
        "cell-019": [("slide_type", "subslide"), ("output_only", True), ("zoom", 0.75)],  # four pre-activation histograms, their reading below (695 px together)
        "cell-024": [("slide_type", "subslide")],     # loss curves of the repair, their reading below (591 px together)
        "cell-028": [("slide_type", "subslide"), ("zoom", 0.9)],  # error against epochs, its reading below (624 px together)
        "cell-033": [("output_only", True)],          # robustness curves
        "cell-035": [("output_only", True)],          # the masking DAE's row of digits
        "cell-018": [("slide_type", "fragment"), ("zoom", 0.72)],  # layer_stats below the text (707 px alone at full scale; 663 together)
        "cell-023": [("slide_type", "fragment"), ("zoom", 0.75)],  # the repair's table below the slide (496 px alone at full scale; 645 together)
        "cell-027": [("slide_type", "fragment")],     # the timing below the main slide's text (469 px together)
    },
    "04_autoencoder.ipynb": {
        "cell-017": [("output_only", True)],          # pixel vs code blends over many pairs
        "cell-007": [("zoom", 0.92)],                 # the training loop: the code is the point
        "cell-013": [("output_only", True)],          # 2-D codes of test digits
        "cell-015": [("output_only", True), ("zoom", 0.9)],  # decoded grid of 2-D codes
        "cell-028": [("output_only", True)],          # t-SNE of pixels and of codes
        "cell-020": [("slide_type", "skip")],         # deep dive: linear AE against PCA, the numbers
        "cell-021": [("slide_type", "skip")],         # deep dive: principal angles
        "cell-022": [("slide_type", "skip")],         # deep dive: why the last angles are large
        "cell-025": [("slide_type", "skip")],         # long table: error per code size (the slider plots it)
        "cell-005": [("slide_type", "fragment"), ("zoom", 0.85)],  # data and sizes below the text (451 px alone at full scale; 683 together)
        "cell-005b": [("slide_type", "subslide")],    # the model, on a sub-slide of its own (595 px)
    },
    "09_variational_autoencoder.ipynb": {   # measured at 1280×720 (COURSE_SLIDES_ALL=1)
        "d598d86f": [("slide_type", "skip")],         # deep dive: the package's VAE equals the lesson's
        "76715bcb": [("slide_type", "skip")],         # deep dive: the KL term by Monte Carlo
        "95a89aae": [("slide_type", "skip")],
        "947a2dc6": [("output_only", True), ("zoom", 0.45)],  # four panels (11 × 11 in): grids and codes, their reading below (656 px)
        "5f833c32": [("slide_type", "fragment")],     # reading the grids
        "936e6f67": [("output_only", True)],          # samples: the table and the rows of digits
        "54bd1724": [("output_only", True)],          # the β table below the slider (854 px with its code; 627 without)
        "f74c06ba": [("output_only", True)],          # interpolation between two test digits
        "6c17696e": [("slide_type", "fragment")],     # the data below the main slide's text (434 px together)
        "aa3e30fe": [("slide_type", "subslide"), ("zoom", 0.9)],  # samples judged by the classifier, their reading below (666 px together)
    },
    "10_convolutional_autoencoder.ipynb": {  # measured at 1280×720 (COURSE_SLIDES_ALL=1)
        "nb10-05": [("zoom", 0.62)],                  # the model: the code is the point; the count below it (635 px together)
        "nb10-06": [("output_only", True)],           # parameter count, below the model (978 px with its code at 0.75)
        "nb10-09": [("output_only", True)],           # linear vs sigmoid output: the loss curves
        "nb10-16": [("slide_type", "fragment"), ("output_only", True)],  # checkerboards before training
        "nb10-17": [("slide_type", "subslide"), ("output_only", True)],  # checkerboards after training, their reading below (584 px together)
        "nb10-18": [("slide_type", "fragment")],      # reading the Nyquist shares
        "nb10-20": [("output_only", True)],           # the table against notebooks 04 and 06
        "nb10-26": [("output_only", True)],           # denoising at σ = 0.3
        "nb10-31": [("output_only", True)],           # rate–distortion, conv against fully connected
        "nb10-32": [("slide_type", "fragment")],      # reading the compression curves
        "nb10-34": [("output_only", True)],           # filters and feature maps
        "nb10-15": [("slide_type", "subslide"), ("zoom", 0.8)],  # nyquist_share, the checkerboards below (510 px alone at full scale; 672 together)
    },
}


def _slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def unreachable_subslides(cells) -> list[tuple[str, str]]:
    """(earlier, later) ids of each sub-slide that comes straight after another sub-slide, skipped
    and notes cells aside. jupyterlab-deck 0.2.0 (``NotebookPresenter._getExtents``) links a sub-slide
    from the last fragment or unmarked cell since the sub-slide before it, and when there is none,
    from the main slide, replacing that slide's link to the earlier sub-slide: Space and ↓ then jump
    over the earlier one (and everything on its screen), and only a click on it in the notebook
    shows it. Measured in JupyterLab on notebook 08 (``tests/test_browser.py``, COURSE_SLIDES_ALL=1):
    every sub-slide these pairs name was never shown."""
    pairs, prev = [], None
    for cell in cells:
        kind = _slide_type(cell)
        if kind in ("skip", "notes"):
            continue
        if kind == "subslide" and prev is not None and _slide_type(prev) == "subslide":
            pairs.append((prev.get("id"), cell.get("id")))
        prev = cell
    return pairs


def _reach_subslides(name: str, cells, layout: dict) -> list[str]:
    """Make each sub-slide that comes straight after a sub-slide a fragment of it (see
    :func:`unreachable_subslides`); refuse a LAYOUT that asks for such a sub-slide itself."""
    changed = []
    while pairs := unreachable_subslides(cells):
        earlier, later = pairs[0]
        if ("slide_type", "subslide") in layout.get(later, []):
            raise ValueError(f"{name}: LAYOUT makes {later!r} a sub-slide straight after the sub-slide "
                             f"{earlier!r}; jupyterlab-deck 0.2.0 would never show {earlier!r}: make "
                             f"{later!r} a fragment, or {earlier!r} a fragment of the cells before it")
        cell = next(c for c in cells if c.get("id") == later)
        changed += _set_layout(name, cell, [("slide_type", "fragment")])
    return changed


def _set_layout(name: str, cell, changes) -> list[str]:
    """Apply one cell's LAYOUT entries; return what changed."""
    md, done = cell.setdefault("metadata", {}), []
    for what, value in changes:
        before = repr(md.get("slideshow")), repr(md.get(FONTS_KEY))
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
        if (repr(md.get("slideshow")), repr(md.get(FONTS_KEY))) != before:
            done.append(f"{name} {cell.get('id')}: {what} = {value}")
    return done


def notes_source(bullets: list[str]) -> str:
    """The markdown of a speaker-notes cell: the head line, then one bullet per line."""
    if not 2 <= len(bullets) <= 4:
        raise ValueError(f"speaker notes need 2 to 4 bullets, got {len(bullets)}: {bullets}")
    return "\n".join([NOTES_HEAD] + [f"- {b}" for b in bullets])


def layout_notebook(nb, name: str, layout: dict | None = None, notes: dict | None = None) -> list[str]:
    """Lay out one notebook (a NotebookNode) in place: skip rules, LAYOUT, one speaker-notes cell
    after each main slide. Return 'notebook cell: change' lines (empty when nothing changed)."""
    layout = LAYOUT.get(name, {}) if layout is None else layout
    notes = NOTES.get(name, {}) if notes is None else notes
    changed = []
    cells = [c for c in nb.cells if NOTES_TAG not in c.get("metadata", {}).get("tags", [])]
    old_notes = {c.get("id"): c for c in nb.cells if NOTES_TAG in c.get("metadata", {}).get("tags", [])}
    by_id = {c.get("id"): c for c in cells}
    for cell in cells:
        if set(cell.get("metadata", {}).get("tags", [])) & set(SKIP_TAGS) and _slide_type(cell) != "skip":
            changed += _set_layout(name, cell, [("slide_type", "skip")])
    for cell_id, changes in layout.items():
        if cell_id not in by_id:
            raise ValueError(f"{name}: no cell with id {cell_id!r}")
        changed += _set_layout(name, by_id[cell_id], changes)
    changed += _reach_subslides(name, cells, layout)
    main = [c.get("id") for c in cells if _slide_type(c) == "slide"]
    missing, stray = [i for i in main if i not in notes], [i for i in notes if i not in main]
    if missing or stray:
        raise ValueError(f"{name}: speaker notes missing for main slides {missing}; notes for cells "
                         f"that are not main slides {stray}")
    new_cells, pending = [], []
    for cell in cells:
        if pending and "course-setup" not in cell.get("metadata", {}).get("tags", []):
            new_cells.append(pending.pop())       # the title's notes go after the setup cell (cell 1)
        new_cells.append(cell)
        if _slide_type(cell) != "slide":
            continue
        note_id = f"notes-{cell.get('id')}"
        note = old_notes.pop(note_id, None) or nbformat.v4.new_markdown_cell(id=note_id)
        want_source = notes_source(notes[cell.get("id")])
        want_md = {"slideshow": {"slide_type": "notes"}, "tags": [NOTES_TAG]}
        if "".join(note.get("source", "")) != want_source or note.get("metadata") != want_md:
            changed.append(f"{name} {note_id}: speaker notes")
        note["source"], note["metadata"] = want_source, want_md
        pending.append(note)
    new_cells += pending
    changed += [f"{name} {i}: stale speaker notes removed" for i in old_notes]
    if [c.get("id") for c in new_cells] != [c.get("id") for c in nb.cells]:
        changed.append(f"{name}: cell order")
    nb.cells = new_cells
    return changed


def _heading(cell) -> str:
    """A main slide's name for the track table: its heading (a notebook's title is "title")."""
    first = "".join(cell.get("source", "")).strip().split("\n")[0]
    if first.startswith("# "):
        return "title"
    if not first.startswith("#"):
        return " ".join(first.split()[:6]) + " …"
    return re.sub(r"^\d+ · ", "", first.lstrip("#").strip())    # "1 · Volume …" → "Volume …"


def track_table(notebooks: dict, track: list | None = None) -> str:
    """The README's "60-minute track" table and the full track's line (markdown), from
    :data:`TRACK`; ``notebooks`` maps each notebook's file name to its (laid-out) NotebookNode."""
    track = TRACK if track is None else track
    rows = ["| part | notebook | main slides to present, in order | minutes |", "|---|---|---|---|"]
    for n, (name, ids, minutes) in enumerate(track, 1):
        if name is None:
            rows.append(f"| {n} | — | questions | {minutes} |")
            continue
        by_id = {c.get("id"): c for c in notebooks[name].cells}
        rows.append(f"| {n} | {name.split('_')[0]} {' '.join(name[:-6].split('_')[1:])} | "
                    f"{' · '.join(_heading(by_id[i]) for i in ids)} | {minutes} |")
    rows.append(f"| | | **total** | **{sum(m for _, _, m in track)}** |")
    counts = {name: sum(_slide_type(c) == "slide" for c in nb.cells) for name, nb in sorted(notebooks.items())}
    left_out = [name.split("_")[0] for name in counts if name not in {t[0] for t in track}]
    rows += ["", f"**Full course track**: every main slide of every notebook, in order — "
                 + ", ".join(f"{name.split('_')[0]} ({n})" for name, n in counts.items())
                 + f": {sum(counts.values())} main slides, each with speaker notes; notebooks "
                 + ", ".join(left_out) + " are in the full track only."]
    return "\n".join(rows)


def _notebook_text(nb) -> str:
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def apply(layout: dict = LAYOUT, root: Path = ROOT) -> list[str]:
    """Lay out every notebook of :data:`NOTES` under ``root`` and the README's track table; write only
    what changed; return 'notebook cell: change' lines (empty on a second run)."""
    changed, notebooks = [], {}
    for name in sorted(set(layout) | set(NOTES)):
        path = root / "notebooks" / name
        text = path.read_text(encoding="utf-8")
        nb = notebooks[name] = nbformat.reads(text, as_version=4)
        changed += layout_notebook(nb, name, layout.get(name, {}), NOTES.get(name, {}))
        if _notebook_text(nb) != text:
            path.write_text(_notebook_text(nb), encoding="utf-8")
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    if TRACK_START not in text or TRACK_END not in text:
        raise ValueError(f"README.md has no {TRACK_START} … {TRACK_END} block for the track table")
    head, rest = text.split(TRACK_START, 1)
    fixed = head + TRACK_START + "\n" + track_table(notebooks) + "\n" + TRACK_END + rest.split(TRACK_END, 1)[1]
    if fixed != text:
        readme.write_text(fixed, encoding="utf-8")
        changed.append("README.md: 60-minute track table")
    return changed


def problems(nb, name: str) -> list[str]:
    """What breaks the presenting rules in one notebook: 10–20 main slides, each followed (before the
    next main slide) by exactly one speaker-notes cell of the right form, no sub-slide straight after
    a sub-slide (:func:`unreachable_subslides`), solution/setup cells skipped."""
    found, kinds = [], [_slide_type(c) for c in nb.cells]
    main = [i for i, k in enumerate(kinds) if k == "slide"]
    if not 10 <= len(main) <= 20:
        found.append(f"{name}: {len(main)} main slides; a lesson's deck has 10 to 20")
    if main and main[0] != 0:
        found.append(f"{name}: the first cell is not a main slide")
    for a, b in zip(main, main[1:] + [len(nb.cells)]):
        group = nb.cells[a + 1:b]
        tagged = [c for c in group if NOTES_TAG in c.get("metadata", {}).get("tags", [])]
        notes = [c for c in group if _slide_type(c) == "notes"]
        where = f"{name} main slide {nb.cells[a].get('id')}"
        if len(tagged) != 1 or len(notes) != 1 or tagged[0] is not notes[0]:
            found.append(f"{where}: {len(tagged)} cells tagged {NOTES_TAG}, {len(notes)} notes cells; "
                         "exactly one notes cell tagged speaker-notes expected")
            continue
        note = notes[0]
        lines = "".join(note.get("source", "")).strip().split("\n")
        bullets = [ln for ln in lines[1:] if ln.startswith("- ")]
        if note.cell_type != "markdown" or lines[0] != NOTES_HEAD or not 2 <= len(bullets) == len(lines) - 1 <= 4:
            found.append(f"{where}: speaker notes must be markdown, start with {NOTES_HEAD!r} and have "
                         f"2 to 4 bullet lines, got {lines}")
    for earlier, later in unreachable_subslides(nb.cells):
        found.append(f"{name} cell {later}: a sub-slide straight after the sub-slide {earlier}; "
                     f"jupyterlab-deck 0.2.0 never shows {earlier} (make {later} a fragment)")
    for i, c in enumerate(nb.cells):
        tags = c.get("metadata", {}).get("tags", [])
        if set(tags) & set(SKIP_TAGS) and kinds[i] != "skip":
            found.append(f"{name} cell {c.get('id')} (tags {tags}): slide type {kinds[i]!r}, 'skip' expected")
    return found


if __name__ == "__main__":
    print("\n".join(apply()) or "nothing to do")
    sys.exit(0)
