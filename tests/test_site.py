"""Unit tests of the static-site builder's index, page writing, noise filter and per-cell timeout.

The full build of notebook 00 and a widget page lives in tests/test_delivery.py; here only one
tiny notebook is executed (the hang), the rest works on records and notebook nodes.
"""
from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from course_utils import config, site
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


# --- Slide decks, offline --------------------------------------------------------------------------

def _slide_cell(kind: str, text: str, cell_type: str = "markdown", tags: list | None = None):
    new = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_code_cell
    cell = new(text)
    if kind is not None:
        cell.metadata["slideshow"] = {"slide_type": kind}
    if tags:
        cell.metadata["tags"] = tags
    return cell


def _deck_source() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [_slide_cell(None, "# Title, no slide type"), _slide_cell("skip", "SETUP-SKIPPED"),
                _slide_cell("-", "continues the title slide"), _slide_cell("fragment", "FRAG-A"),
                _slide_cell("-", "still in fragment A"), _slide_cell("fragment", "FRAG-B"),
                _slide_cell("notes", "NOTES-TYPE"), _slide_cell("subslide", "## A sub-slide"),
                _slide_cell("-", "NOTES-TAGGED", tags=["speaker-notes"]), _slide_cell("slide", "## Last")]
    return nb


def test_deck_groups_cells_into_slides_and_leaves_out_skip_and_notes():
    from course_utils import deck

    src = _deck_source()
    nb = deck.deck_notebook(src)
    assert len(src.cells) == 10  # the notebook itself is not changed
    texts = [c.source for c in nb.cells]
    assert not any(t in "".join(texts) for t in ("SETUP-SKIPPED", "NOTES-TYPE", "NOTES-TAGGED"))
    marks = [c.metadata.course_deck for c in nb.cells]
    assert [bool(m.get("slide_start")) for m in marks] == [True, False, False, False, False, True, True]
    assert [bool(m.get("slide_end")) for m in marks] == [False, False, False, False, True, True, True]
    assert [bool(m.get("fragment_start")) for m in marks] == [False, False, True, False, True, False, False]
    # fragment A runs on over the "-" cell after it; B ends where the sub-slide starts
    assert [bool(m.get("fragment_end")) for m in marks] == [False, False, False, True, True, False, False]
    assert [m.get("subslide") for m in marks if m.get("slide_start")] == [False, True, False]
    with pytest.raises(ValueError, match="no cell to present"):
        deck.deck_notebook(nbformat.v4.new_notebook(cells=[_slide_cell("skip", "x")]))


def test_deck_html_has_one_section_per_slide_and_no_network_assets(tmp_path):
    nb = _deck_source()
    nb.cells.append(_slide_cell("slide", "# @title Solution (double-click to reveal)\nanswer = 42", "code",
                                tags=["solution"]))
    path = site.write_deck(nb, tmp_path / "x.slides.html", "A deck")
    body = path.read_text(encoding="utf-8")
    assert body.count('<section class="deck-slide') == 4 and body.count("</section>") == 4
    assert body.count('<section class="deck-slide deck-subslide">') == 1
    assert body.count('<div class="deck-fragment">') == 2
    assert "SETUP-SKIPPED" not in body and "NOTES-TYPE" not in body and "NOTES-TAGGED" not in body
    assert re.search(r'<details class="course-solution">.*answer.*</details>', body, re.S)
    assert _external_assets(body) == []  # MathJax is referenced locally, require.js not at all
    assert 'src="assets/mathjax/MathJax.js?' in body


def test_mathjax_is_copied_once_and_a_damaged_copy_is_replaced(tmp_path):
    from course_utils import deck

    target = deck.copy_mathjax(tmp_path)
    assert (target / "MathJax.js").is_file() and (target / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    assert list(target.glob("fonts/HTML-CSS/STIX-Web/woff/*.woff")), "the web fonts travel with it"
    mtime = (target / "MathJax.js").stat().st_mtime_ns
    assert deck.copy_mathjax(tmp_path) == target and (target / "MathJax.js").stat().st_mtime_ns == mtime
    (target / "MathJax.js").unlink()  # damaged: copied again
    deck.copy_mathjax(tmp_path)
    assert (target / "MathJax.js").is_file() and not list(tmp_path.glob("assets/.mathjax*"))


def _external_assets(body: str) -> list[str]:
    """Scripts, styles, fonts and images of an HTML text that would come from the network."""
    return [u for u in _asset_urls(body) if re.match(r"(?i)(https?:)?//", u)]


def _asset_urls(body: str) -> list[str]:
    """Every URL the page loads: script/img/source/iframe src, link href, CSS url() and @import."""
    from html.parser import HTMLParser

    urls: list[str] = []

    class Assets(HTMLParser):
        in_style = False

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag in ("script", "img", "source", "iframe", "embed", "video", "audio") and a.get("src"):
                urls.append(a["src"])
            if tag == "link" and a.get("href"):
                urls.append(a["href"])
            if a.get("style"):
                urls.extend(_css_urls(a["style"]))
            self.in_style = tag == "style"

        def handle_endtag(self, tag):
            self.in_style = False

        def handle_data(self, data):
            if self.in_style:
                urls.extend(_css_urls(data))

    Assets().feed(body)
    return urls


def _css_urls(css: str) -> list[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)  # comments name URLs but load nothing
    found = re.findall(r"""url\(\s*['"]?([^'")\s]+)""", css)
    found += re.findall(r"""@import\s+['"]([^'"]+)""", css)
    return found


def _missing_local_assets(page: Path) -> list[str]:
    from urllib.parse import unquote, urlsplit

    missing = []
    for u in _asset_urls(page.read_text(encoding="utf-8")):
        if u.startswith(("data:", "#")) or re.match(r"(?i)(https?:)?//", u):
            continue
        if not (page.parent / unquote(urlsplit(u).path)).is_file():
            missing.append(u)
    return missing


@pytest.mark.system
def test_site_decks_and_pages_render_offline_with_figures_and_formulas(tmp_path):
    """Notebook 01 (fast mode) built into a site; every page and deck loads only local files, and
    Chromium with the network cut off shows typeset formulas and moves between slides."""
    import test_browser as tb  # Chromium and Playwright as the browser test drives them

    out = tmp_path / "site"
    env = {**os.environ, "COURSE_FAST": "1", "MPLBACKEND": "Agg"}
    res = subprocess.run([sys.executable, "-m", "course_utils.site", str(out), "--only", "01"],
                         env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    name = next(p.stem for p in (Path(tb.NOTEBOOKS)).glob("01_*.ipynb"))
    page, slides = out / f"{name}.html", out / f"{name}.slides.html"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f'href="./{name}.slides.html"' in index
    for html_file in (page, slides, out / "index.html"):
        body = html_file.read_text(encoding="utf-8")
        assert _external_assets(body) == [], f"{html_file.name} loads from the network"
        assert _missing_local_assets(html_file) == [], f"{html_file.name} references missing files"
    deck_html = slides.read_text(encoding="utf-8")
    figure = r'<img[^>]+src="data:image/png;base64,[A-Za-z0-9+/=\s]{1000,}'
    assert len(re.findall(figure, deck_html)) >= 2, "the executed deck has its figures"
    assert "Traceback" not in deck_html and "colab-badge.svg" not in deck_html
    source = nbformat.read(tb.NOTEBOOKS / f"{name}.ipynb", 4)
    page_html = page.read_text(encoding="utf-8")
    hidden = [c.id for c in source.cells if c.metadata.get("slideshow", {}).get("slide_type") in ("skip", "notes")]
    assert hidden and all(f'id="cell-id={i}"' in page_html for i in hidden)  # on the page ...
    assert not [i for i in hidden if f'id="cell-id={i}"' in deck_html], "skip / notes cells are in the deck"
    starts = sum(c.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide") for c in source.cells)
    assert deck_html.count('<section class="deck-slide') == starts

    missing = tb._missing_tools()
    if missing:
        tb._skip_or_fail("the deck check needs " + " and ".join(missing))
    from playwright.sync_api import sync_playwright

    shots = config.artifact_dir() / "site-test"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=tb.CHROMIUM, headless=True, args=tb.CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 720})
            outside: list[str] = []

            def offline(route):  # the lecture hall without network: only files on disk load
                url = route.request.url
                if url.startswith(("file:", "data:", "about:")):
                    route.continue_()
                else:
                    outside.append(url)
                    route.abort()

            ctx.route("**/*", offline)
            tab = ctx.new_page()
            tab.set_default_timeout(60_000)
            tab.goto(slides.as_uri())
            tab.wait_for_selector("body.deck-ready")
            first = tab.inner_text("#deck-counter")
            assert re.fullmatch(r"1 / \d+", first), first
            tab.keyboard.press("ArrowRight")
            assert tab.inner_text("#deck-counter").startswith("2 / "), "→ moves to the next slide"
            current = "Array.from(document.querySelectorAll('section.deck-slide')).findIndex(" \
                      "s => s.classList.contains('deck-current') && getComputedStyle(s).display !== 'none')"
            assert tab.evaluate(current) > 0 and \
                tab.evaluate("document.querySelectorAll('section.deck-current').length") == 1
            tab.screenshot(path=str(shots / "deck_slide2.png"))
            tab.keyboard.press("Home")
            assert tab.inner_text("#deck-counter") == first and tab.evaluate(current) == 0
            assert _first_slide_with_math(tab) is not None, "no slide of notebook 01 shows a typeset formula"
            tab.screenshot(path=str(shots / "deck_formula.png"))
            tab.goto(page.as_uri())
            tab.wait_for_function("window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0"
                                  " && document.querySelectorAll('.MathJax').length > 0")
            assert "$" not in _prose_text(tab), "the page shows raw LaTeX"
            assert outside == [], f"requests left the machine: {outside[:5]}"
        finally:
            browser.close()


def _prose_text(tab, selector: str = "body") -> str:
    """The visible text of the markdown cells under ``selector`` (code may contain "$")."""
    return tab.evaluate(f"""Array.from(document.querySelectorAll({selector!r} + ' .jp-MarkdownOutput'))
                            .map(e => e.innerText).join('\\n')""")


def _first_slide_with_math(tab) -> int | None:
    """Step through the deck with Space until a slide shows a MathJax formula; its index (or None).
    Fails if that slide has a MathJax error or still shows raw ``$`` text."""
    total = tab.evaluate("document.querySelectorAll('section.deck-slide').length")
    for i in range(total * 4):
        n = tab.evaluate("document.querySelectorAll('section.deck-current .MathJax').length")
        if n:
            assert tab.evaluate("document.querySelectorAll('section.deck-current .MathJax_Error').length") == 0
            assert "$" not in _prose_text(tab, "section.deck-current"), "raw LaTeX left on the slide"
            return i
        tab.keyboard.press("Space")
    return None


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


def test_deck_functions_refuse_what_is_not_a_notebook_or_a_folder():
    from course_utils import deck

    for bad in (None, "notebook.ipynb", {"cells": []}):
        with pytest.raises(TypeError, match="nb must be a notebook"):
            deck.deck_notebook(bad)
        with pytest.raises(TypeError, match="nb must be a notebook"):
            deck.offline_badges(bad)
    for bad in (None, 3, ""):
        with pytest.raises(TypeError, match="out must be a folder"):
            deck.copy_mathjax(bad)
