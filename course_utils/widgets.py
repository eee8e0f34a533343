"""The callbacks behind every slider of the course, and the small wiring helper notebooks use.

Each callback is a plain function that returns a matplotlib Figure (and the numbers it shows), so
tests call it without a browser; a notebook only wires sliders to it with :func:`show_interactive`.
Core ipywidgets only, so the same code runs with ipywidgets 7.7 (Colab) and 8.x.
"""
from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt

from . import plotting  # noqa: F401  (callbacks draw with it)



def show_interactive(callback: Callable, **controls):
    """Wire ipywidgets controls to ``callback(**values)`` and display the result.

    ``controls`` map argument names to ipywidgets controls (or abbreviations understood by
    ``ipywidgets.interactive``, e.g. a tuple ``(0.0, 1.0, 0.05)`` for a float slider). Sliders
    redraw when released (``continuous_update=False``) so a drag never queues many redraws. The
    callback's figure is shown with ``plt.show()`` and closed, which works with inline matplotlib
    on JupyterLab, Colab and Binder. Returns the ``interactive`` widget.
    """
    import ipywidgets as W
    from IPython.display import display

    for c in controls.values():
        if hasattr(c, "continuous_update"):
            c.continuous_update = False

    def run(**values):
        result = callback(**values)
        fig = result[0] if isinstance(result, tuple) else result
        if fig is not None:
            plt.show()
            plt.close(fig)

    ui = W.interactive(run, **controls)
    display(ui)
    return ui


# --- notebook 01: curse of dimensionality ------------------------------------------------------

# --- notebook 02: manifold hypothesis -----------------------------------------------------------

# --- notebook 03: t-SNE ----------------------------------------------------------------------------

# --- notebook 04: autoencoder (latent-size slider, description "code size") ------------------------

# --- notebook 06: denoising autoencoder (noise slider, description "noise level σ") -----------------

# --- notebook 07: applications --------------------------------------------------------------------
