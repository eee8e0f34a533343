"""The live seminar's decks, without a browser: every notebook's slide metadata follows the presenting
rules of ``tools/slide_layout.py`` (10–20 main slides, one speaker-notes cell after each main slide,
solutions and setup skipped), the tool changes nothing on the committed notebooks (idempotent), and
the README's 60-minute track is the one the tool writes. Heights on a 1280×720 screen are measured
by ``tests/test_browser.py``.
"""
from __future__ import annotations

import copy
import importlib.util
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _tool():
    spec = importlib.util.spec_from_file_location("slide_layout", ROOT / "tools" / "slide_layout.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("slide_layout", module)
    spec.loader.exec_module(module)
    return module


layout = _tool()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name.split("_")[0] for p in NOTEBOOKS])
def test_deck_has_main_slides_with_speaker_notes_and_skips_solutions(path):
    nb = nbformat.read(path, as_version=4)
    assert layout.problems(nb, path.name) == []
    assert path.name in layout.NOTES, f"{path.name} has no speaker notes in tools/speaker_notes.py"


def test_every_notebook_is_in_the_tool():
    assert sorted(layout.NOTES) == [p.name for p in NOTEBOOKS]


def _broken(name: str):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    return nb, [c for c in nb.cells if layout._slide_type(c) == "slide"]


def test_the_rules_catch_a_broken_deck():
    """A copy broken the realistic ways is refused, each way by name."""
    name = "06_denoising_autoencoder.ipynb"
    nb, main = _broken(name)
    assert layout.problems(nb, name) == []
    nb.cells = [c for c in nb.cells if c.get("id") != f"notes-{main[2].id}"]           # notes removed
    extra = copy.deepcopy(next(c for c in nb.cells if c.get("id") == f"notes-{main[4].id}"))
    extra["id"] = "notes-extra"
    nb.cells.insert(nb.cells.index(main[5]) - 1, extra)                                  # two notes on one slide
    wordy = next(c for c in nb.cells if c.get("id") == f"notes-{main[6].id}")
    wordy.source = "Notes: say something.\n- one\n- two"                                  # no head line
    long = next(c for c in nb.cells if c.get("id") == f"notes-{main[7].id}")
    long.source = "**Speaker notes.**\n" + "\n".join(f"- point {i}" for i in range(6))  # 6 bullets
    untagged = next(c for c in nb.cells if c.get("id") == f"notes-{main[8].id}")
    untagged.metadata["tags"] = []                                                       # not tagged
    solution = next(c for c in nb.cells if "solution" in c.metadata.get("tags", []))
    solution.metadata["slideshow"]["slide_type"] = "fragment"                            # answer on a slide
    found = "\n".join(layout.problems(nb, name))
    for needle in (f"main slide {main[2].id}: 0 cells tagged", f"main slide {main[4].id}: 2 cells tagged",
                   f"main slide {main[6].id}: speaker notes must be markdown, start with",
                   f"main slide {main[7].id}: speaker notes must", f"main slide {main[8].id}: 0 cells tagged",
                   f"cell {solution.id} (tags ['solution']): slide type 'fragment', 'skip' expected"):
        assert needle in found, (needle, found)


def test_the_rules_catch_too_many_or_too_few_main_slides():
    name = "04_autoencoder.ipynb"
    nb, main = _broken(name)
    for cell in main[1:8]:
        cell.metadata["slideshow"]["slide_type"] = "subslide"
    assert f"{name}: 9 main slides; a lesson's deck has 10 to 20" in layout.problems(nb, name)
    nb, main = _broken(name)
    extra = [c for c in nb.cells if layout._slide_type(c) == "subslide"][:5]
    for cell in extra:
        cell.metadata["slideshow"]["slide_type"] = "slide"
    assert f"{name}: 21 main slides; a lesson's deck has 10 to 20" in "\n".join(layout.problems(nb, name))


def test_a_subslide_straight_after_a_subslide_is_caught_made_a_fragment_and_refused_in_layout():
    """jupyterlab-deck 0.2.0 links a sub-slide that comes straight after another from the main slide,
    so Space never shows the earlier one: the rules name the pair (a skipped or notes cell between
    them changes nothing), the tool makes the later one a fragment, and a LAYOUT asking for such a
    sub-slide is refused."""
    name = "06_denoising_autoencoder.ipynb"
    nb, _ = _broken(name)
    shown = [c for c in nb.cells if layout._slide_type(c) not in ("skip", "notes")]
    kind = lambda c: layout._slide_type(c) if c is not None else None  # noqa: E731
    earlier, later = next((a, b) for a, b, after in zip(shown, shown[1:], shown[2:] + [None])
                          if (kind(a), kind(b)) == ("subslide", "fragment") and kind(after) != "subslide")
    later.metadata["slideshow"]["slide_type"] = "subslide"      # a sub-slide's fragment made a sub-slide
    assert layout.unreachable_subslides(nb.cells) == [(earlier.id, later.id)]
    assert f"cell {later.id}: a sub-slide straight after the sub-slide {earlier.id}" in "\n".join(
        layout.problems(nb, name))
    skipped = nbformat.v4.new_code_cell("pass", id="skipped-between")
    skipped.metadata["slideshow"] = {"slide_type": "skip"}
    nb.cells.insert(nb.cells.index(later), skipped)              # a skipped cell between: still caught
    assert layout.unreachable_subslides(nb.cells) == [(earlier.id, later.id)]
    changes = layout.layout_notebook(nb, name, layout.LAYOUT.get(name, {}), layout.NOTES[name])
    assert f"{name} {later.id}: slide_type = fragment" in changes
    assert layout.problems(nb, name) == [] and layout.unreachable_subslides(nb.cells) == []
    nb, _ = _broken(name)
    asked = {**layout.LAYOUT.get(name, {}), later.id: [("slide_type", "subslide")]}
    with pytest.raises(ValueError, match=f"LAYOUT makes '{later.id}' a sub-slide straight after"):
        layout.layout_notebook(nb, name, asked, layout.NOTES[name])


def test_tool_is_idempotent_on_the_committed_notebooks(tmp_path):
    """Running tools/slide_layout.py on a copy of the repository's notebooks and README changes no byte."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    before = {p.name: p.read_bytes() for p in (tmp_path / "notebooks").glob("*.ipynb")}
    before["README.md"] = (tmp_path / "README.md").read_bytes()
    assert layout.apply(root=tmp_path) == []
    after = {p.name: p.read_bytes() for p in (tmp_path / "notebooks").glob("*.ipynb")}
    after["README.md"] = (tmp_path / "README.md").read_bytes()
    assert [k for k in before if before[k] != after[k]] == []


def test_tool_restores_a_damaged_copy_and_then_is_idempotent(tmp_path):
    """On a copy whose notes were deleted and whose solution shows on a slide, the tool puts the
    notes back (same ids, same text) and skips the solution; a second run changes nothing."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    path = tmp_path / "notebooks" / "04_autoencoder.ipynb"
    good = path.read_text(encoding="utf-8")
    nb = nbformat.reads(good, as_version=4)
    nb.cells = [c for c in nb.cells if "speaker-notes" not in c.metadata.get("tags", [])]
    next(c for c in nb.cells if "solution" in c.metadata.get("tags", []))["metadata"]["slideshow"] = {
        "slide_type": "fragment"}
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    changes = layout.apply(root=tmp_path)
    assert any("speaker notes" in c for c in changes) and any("slide_type = skip" in c for c in changes)
    assert path.read_text(encoding="utf-8") == good
    assert layout.apply(root=tmp_path) == []


def test_tool_refuses_a_main_slide_without_notes():
    name = "03_tsne_visualization.ipynb"
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    notes = dict(layout.NOTES[name])
    notes.pop(next(iter(notes)))
    with pytest.raises(ValueError, match="speaker notes missing for main slides"):
        layout.layout_notebook(nb, name, layout.LAYOUT.get(name, {}), notes)
    with pytest.raises(ValueError, match="2 to 4 bullets"):
        layout.notes_source(["only one"])


def test_sixty_minute_track_is_in_the_readme_and_names_main_slides():
    total = sum(minutes for _, _, minutes in layout.TRACK)
    assert total == 60
    for name, ids, minutes in layout.TRACK:
        assert minutes > 0
        if name is None:
            continue
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        main = [c.id for c in nb.cells if layout._slide_type(c) == "slide"]
        assert set(ids) <= set(main), f"{name}: {sorted(set(ids) - set(main))} are not main slides"
        assert ids == [i for i in main if i in ids], f"{name}: the track's slides are out of order"
    notebooks = {p.name: nbformat.read(p, as_version=4) for p in NOTEBOOKS}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split(layout.TRACK_START, 1)[1].split(layout.TRACK_END, 1)[0]
    assert block.strip() == layout.track_table(notebooks).strip()
    assert "| | | **total** | **60** |" in block
