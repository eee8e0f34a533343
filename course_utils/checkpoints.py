"""Safe, atomic, verified saving and loading of models, and a cache keyed by configuration.

:func:`load_or_train` (models, here) and :func:`course_utils.results.load_or_compute` (arrays and
numbers, built on this module's keys, digests and writes) hash the *full* configuration (every size, seed and
hyper-parameter given), so a rerun, a widget or a second notebook loads in milliseconds instead
of retraining, and a changed setting never reuses a stale result. Model weights use safetensors and
results numpy's ``.npz`` with ``allow_pickle=False``: nothing executable is ever loaded.

What the cache promises:

* **Never a wrong result.** Every file records a sha256 digest of its content (each tensor's name,
  dtype, shape and bytes, *and* the stored metadata: name, cache key, configuration, info) and the
  cache key it was made from. On load both are verified; a model's tensors are also checked against
  a freshly built model (same names, shapes and dtypes) and checked finite, and an ``.npz`` is
  refused before it is inflated when its arrays declare more than :data:`MAX_RESULT_BYTES`. Any
  mismatch prints one line to stderr (the cached file was damaged and is being rebuilt), removes the
  file and rebuilds from a *fresh* ``build()`` — never a crash, never a half-loaded model.
* **Never a lost result.** A save that fails (read-only or full disk, ``COURSE_CACHE_DIR`` a file,
  a folder in the file's place) prints one line saying why and how to fix it, and the trained model
  or computed result is returned all the same.
* **Atomic.** Files are written to ``.NAME.XXXX.tmp`` in the same folder and renamed into place, so
  no reader ever sees a partial file; temp files left by a killed process are removed by the next
  save in that folder once they are :data:`ORPHAN_AGE_S` old. Created files follow the umask.

Every message of this module goes to stderr as one line starting with ``course cache:``.
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from . import atomic, config

__all__ = ["save", "load", "cache_key", "cache_path", "load_or_train", "CACHE_VERSION", "DamagedCache"]

#: Bump when the meaning of cached files changes, so old caches are not reused.
#: 2: digest of content + metadata, cache key stored in the file, normalised configs.
CACHE_VERSION = 2

#: Temp files of a save older than this (seconds) are orphans of a killed process.
ORPHAN_AGE_S = 3600.0

_FIX = "set COURSE_CACHE_DIR to a writable folder to cache it"


class DamagedCache(ValueError):
    """A cached file that must not be used (damaged, stale, or made from another configuration)."""


def _warn(message: str) -> None:
    """Print one ``course cache:`` line to stderr."""
    print("course cache: " + " ".join(str(message).split()), file=sys.stderr, flush=True)


# --- configuration and keys ------------------------------------------------------------------------

def _normalise(value: Any) -> Any:
    """``value`` with JSON-equal numbers made equal: integral floats become ints (30.0 -> 30),
    numpy scalars become Python ones, tuples become lists; bools stay bools."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else value
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value  # json.dumps decides (and refuses what is not JSON-able)


def cache_key(name: str, cfg: dict[str, Any]) -> str:
    """A short hash of ``name`` and the full configuration ``cfg`` (JSON-able values).

    JSON-equal configurations share a key: ``{"perplexity": 30.0}`` and ``{"perplexity": 30}``
    are the same entry (integral floats count as ints; ``True`` stays distinct from ``1``).
    """
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"cache name must be letters, digits, '-' or '_', got {name!r}")
    if not isinstance(cfg, dict):
        raise ValueError(f"config must be a dict of JSON-able settings, got {type(cfg).__name__}")
    text = _config_json({"name": name, "v": CACHE_VERSION, "config": cfg})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _config_json(value: Any) -> str:
    try:
        return json.dumps(_normalise(value), sort_keys=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config must hold only JSON-able values (numbers, strings, lists): {err}") from None


def cache_path(name: str, cfg: dict[str, Any], suffix: str = ".safetensors") -> Path:
    """Where the result of ``name`` under ``cfg`` is cached (``COURSE_CACHE_DIR``)."""
    return config.cache_dir() / f"{name}-{cache_key(name, cfg)}{suffix}"


# --- digests ---------------------------------------------------------------------------------------

def _array_bytes(value: torch.Tensor | np.ndarray) -> tuple[str, list[int], np.ndarray]:
    """dtype name, shape, and a zero-copy uint8 view of the array's bytes (what is digested)."""
    if isinstance(value, torch.Tensor):
        t = value.detach().to("cpu").contiguous()
        return str(t.dtype), list(t.shape), t.reshape(-1).view(torch.uint8).numpy()
    a = np.ascontiguousarray(value)
    return a.dtype.str, list(a.shape), a.reshape(-1).view(np.uint8)


def _digest(arrays: dict[str, torch.Tensor | np.ndarray], meta_json: str) -> str:
    """sha256 of the metadata text and of every array's name, dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(meta_json.encode())
    for name in sorted(arrays):
        dtype, shape, raw = _array_bytes(arrays[name])
        h.update(b"\0" + json.dumps([name, dtype, shape, raw.nbytes]).encode() + b"\0")
        h.update(raw)
    return h.hexdigest()


# --- atomic writes ---------------------------------------------------------------------------------

def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Make the folder, clean its orphan temp files, then write ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.remove_orphans(path.parent, ORPHAN_AGE_S)
    atomic.write_atomic(path, write)


def _save_or_warn(path: Path, write: Callable[[str], None], what: str) -> bool:
    """Atomically write ``path``; on failure say why in one line (the result is kept in memory)."""
    try:
        _atomic_write(path, write)
        return True
    except Exception as err:  # OSError, SafetensorError (disk full), ...: the result is never lost
        reason = _os_reason(err, path)
        _warn(f"{what} was not cached: cannot write {path} ({reason}); it is kept in memory only — {_FIX}.")
        return False


def _os_reason(err: Exception, path: Path) -> str:
    """Why a save failed, in words a learner can act on."""
    blocker = _first_file(path.parent)
    if blocker is not None:
        return f"{blocker} is a file, not a folder"
    if path.is_dir():
        return "a folder is in the cache file's place"
    return f"{type(err).__name__}: {err}"


def _first_file(folder: Path) -> Path | None:
    """The first of ``folder`` and its parents that is a regular file (so no folder can be made)."""
    return next((p for p in [folder, *folder.parents] if p.is_file()), None)


# --- safetensors files -----------------------------------------------------------------------------

def save(model_or_state: nn.Module | dict[str, torch.Tensor], path: str | Path,
         metadata: dict[str, Any] | None = None) -> Path:
    """Save a model's state dict (or a dict of tensors) to ``path`` as safetensors, atomically.

    ``metadata`` (JSON-able) is stored inside the file and returned by :func:`load`; a sha256
    digest of the tensors and the metadata is stored beside it and verified by :func:`load`.
    """
    from safetensors.torch import save_file

    tensors, meta = _prepare_save(model_or_state, metadata)
    path = Path(path)
    _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))
    return path


def _prepare_save(model_or_state, metadata) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("save expects an nn.Module or a dict of tensors")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict of JSON-able values, got {type(metadata).__name__}")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    text = json.dumps(metadata or {}, sort_keys=True, default=str)
    return tensors, {"json": text, "digest": _digest(tensors, text)}


def load(path: str | Path, model: nn.Module | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Load ``(state_dict, metadata)`` from ``path``; with ``model``, also load the weights into it.

    A missing file raises FileNotFoundError, an unreadable one OSError, and a damaged one (bad
    digest, odd metadata; with ``model``: other names, shapes or dtypes than the model's, or
    non-finite values) raises ValueError — and then ``model`` is left untouched.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state, meta = _read_safetensors(path)
    if model is not None:
        _check_state(state, model.state_dict())
        model.load_state_dict(state)
    return state, meta


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import safe_open

    with open(path, "rb"):  # an unreadable file is an OSError (permissions), not damage
        pass
    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
            stored = f.metadata()
    except Exception as err:
        raise DamagedCache(f"checkpoint {path} is damaged or not a safetensors file: {err}") from None
    if not isinstance(stored, dict) or not isinstance(stored.get("json"), str) \
            or not isinstance(stored.get("digest"), str):
        raise DamagedCache(f"checkpoint {path} is damaged: no metadata and digest")
    if _digest(state, stored["json"]) != stored["digest"]:
        raise DamagedCache(f"checkpoint {path} is damaged: its content does not match its digest")
    meta = _parse_json_dict(stored["json"], f"checkpoint {path}")
    return state, meta


def _parse_json_dict(text: str, what: str) -> dict:
    try:
        meta = json.loads(text)
    except ValueError:
        raise DamagedCache(f"{what} is damaged: its metadata is not JSON") from None
    if not isinstance(meta, dict):
        raise DamagedCache(f"{what} is damaged: its metadata is a {type(meta).__name__}, not a dict")
    return meta


def _check_state(state: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> None:
    """Same tensor names, shapes and dtypes as ``reference`` (a freshly built model's), all finite."""
    missing, extra = sorted(set(reference) - set(state)), sorted(set(state) - set(reference))
    if missing or extra:
        raise DamagedCache(f"tensor names differ from the model's (missing {missing}, extra {extra})")
    for k, ref in reference.items():
        t = state[k]
        if t.shape != ref.shape or t.dtype != ref.dtype:
            raise DamagedCache(f"tensor {k!r} is {t.dtype} {tuple(t.shape)}, "
                               f"the model expects {ref.dtype} {tuple(ref.shape)}")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise DamagedCache(f"tensor {k!r} holds NaN or infinity")


# --- the model cache -------------------------------------------------------------------------------

def load_or_train(name: str, build: Callable[[], nn.Module], train: Callable[[nn.Module], Any],
                  config: dict[str, Any]) -> tuple[nn.Module, dict]:
    """Return ``(model, info)``, trained once per configuration and cached on disk.

    Args:
        name: a short name for the model (letters, digits, ``-``, ``_``).
        build: ``build()`` makes a fresh, untrained model.
        train: ``train(model)`` trains it in place and may return a ``History`` or a JSON-able dict.
        config: every setting that changes the result (sizes, seeds, hyper-parameters, fast mode).

    ``info`` holds what ``train`` returned (``History.as_dict()`` for a History) plus
    ``"cached": True`` when the model came from disk. The model is returned in eval mode on the CPU
    when loaded; a freshly trained one stays on the device it was trained on. A damaged or foreign
    cached file is removed and the model rebuilt from a fresh ``build()``; a failed save is reported
    in one line and the trained model returned anyway.
    """
    key = cache_key(name, config)
    path = cache_path(name, config)
    loaded = _load_cached_model(path, name, key, build)
    if loaded is not None:
        return loaded
    model = build()  # fresh: never the model a rejected file was read against
    result = train(model)
    info = result.as_dict() if hasattr(result, "as_dict") else (result or {})
    if not isinstance(info, dict):
        raise ValueError(f"train must return None, a History or a dict, got {type(result).__name__}")
    meta = {"name": name, "key": key, "config": _normalise(config), "info": info}
    from safetensors.torch import save_file

    tensors, stored = _prepare_save(model, meta)
    _save_or_warn(path, lambda tmp: save_file(tensors, tmp, metadata=stored), f"model {name!r}")
    model.eval()
    return model, {**info, "cached": False}


def _load_cached_model(path: Path, name: str, key: str, build) -> tuple[nn.Module, dict] | None:
    """The verified cached model and its info, or None (no file, or a rejected one)."""
    if not path.is_file():
        return None
    model = build()
    try:
        _, meta = load(path, model)
        info = _check_meta(meta, name, key)
    except OSError as err:
        _warn(f"cannot read the cached file {path} ({type(err).__name__}: {err}); training again — "
              f"{_FIX}, or ask the file's owner to make it readable.")
        return None
    except Exception as err:  # DamagedCache, or anything else a strange file provokes
        _reject(path, err)
        return None
    model.eval()
    return model, {**info, "cached": True}


def _check_meta(meta: dict, name: str, key: str) -> dict:
    """The stored info, after checking the file was made for this name and cache key."""
    if not isinstance(meta.get("key"), str):
        raise DamagedCache("it records no cache key")
    if meta.get("name") != name or meta.get("key") != key:
        raise DamagedCache(f"it was made for {meta.get('name')!r} (key {meta.get('key')!r}), "
                           f"not {name!r} (key {key!r})")
    info = meta.get("info", {})
    if not isinstance(info, dict):
        raise DamagedCache(f"its stored info is a {type(info).__name__}, not a dict")
    return info


def _reject(path: Path, err: Exception) -> None:
    """Say in one line that ``path`` was damaged, and remove it."""
    _warn(f"the cached file {path.name} was damaged ({err}); removed it and rebuilding.")
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # not ours to remove: the rebuilt result replaces it, or stays in memory
