"""Plumbing behind the autoencoder course: data, models, device choice, training, caching, plots.

One module per concern (see ``shared/DESIGN.md`` and the README):

========== ===========================================================
config      sizes and switches (fast mode, folders)
data        ``load_mnist``, ``shared_images`` (read-only, no second copy), ``add_noise``
models      ``Autoencoder``, ``seminar_dae``, ``autoencoder``, ``linear_autoencoder``
device      ``pick_device``, ``describe_runtime``
training    ``fit``, ``reconstruct``, ``mse``
checkpoints ``save``, ``load``, ``load_or_train``, ``load_or_compute``
plotting    figures only
widgets     the callbacks behind every slider
compression quantizer, sizes in bits, PCA/JPEG baselines (notebook 07)
memory      ``limit_heap_growth`` (applied on import: see its docstring)
========== ===========================================================
"""
from .memory import limit_heap_growth as _limit_heap_growth

__version__ = "0.1.0"
HEAP_GROWTH_LIMITED: bool = _limit_heap_growth()
