"""The cache of computed results (arrays, numbers, strings): :func:`load_or_compute`.

The same promises as :mod:`course_utils.checkpoints`, whose keys, digests, safe writes and one-line
messages it uses: never a wrong result (digest and cache key verified on load), never a lost one
(a failed save still returns it), atomic files. Arrays are stored with numpy's ``.npz`` and
``allow_pickle=False``, and an ``.npz`` whose arrays declare more than :data:`MAX_RESULT_BYTES` is
refused before anything is inflated.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .checkpoints import (_FIX, DamagedCache, _check_meta, _digest, _normalise, _parse_json_dict, _reject,
                          _save_or_warn, _warn, cache_key, cache_path)

__all__ = ["load_or_compute", "is_cached", "MAX_RESULT_BYTES", "read_recorded", "RECORDED_DIR"]

#: Where the repository keeps its recorded benchmark runs (absent when the package is installed alone).
RECORDED_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results"

#: The largest cached result (sum of its arrays' declared sizes) that is ever inflated.
MAX_RESULT_BYTES = 512 * 2**20


def is_cached(name: str, config: dict[str, Any]) -> bool:
    """Whether :func:`load_or_compute` would find ``name``'s result for ``config`` on disk (a file
    there that turns out damaged is still rebuilt when it is loaded)."""
    return cache_path(name, config, suffix=".npz").is_file()


def load_or_compute(name: str, compute: Callable[[], Any], config: dict[str, Any]):
    """Return ``compute()``'s result, computed once per configuration and cached on disk.

    ``compute`` returns a numpy array / tensor, a dict of them (other values in the dict: JSON-able
    scalars, lists or strings), or one JSON-able value (a number, string, list or ``None``). Arrays
    are stored with numpy's ``.npz`` (no pickle) and always come back as numpy arrays, whether
    computed now or loaded; other values come back as JSON gives them (a tuple as a list).
    """
    key = cache_key(name, config)
    path = cache_path(name, config, suffix=".npz")
    cached = _load_cached_result(path, name, key)
    if cached is not None:
        return cached[0]
    arrays, meta = _split_result(compute(), name, key, config)
    text = json.dumps(meta, sort_keys=True)
    digest = _digest(arrays, text)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, __meta__=np.array(text), __digest__=np.array(digest), **arrays)

    _save_or_warn(path, write, f"result {name!r}")
    return _assemble(arrays, meta)  # same form as a cache hit


def _split_result(result: Any, name: str, key: str, cfg: dict) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, metadata) of a result: arrays go to the npz, everything else into the metadata."""
    single = not isinstance(result, dict)
    items = {"value": result} if single else result
    arrays, scalars = {}, {}
    for k, v in items.items():
        if not isinstance(k, str) or k.startswith("__"):
            raise ValueError(f"result keys must be strings not starting with '__', got {k!r}")
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().numpy()
        if isinstance(v, np.ndarray):
            if v.dtype == object:
                raise ValueError(f"result {k!r} is an object array; only numeric arrays can be cached")
            arrays[k] = v
        else:
            scalars[k] = v.item() if isinstance(v, np.generic) else v
    meta = {"name": name, "key": key, "config": _normalise(cfg), "single": single, "scalars": scalars,
            "arrays": {k: [a.dtype.str, list(a.shape)] for k, a in arrays.items()}}
    try:
        meta = json.loads(json.dumps(meta, sort_keys=True))
    except (TypeError, ValueError) as err:
        raise ValueError(f"compute must return arrays or JSON-able values: {err}") from None
    return arrays, meta


def _assemble(arrays: dict[str, np.ndarray], meta: dict):
    if meta["single"]:
        return arrays["value"] if "value" in arrays else meta["scalars"]["value"]
    return {**meta["scalars"], **arrays}


def _load_cached_result(path: Path, name: str, key: str) -> tuple[Any] | None:
    """``(result,)`` from a verified cached file, or None (no file, or a rejected one)."""
    if not path.is_file():
        return None
    try:
        return (_read_result(path, name, key),)
    except OSError as err:
        _warn(f"cannot read the cached file {path} ({type(err).__name__}: {err}); computing again — "
              f"{_FIX}, or ask the file's owner to make it readable.")
    except Exception as err:  # DamagedCache, or anything else a strange file provokes
        _reject(path, err)
    return None


def _read_result(path: Path, name: str, key: str):
    with open(path, "rb"):  # unreadable: OSError, reported as such
        pass
    try:
        _check_declared_sizes(path)
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except DamagedCache:
        raise
    except Exception as err:
        raise DamagedCache(f"not a readable npz file: {type(err).__name__}: {err}") from None
    text, digest = data.pop("__meta__", None), data.pop("__digest__", None)
    if not _is_text(text) or not _is_text(digest):
        raise DamagedCache("no metadata and digest")
    text = str(text)
    if _digest(data, text) != str(digest):
        raise DamagedCache("its content does not match its digest")
    meta = _parse_json_dict(text, f"result {path.name}")
    _check_meta(meta, name, key)
    declared = {k: [a.dtype.str, list(a.shape)] for k, a in data.items()}
    if meta.get("arrays") != declared or not isinstance(meta.get("scalars"), dict) \
            or not isinstance(meta.get("single"), bool):
        raise DamagedCache("its metadata does not describe its arrays")
    if meta["single"] and "value" not in data and "value" not in meta["scalars"]:
        raise DamagedCache("it holds no value")
    return _assemble(data, meta)


def _is_text(a: Any) -> bool:
    return isinstance(a, np.ndarray) and a.shape == () and a.dtype.kind == "U"


def _check_declared_sizes(path: Path, limit: int | None = None) -> None:
    """Refuse an npz whose arrays declare more than ``limit`` bytes in all, before inflating any."""
    limit = MAX_RESULT_BYTES if limit is None else limit
    total = 0
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            total += max(info.file_size, _declared_npy_bytes(z, info))
            if total > limit:
                raise DamagedCache(f"its arrays declare {total / 2**20:.0f} MB or more, over the "
                                   f"{limit / 2**20:.0f} MB a cached result may hold")


def _declared_npy_bytes(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The size an ``.npy`` member's header declares (reads only the header)."""
    with z.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def read_recorded(name: str, folder: Path | None = None) -> dict | None:
    """A recorded run of :mod:`benchmarks` (``benchmarks/results/<name>.json``) as a dict, or ``None``
    when this copy of the course has no ``benchmarks/results`` folder (the package installed on its
    own, e.g. on Colab). Notebook 06 shows ``seminar_2000epochs`` this way.

    The file must hold equally long lists ``epoch`` (strictly increasing), ``test_mse`` and
    ``saturated`` and the fields ``epochs_planned``, ``machine``, ``command`` and ``started``: a file
    that does not is refused with a ValueError naming what is wrong (a missing file in a checkout too).
    """
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"name must be a file name of letters, digits, '_' or '-', got {name!r}")
    if folder is not None and not isinstance(folder, (str, Path)):
        raise ValueError(f"folder must be None or a path, got {type(folder).__name__}")
    folder = RECORDED_DIR if folder is None else Path(folder)
    if not folder.is_dir():
        return None
    path = folder / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"name {name!r}: no recorded run {path}; expected the name of a file in "
                         f"{folder} (run its benchmark, see benchmarks/README.md, to make it)")
    try:
        rec = json.loads(path.read_text())
    except ValueError:
        raise ValueError(f"recorded run {path} is not valid JSON") from None
    need = ("epoch", "test_mse", "saturated", "epochs_planned", "machine", "command", "started")
    missing = [k for k in need if not isinstance(rec, dict) or k not in rec]
    if missing:
        raise ValueError(f"recorded run {path} lacks {missing}")
    ep = rec["epoch"]
    if (not ep or len(rec["test_mse"]) != len(ep) or len(rec["saturated"]) != len(ep)
            or any(b <= a for a, b in zip(ep[:-1], ep[1:]))):
        raise ValueError(f"recorded run {path}: 'epoch' must be non-empty and increasing, with one "
                         "'test_mse' and 'saturated' entry per epoch")
    return rec
