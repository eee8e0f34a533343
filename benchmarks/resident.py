"""What a notebook's kernel still holds after Run All (issue 17, target 5): ``VmRSS`` split into
anonymous and file-backed memory, the heavy modules imported, and the largest live tensor storages
with the names of the notebook's variables that hold them (an empty list: held inside
``course_utils``, e.g. a widget's cache).

    COURSE_CACHE_DIR=<a prepared cache> python -m benchmarks.resident notebooks/06_denoising_autoencoder.ipynb ...

Each notebook runs top to bottom in a fresh kernel, as in the course part, then one appended cell
measures. Use a prepared cache (``python -m course_utils.prepare``), or the figures include the
training."""
from __future__ import annotations

import json
import sys
from pathlib import Path

_MEASURE = r'''
import gc as _gc, json as _json, sys as _sys, warnings as _warnings, torch as _torch
def _cpu_tensor(o):
    try:  # a dead weakref.proxy raises ReferenceError on any attribute, isinstance included
        return isinstance(o, _torch.Tensor) and o.device.type == "cpu" and o.numel() > 0
    except ReferenceError:
        return False
def _course_resident(top):
    status = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            status[key] = int(value.split()[0]) // 1024
    names = {}
    for name, value in list(globals().items()):
        try:
            values = list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, (list, tuple)) else [value]
        except ReferenceError:
            continue
        for v in values:
            if _cpu_tensor(v):
                names.setdefault(v.untyped_storage().data_ptr(), set()).add(name)
    sizes = {}
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")  # isinstance on some lazy torch objects warns
        for o in _gc.get_objects():
            if _cpu_tensor(o):
                s = o.untyped_storage()
                sizes[s.data_ptr()] = max(sizes.get(s.data_ptr(), 0), s.nbytes())
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return {"mb": status, "modules": [m for m in ("sklearn", "scipy", "torch._dynamo", "sympy", "PIL") if m in _sys.modules],
            "tensors_mb": round(sum(sizes.values()) / 2**20, 1),
            "largest": [[round(b / 2**20, 1), sorted(names.get(p, ()))] for p, b in largest]}
print("COURSE_RESIDENT " + _json.dumps(_course_resident(TOP)))
'''


def measure(notebook: str | Path, top: int = 12, timeout: int | None = None) -> dict:
    """Run ``notebook`` in a fresh kernel as the course part does (:func:`benchmarks.course.run_notebook`:
    its folder as working directory, this environment's COURSE_FAST and cache) and return what the
    kernel holds after the last cell: ``{"mb": {"VmRSS", "VmHWM", "RssAnon", "RssFile"}, "modules",
    "tensors_mb", "largest": [[MB, [names]], ...]}`` (Linux: it reads ``/proc/self/status``)."""
    from benchmarks.course import run_notebook
    from course_utils import config

    path = Path(notebook).resolve()
    if not path.is_file() or path.suffix != ".ipynb":
        raise FileNotFoundError(f"expected a notebook file (.ipynb), got {notebook!r}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    r = run_notebook(path, fast=config.FAST, cache_dir=str(config.cache_dir()), timeout=timeout,
                     probe=_MEASURE.replace("TOP", str(top)))
    if r["error"]:
        raise RuntimeError(f"{path.name}: {r['error']}")
    for line in r["probe_text"].splitlines():
        if line.startswith("COURSE_RESIDENT "):
            return json.loads(line[len("COURSE_RESIDENT "):])
    raise RuntimeError(f"{path.name}: the measuring cell printed nothing")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    for nb in argv:
        r = measure(nb)
        mb = r["mb"]
        print(f"{Path(nb).name}: VmRSS {mb['VmRSS']} MB (anonymous {mb['RssAnon']}, file-backed {mb['RssFile']}), "
              f"peak {mb['VmHWM']} MB; tensors {r['tensors_mb']} MB; modules {', '.join(r['modules'])}")
        for size, names in r["largest"]:
            print(f"  {size:8.1f} MB  {', '.join(names) or '(no notebook variable: held inside course_utils)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
