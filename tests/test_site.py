"""Unit tests of the static-site builder's index, page writing, noise filter and per-cell timeout.

The full build of notebook 00 and a widget page lives in tests/test_delivery.py; here only one
tiny notebook is executed (the hang), the rest works on records and notebook nodes.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from course_utils import site
from course_utils.atomic import write_text_atomic


def _record(name: str, error: str | None = None, title: str = "A title") -> dict:
    return {"name": name, "title": title, "html": Path("/x") / (Path(name).stem + ".html"),
            "seconds": 1.0, "images": 2, "error": error}


def _hrefs(index: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)"', index)


def test_index_links_from_hostile_file_names_stay_relative_and_quoted():
    names = ["javascript:alert(1).ipynb", 'x" onmouseover="alert(1).ipynb', "a b&c.ipynb", "00_ok.ipynb"]
    index = site._index_html([_record(n, title="<script>alert(1)</script>") for n in names])
    hrefs = _hrefs(index)
    assert hrefs == ["./javascript%3Aalert%281%29.html", "./x%22%20onmouseover%3D%22alert%281%29.html",
                     "./a%20b%26c.html", "./00_ok.html"]
    assert all(h.startswith("./") and ":" not in h for h in hrefs)
    assert "<script>" not in index and "onmouseover=" not in index.replace('%3D', '')


def test_index_is_numbered_from_one_and_error_text_has_no_ansi_codes():
    coloured = "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero\x1b[1;32m"
    index = site._index_html([_record("00_a.ipynb"), _record("01_b.ipynb", error=coloured)])
    assert "<ol>" in index and 'start="0"' not in index
    assert "\x1b" not in index and "[0;31m" not in index
    assert "failed: ZeroDivisionError: division by zero" in index


def test_strip_ansi_keeps_the_text():
    assert site.strip_ansi("\x1b[38;5;241mline\x1b[39m \x1b[?25lok") == "line ok"


def test_executor_noise_is_dropped_from_the_pages():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)")
    noise = ("/usr/lib/python3/site-packages/jupyter_client/connect.py:27: UserWarning: Kernel is running "
             "over TCP without encryption. Please consider running over IPC or enabling encryption.\n")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=noise),
                    nbformat.v4.new_output("stream", name="stdout", text="1\n" + noise + "2\n")]
    nb.cells = [cell]
    assert site.drop_noise(nb) == 2
    assert [o["text"] for o in nb.cells[0].outputs] == ["1\n2\n"]


def test_pages_are_written_through_a_rename(tmp_path):
    page = tmp_path / "00.html"
    page.write_text("old page")
    os.link(page, tmp_path / "reader-holds-this")
    write_text_atomic(page, "new page")
    assert page.read_text() == "new page"
    assert (tmp_path / "reader-holds-this").read_text() == "old page"  # replaced, not overwritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00.html", "reader-holds-this"]


def test_a_failed_page_write_leaves_the_old_page_and_no_temp_file(tmp_path):
    page = tmp_path / "00.html"
    page.write_text("old page")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(page, "half \ud800 written")  # a lone surrogate cannot be encoded
    assert page.read_text() == "old page" and [p.name for p in tmp_path.iterdir()] == ["00.html"]


def test_the_default_cell_timeout_is_minutes_not_an_hour():
    full, fast = site.CELL_TIMEOUT_S
    assert full <= 600 and fast <= full
    with pytest.raises(ValueError, match="positive number of seconds per cell"):
        site.build_site(timeout=0)


def test_a_hung_cell_fails_its_notebook_clearly_within_the_timeout(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Hangs"), nbformat.v4.new_code_cell("import time; time.sleep(600)")]
    nbformat.write(nb, src / "00_hang.ipynb")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("00_hang.html", "index.html"):  # a reader holds the old pages
        (out / name).write_text("old")
        os.link(out / name, tmp_path / name)
    t0 = time.perf_counter()
    (rec,) = site.build_site(tmp_path / "out", notebook_dir=src, timeout=3, progress=False)
    assert time.perf_counter() - t0 < 120
    assert rec["error"] and "ran longer than the 3 s allowed per cell" in rec["error"]
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "failed: a cell ran longer" in index and (tmp_path / "out" / "00_hang.html").is_file()
    assert not list((tmp_path / "out").glob(".*.tmp"))
    for name in ("00_hang.html", "index.html"):  # pages are replaced through a rename, not rewritten
        assert (tmp_path / name).read_text() == "old" and (out / name).read_text() != "old"


def test_solution_cells_are_collapsed_on_the_page_and_other_cells_are_not():
    nb = nbformat.v4.new_notebook()
    learner = nbformat.v4.new_code_cell("answer = ...  # your code")
    solution = nbformat.v4.new_code_cell("# @title Solution (double-click to reveal)\nanswer = 42")
    solution.metadata.update({"tags": ["solution"], "jupyter": {"source_hidden": True}})
    nb.cells = [learner, solution]
    body, _ = site.page_exporter().from_notebook_node(nb)
    details = re.findall(r"<details[^>]*>.*?</details>", body, re.S)
    assert len(details) == 1 and "answer</span> <span class=\"o\">=</span> <span class=\"mi\">42" in details[0]
    assert "your code" in body and "your code" not in details[0]  # the learner's cell stays open
    assert "<details open" not in body


def test_speaker_notes_are_folded_closed_on_the_page():
    """Speaker-notes cells (tools/slide_layout.py) are folded into a closed <details> of their own, as
    solutions are; the slide's own text and the solution fold stay as they were."""
    nb = nbformat.v4.new_notebook()
    slide = nbformat.v4.new_markdown_cell("## The slide's heading")
    notes = nbformat.v4.new_markdown_cell("**Speaker notes.**\n- Say: the point of the slide.\n- Point at the figure.")
    notes.metadata.update({"tags": ["speaker-notes"], "slideshow": {"slide_type": "notes"}})
    solution = nbformat.v4.new_code_cell("# @title Solution (double-click to reveal)\nanswer = 42")
    solution.metadata.update({"tags": ["solution"], "jupyter": {"source_hidden": True}})
    nb.cells = [slide, notes, solution]
    body, _ = site.page_exporter().from_notebook_node(nb)
    folded = re.findall(r'<details class="course-speaker-notes">(.*?)</details>', body, re.S)
    assert len(folded) == 1 and "Say: the point of the slide." in folded[0] and "Speaker notes" in folded[0]
    assert "The slide" in body and "The slide" not in folded[0]        # the slide's heading stays open
    assert len(re.findall(r'<details class="course-solution">', body)) == 1 and "<details open" not in body
    assert body.index("The slide") < body.index("course-speaker-notes") < body.index("course-solution")


def test_every_speaker_notes_cell_of_a_lesson_is_folded():
    path = site.default_notebook_dir() / "06_denoising_autoencoder.ipynb"
    nb = nbformat.read(path, as_version=4)
    n_notes = sum("speaker-notes" in c.metadata.get("tags", []) for c in nb.cells)
    body, _ = site.page_exporter().from_notebook_node(nb)
    folded = re.findall(r'<details class="course-speaker-notes">(.*?)</details>', body, re.S)
    assert n_notes >= 10 and len(folded) == n_notes
    assert all("Speaker notes." in f for f in folded)
    outside = re.sub(r'<details class="course-speaker-notes">.*?</details>', "", body, flags=re.S)
    assert "Speaker notes." not in outside                               # none left unfolded
