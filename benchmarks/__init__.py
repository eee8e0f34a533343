"""Benchmarks of the autoencoder course: speed against the hardware bound, quality against
baselines and papers, widget response, and the run time and memory of every notebook.

Run ``python -m benchmarks`` (``--quick`` for a smoke run, ``--only NAME,...`` for some parts);
it prints a table and writes a JSON file. See ``benchmarks/README.md`` for the latest figures.
"""
from __future__ import annotations

#: Part name -> module (inside this package) with ``run(quick, device, **options) -> dict``.
PARTS: dict[str, str] = {
    "throughput": "throughput",      # 1. fit vs GEMM bound vs the tutorial loop
    "threads": "threads",            # 1b. fit under a 1-CPU quota: the course's thread choice vs 1, 2
    "denormals": "denormals",        # 1c. the seminar's sigmoid net vs Xavier init, untrained and trained
    "denoise": "denoise",            # 2. denoising quality at a fixed wall-clock budget
    "reconstruction": "reconstruction",  # 3. 32-d code vs PCA-32 and Hinton & Salakhutdinov 2006
    "widgets": "widgets_response",   # 4. widget callback response times
    "course": "course",              # 5. run time and peak memory of every notebook
    "pair": "pair_memory",           # 5b. two notebooks' kernels side by side under a 2 GB limit
}
