"""Plumbing behind the autoencoder course. One module per concern (see the README's layout):

=========== =================================================================================
config      sizes and switches (fast mode, folders); imports nothing of ours
data        ``load_mnist``, ``shared_images``, ``add_noise``, the lessons' splits and noisy test copy
models      ``Autoencoder``, ``seminar_dae``, ``autoencoder``, ``linear_autoencoder``
pca         ``principal_axes``, ``reconstruct``, ``mse``, the PCA denoiser
manifolds   notebooks 01–03: Swiss roll, embeddings and their scores, t-SNE sweeps (cached)
device      ``pick_device``, ``describe_runtime``, ``one_thread``
training    ``fit``, ``reconstruct``, ``mse``
recipes     one frozen ``Recipe`` per cached model: builds it, trains it, keys its cache
checkpoints ``save``, ``load``, ``load_or_train`` (models), keys and digests of every cache file
results     ``load_or_compute`` (arrays and numbers, on the same keys and digests)
store       "the trained model for this recipe", the fitted PCAs, the curves of 04 and 07
probe       the few-label linear probe of notebook 07
compression quantizer, sizes in bits, PCA/JPEG rate–distortion (notebook 07)
plotting    figures only
widgets     the callbacks behind every slider (fetch from the store, draw with plotting)
exercises   checks that say right or wrong and why, never the answer
prepare     ``python -m course_utils.prepare``: pre-train an explicit list of jobs
site        ``python -m course_utils.site``: the static copy of the course
headless    ``HeadlessClient``: nbclient's runner for the site and benchmarks, minus nbclient#312
memory      ``tune_heap`` (applied by ``data`` and ``training``, not on import)
=========== =================================================================================

Importing the package has no side effect on the process.
"""
__version__ = "0.1.0"
