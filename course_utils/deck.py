"""Offline slide decks and pages for the static site (``python -m course_utils.site``).

nbconvert's ``--to slides`` needs reveal.js, MathJax and require.js from the internet. The site
instead writes, for each executed notebook, a small self-contained deck: the JupyterLab-styled
HTML of the executed notebook (figures embedded) with its cells grouped into ``<section>`` slides
by their ``slideshow.slide_type`` metadata — the same metadata jupyterlab-deck presents live —
plus about a hundred lines of its own CSS and JavaScript (keys as in the README's presenter guide,
a slide counter, a 1280×720 stage scaled to the window). "skip" and "notes" cells (and cells
tagged ``speaker-notes``) are left out of the deck. Formulas are typeset by MathJax 2, copied
into the site from the installed ``jupyter_server_mathjax`` package (:func:`copy_mathjax`), so
pages and decks load no script, style or font from the network.
"""
from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

__all__ = ["MATHJAX_URL", "copy_mathjax", "deck_notebook", "offline_badges"]

#: Where the site keeps MathJax, relative to its pages.
MATHJAX_DIR = "assets/mathjax"
#: The ``<script src>`` of MathJax on every page and deck (relative, so the folder can be moved).
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"

#: Cells a deck never shows: not presented ("skip"), speaker notes ("notes", tag speaker-notes).
_HIDDEN_TYPES = {"skip", "notes"}
_NOTES_TAG = "speaker-notes"


def _mathjax_source() -> tuple[Path, str]:
    """The installed MathJax folder and its package version."""
    try:
        import jupyter_server_mathjax
    except ImportError as err:
        raise RuntimeError("the static site typesets formulas offline with MathJax from the "
                           "`jupyter-server-mathjax` package: pip install -r requirements.txt") from err
    version = getattr(jupyter_server_mathjax, "__version__", "unknown")
    return Path(jupyter_server_mathjax.__file__).parent / "static", version


def copy_mathjax(out: str | Path) -> Path:
    """Copy MathJax 2 (from the installed ``jupyter_server_mathjax``) to ``out/assets/mathjax``.

    A copy of the same version already there is kept; a different or damaged one is replaced (the
    new copy is made beside it, then renamed into place). Returns the folder.
    """
    if not isinstance(out, (str, Path)) or not str(out):
        raise TypeError(f"out must be a folder path (str or Path), got {out!r}")
    src, version = _mathjax_source()
    target = Path(out) / MATHJAX_DIR
    stamp = target / "VERSION"
    if stamp.is_file() and stamp.read_text().strip() == version and (target / "MathJax.js").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / ".mathjax.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (tmp / "VERSION").write_text(version + "\n")
    old = target.parent / ".mathjax.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


#: A Markdown badge: a remote image inside a link, ``[![Open In Colab](https://…svg)](https://…)``.
_BADGE = re.compile(r"\[!\[([^\]]*)\]\(\s*https?://[^)\s]*\s*\)\]\(([^)\s]+)\)")


def offline_badges(nb) -> int:
    """Turn the Colab / Binder badges of ``nb``'s Markdown cells (remote images inside links) into
    plain text links, so pages and decks show no broken image offline. Returns how many changed."""
    _check_notebook(nb)
    changed = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source, n = _BADGE.subn(r"[\1](\2)", cell.source)
            changed += n
    return changed


def _check_notebook(nb) -> None:
    if not hasattr(nb, "cells") or not isinstance(nb.cells, list):
        raise TypeError(f"nb must be a notebook read by nbformat (with a list of cells), got {type(nb).__name__}")


def _slide_type(cell) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-") or "-"


def deck_notebook(nb):
    """A copy of ``nb`` ready for the deck template: hidden cells dropped, slides marked.

    Cells with slide type "skip" or "notes", or tagged ``speaker-notes``, are removed. Each kept
    cell gets ``metadata.course_deck``: ``slide_start`` (with ``subslide`` for a sub-slide),
    ``fragment_start``, ``fragment_end`` and ``slide_end``, as nbconvert's slides preprocessor
    groups them: a "-" cell continues the slide (or fragment) before it; the first cell starts
    a slide whatever its type. Raises ValueError when no cell is left to show.
    """
    _check_notebook(nb)
    nb = copy.deepcopy(nb)
    kept = [c for c in nb.cells if _slide_type(c) not in _HIDDEN_TYPES
            and _NOTES_TAG not in c.metadata.get("tags", [])]
    if not kept:
        raise ValueError("the notebook has no cell to present: every cell is 'skip' or 'notes'")
    in_fragment = False
    for i, cell in enumerate(kept):
        kind = "slide" if i == 0 else _slide_type(cell)
        marks = {}
        if kind in ("slide", "subslide"):
            if i > 0:
                prev = kept[i - 1].metadata.course_deck
                prev["fragment_end"] = in_fragment
                prev["slide_end"] = True
            in_fragment = False
            marks["slide_start"] = True
            marks["subslide"] = kind == "subslide"
        elif kind == "fragment":
            if in_fragment:
                kept[i - 1].metadata.course_deck["fragment_end"] = True
            marks["fragment_start"] = True
            in_fragment = True
        cell.metadata["course_deck"] = marks
    kept[-1].metadata.course_deck["fragment_end"] = in_fragment
    kept[-1].metadata.course_deck["slide_end"] = True
    nb.cells = kept
    return nb


#: A page that loads nothing from the network: no require.js (the site freezes widgets into
#: plain outputs) and no mermaid (no notebook draws diagrams); MathJax comes from ``mathjax_url``.
#: The copied MathJax carries the STIX-Web fonts only (as the classic notebook used it), so it is told
#: to use them instead of looking for its TeX fonts.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({"HTML-CSS": {availableFonts: ["STIX-Web"], preferredFont: "STIX-Web",
                                 webFont: "STIX-Web", imageFont: null},
                    SVG: {font: "STIX-Web"}});
</script>
{{ super() }}
{%- endblock html_head_js_mathjax -%}
"""

_DECK_CSS = """
html, body.jp-Notebook { margin: 0; padding: 0; height: 100%; overflow: hidden; background: #333; }
body.jp-Notebook > main { position: absolute; left: 50%; top: 50%; width: 1280px; height: 720px;
  margin: 0; padding: 0; overflow: hidden; background: var(--jp-layout-color0, #fff);
  transform: translate(-50%, -50%) scale(var(--deck-scale, 1)); }
.deck-slide { position: absolute; inset: 0; box-sizing: border-box; padding: 24px 48px 44px;
  overflow: hidden; }
body:not(.deck-ready) .deck-slide { visibility: hidden; }  /* laid out while MathJax typesets */
body.deck-ready .deck-slide { display: none; }
body.deck-ready .deck-slide.deck-current { display: block; }
.deck-slide.deck-scroll { overflow-y: auto; }
.deck-fragment { visibility: hidden; }
.deck-fragment.deck-shown { visibility: visible; }
.deck-slide .jp-InputPrompt, .deck-slide .jp-OutputPrompt { display: none; }
.deck-slide { --jp-content-font-size1: 19px; --jp-code-font-size: 15px; --jp-code-line-height: 1.35; }
#deck-bar { position: fixed; right: 12px; bottom: 8px; z-index: 10; font: 15px system-ui, sans-serif;
  color: #aaa; user-select: none; }
#deck-bar button { font: inherit; color: inherit; background: none; border: 0; cursor: pointer; }
@media print {
  html, body.jp-Notebook { overflow: visible; height: auto; background: none; }
  body.jp-Notebook > main { position: static; transform: none; width: auto; height: auto; }
  body.deck-ready .deck-slide, .deck-slide { display: block; position: relative; height: 720px;
    page-break-after: always; }
  .deck-fragment { visibility: visible; }
  #deck-bar { display: none; }
}
"""

_DECK_JS = """
(function () {
  var slides = Array.prototype.slice.call(document.querySelectorAll("section.deck-slide"));
  var bar = document.getElementById("deck-bar"), counter = document.getElementById("deck-counter");
  var mains = slides.filter(function (s) { return !s.classList.contains("deck-subslide"); });
  var at = 0, shown = 0, ready = false;
  function frags(i) { return slides[i].querySelectorAll(".deck-fragment"); }
  function mainOf(i) { while (i > 0 && slides[i].classList.contains("deck-subslide")) i--; return i; }
  function fit() {
    document.documentElement.style.setProperty("--deck-scale",
      Math.min(window.innerWidth / 1280, window.innerHeight / 720));
    var s = slides[at], zoom = 1;
    s.style.zoom = ""; s.classList.remove("deck-scroll");
    while (s.scrollHeight > s.clientHeight + 1 && zoom > 0.45) { zoom *= 0.92; s.style.zoom = zoom; }
    if (s.scrollHeight > s.clientHeight + 1) s.classList.add("deck-scroll");
  }
  function show() {
    if (!slides.length) return;
    slides.forEach(function (s, i) { s.classList.toggle("deck-current", i === at); });
    Array.prototype.forEach.call(frags(at), function (f, i) { f.classList.toggle("deck-shown", i < shown); });
    var main = mains.indexOf(slides[mainOf(at)]), sub = at - mainOf(at);
    counter.textContent = (main + 1) + (sub ? "." + sub : "") + " / " + mains.length;
    if (ready) fit();
    history.replaceState(null, "", "#/" + (at + 1));
  }
  function go(i, fragments) { at = Math.max(0, Math.min(slides.length - 1, i));
    shown = fragments ? frags(at).length : 0; show(); }
  function next() { if (shown < frags(at).length) { shown++; show(); } else if (at < slides.length - 1) go(at + 1); }
  function prev() { if (shown > 0) { shown--; show(); } else if (at > 0) go(at - 1, true); }
  function nextMain() { for (var i = at + 1; i < slides.length; i++)
    if (!slides[i].classList.contains("deck-subslide")) return go(i); }
  function prevMain() { var m = mainOf(at); go(m > 0 ? mainOf(m - 1) : 0); }
  var keys = { " ": next, PageDown: next, ArrowDown: next, n: next, PageUp: prev, ArrowUp: prev, p: prev,
    ArrowRight: nextMain, ArrowLeft: prevMain, Home: function () { go(0); },
    End: function () { go(slides.length - 1, true); } };
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var act = e.key === " " && e.shiftKey ? prev : keys[e.key];
    if (act) { e.preventDefault(); act(); }
  });
  document.getElementById("deck-prev").onclick = prev;
  document.getElementById("deck-next").onclick = next;
  window.addEventListener("resize", function () { if (ready) fit(); });
  var start = parseInt((location.hash.match(/^#\\/(\\d+)$/) || [])[1], 10);
  at = start > 0 ? Math.min(start, slides.length) - 1 : 0;
  function begin() { if (ready) return; ready = true; document.body.classList.add("deck-ready"); show(); }
  show();
  // Formulas are typeset while every slide is laid out (MathJax 2 measures them), then the deck starts.
  if (window.MathJax && MathJax.Hub) MathJax.Hub.Register.StartupHook("End", function () { MathJax.Hub.Queue(begin); });
  else begin();
  setTimeout(begin, 15000);
  bar.hidden = false;
})();
"""

#: The deck: the page template (solutions folded) with cells wrapped in slides and fragments.
DECK_TEMPLATE = ("""{%- extends 'course_page.html.j2' -%}
{% block any_cell %}
{%- set deck = cell.metadata.get('course_deck', {}) -%}
{%- if deck.get('slide_start') -%}
<section class="deck-slide{{ ' deck-subslide' if deck.get('subslide') else '' }}">
{%- endif -%}
{%- if deck.get('fragment_start') %}<div class="deck-fragment">{% endif -%}
{{ super() }}
{%- if deck.get('fragment_end') %}</div>{% endif -%}
{%- if deck.get('slide_end') %}</section>{% endif -%}
{% endblock any_cell %}
{% block html_head_css %}{{ super() }}<style type="text/css">{% raw %}""" + _DECK_CSS + """{% endraw %}</style>
{% endblock html_head_css %}
{% block body_footer %}
</main>
<nav id="deck-bar" hidden><button id="deck-prev" title="previous (PageUp)">&#8249;</button>
<span id="deck-counter"></span><button id="deck-next" title="next (Space)">&#8250;</button></nav>
<script>{% raw %}""" + _DECK_JS + """{% endraw %}</script>
</body>
{% endblock body_footer %}
""")
