"""Safe, atomic saving and loading of models and results, and a cache keyed by configuration.

``load_or_train`` and ``load_or_compute`` hash the *full* configuration (every size, seed and
hyper-parameter given), so a rerun, a widget or a second notebook loads in milliseconds instead
of retraining, and a changed setting never reuses a stale result. Files are written to a temporary
name and renamed into place, so an interrupted run never leaves a half-written file behind.
Model weights use safetensors (no pickle: nothing executable is ever loaded).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from . import config

__all__ = ["save", "load", "cache_key", "cache_path", "load_or_train", "load_or_compute"]

#: Bump when the meaning of cached files changes, so old caches are not reused.
CACHE_VERSION = 1


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(model_or_state: nn.Module | dict[str, torch.Tensor], path: str | Path,
         metadata: dict[str, Any] | None = None) -> Path:
    """Save a model's state dict (or a dict of tensors) to ``path`` as safetensors, atomically.

    ``metadata`` (JSON-able) is stored inside the file and returned by :func:`load`.
    """
    from safetensors.torch import save_file

    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("save expects an nn.Module or a dict of tensors")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    meta = {"json": json.dumps(metadata or {}, sort_keys=True, default=str)}
    path = Path(path)
    _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))
    return path


def load(path: str | Path, model: nn.Module | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Load ``(state_dict, metadata)`` from ``path``; with ``model``, also load the weights into it.

    A missing file raises FileNotFoundError; a damaged one raises ValueError.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
            meta = json.loads((f.metadata() or {}).get("json", "{}"))
    except Exception as err:
        raise ValueError(f"checkpoint {path} is damaged or not a safetensors file: {err}") from None
    if model is not None:
        model.load_state_dict(state)
    return state, meta


def cache_key(name: str, cfg: dict[str, Any]) -> str:
    """A short hash of ``name`` and the full configuration ``cfg`` (JSON-able values)."""
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"cache name must be letters, digits, '-' or '_', got {name!r}")
    if not isinstance(cfg, dict):
        raise ValueError(f"config must be a dict of JSON-able settings, got {type(cfg).__name__}")
    try:
        text = json.dumps({"name": name, "v": CACHE_VERSION, "config": cfg}, sort_keys=True)
    except TypeError as err:
        raise ValueError(f"config must hold only JSON-able values (numbers, strings, lists): {err}") from None
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(name: str, cfg: dict[str, Any], suffix: str = ".safetensors") -> Path:
    """Where the result of ``name`` under ``cfg`` is cached (``COURSE_CACHE_DIR``)."""
    return config.cache_dir() / f"{name}-{cache_key(name, cfg)}{suffix}"


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
    when loaded; a freshly trained one stays on the device it was trained on.
    """
    path = cache_path(name, config)
    model = build()
    if path.is_file():
        try:
            _, meta = load(path, model)
            model.eval()
            return model, {**meta.get("info", {}), "cached": True}
        except (ValueError, RuntimeError):
            path.unlink(missing_ok=True)  # damaged or stale: train again
    result = train(model)
    info = result.as_dict() if hasattr(result, "as_dict") else (result or {})
    if not isinstance(info, dict):
        raise ValueError(f"train must return None, a History or a dict, got {type(result).__name__}")
    save(model, path, metadata={"name": name, "config": config, "info": info})
    model.eval()
    return model, {**info, "cached": False}


def load_or_compute(name: str, compute: Callable[[], Any], config: dict[str, Any]):
    """Return ``compute()``'s result, computed once per configuration and cached on disk.

    ``compute`` returns a numpy array / tensor, or a dict of them (other values: JSON-able
    scalars, lists or strings). Arrays are stored with numpy's ``.npz`` (no pickle) and always
    come back as numpy arrays, whether computed now or loaded.
    """
    path = cache_path(name, config, suffix=".npz")
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
            meta = json.loads(str(data.pop("__meta__")))
            arrays = {k: v for k, v in data.items()}
            if meta.get("single"):
                return arrays["value"]
            return {**meta.get("scalars", {}), **arrays}
        except Exception:
            path.unlink(missing_ok=True)
    result = compute()
    single = not isinstance(result, dict)
    items = {"value": result} if single else result
    arrays, scalars = {}, {}
    for k, v in items.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().numpy()
        if isinstance(v, np.ndarray):
            if v.dtype == object:
                raise ValueError(f"result {k!r} is an object array; only numeric arrays can be cached")
            arrays[k] = v
        else:
            scalars[k] = v
    try:
        meta = json.dumps({"single": single, "scalars": scalars})
    except TypeError as err:
        raise ValueError(f"compute must return arrays or JSON-able values: {err}") from None

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, __meta__=np.array(meta), **arrays)

    _atomic_write(path, write)
    return arrays["value"] if single else {**scalars, **arrays}  # same form as a cache hit
