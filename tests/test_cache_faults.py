"""Faults injected into the model and result cache: each is detected, the file removed and the result
rebuilt (never a crash, never a wrong model), and a save that fails never loses the trained model.

Every fault is made the way a real one happens: bytes of a real cached file edited on disk, another
file copied over it, a real read-only or full file system, real processes racing or killed.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from course_utils import checkpoints, results

ROOT = Path(__file__).resolve().parents[1]
CFG = {"hidden": 16, "steps": 20, "seed": 0}


def build(hidden: int = 16) -> nn.Module:
    """A small, seeded autoencoder (fresh weights on every call)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(784, hidden), nn.Sigmoid(), nn.Linear(hidden, 784), nn.Sigmoid())


def train(model: nn.Module, steps: int = 20) -> dict:
    """A few deterministic Adam steps on seeded noise images; returns the final training MSE."""
    x = torch.rand(64, 784, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - x) ** 2).mean()
        loss.backward()
        opt.step()
    return {"test_mse": float(loss.detach())}


def _clean_model() -> tuple[nn.Module, dict]:
    m = build()
    info = train(m)
    return m, info


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())


# --- faults of a cached model file ---------------------------------------------------------------

def nan_weights(path: Path) -> None:
    """Weights overwritten with NaN, the stored digest kept."""
    state, meta = _read(path)
    save_file({k: torch.full_like(v, float("nan")) for k, v in state.items()}, str(path), metadata=meta)


def nan_weights_and_extra_key_redigested(path: Path) -> None:
    """NaN weights plus an extra tensor, written with a matching digest (the issue's repro)."""
    state, meta = _read(path)
    bad = {k: torch.full_like(v, float("nan")) for k, v in state.items()}
    checkpoints.save({**bad, "extra": torch.zeros(3)}, path, metadata=json.loads(meta["json"]))


def nan_weights_redigested(path: Path) -> None:
    """NaN weights written with a matching digest: only the finiteness check can tell."""
    state, meta = _read(path)
    checkpoints.save({k: torch.full_like(v, float("nan")) for k, v in state.items()}, path,
                     metadata=json.loads(meta["json"]))


def int64_weights_redigested(path: Path) -> None:
    state, meta = _read(path)
    checkpoints.save({k: (v * 100).to(torch.int64) for k, v in state.items()}, path,
                     metadata=json.loads(meta["json"]))


def missing_tensor_redigested(path: Path) -> None:
    state, meta = _read(path)
    state.pop(sorted(state)[0])
    checkpoints.save(state, path, metadata=json.loads(meta["json"]))


def flipped_exponent_bit(path: Path) -> None:
    """One bit of one float's exponent flipped in the file's bytes."""
    raw = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(raw[:8], "little")  # safetensors: u64 header length, header, data
    raw[start + 3] ^= 0x40  # little-endian float32: byte 3 holds the sign and 7 exponent bits
    path.write_bytes(bytes(raw))


def false_test_mse(path: Path) -> None:
    """The stored info edited to claim test MSE 0.0001 (digest left as it was)."""
    state, meta = _read(path)
    stored = json.loads(meta["json"])
    stored["info"]["test_mse"] = 0.0001
    save_file(state, str(path), metadata={**meta, "json": json.dumps(stored, sort_keys=True)})


def other_models_file(path: Path) -> None:
    """Another model's (same architecture, other configuration) cached file copied over the name."""
    checkpoints.load_or_train("m", build, lambda m: train(m, steps=5), {**CFG, "steps": 5})
    other = checkpoints.cache_path("m", {**CFG, "steps": 5})
    shutil.copy(other, path)


def _metadata(json_text: str, with_digest: bool):
    def fault(path: Path) -> None:
        state, _ = _read(path)
        meta = {"json": json_text}
        if with_digest:
            meta["digest"] = checkpoints._digest(state, json_text)
        save_file(state, str(path), metadata=meta)
    fault.__name__ = f"metadata_{json_text}{'_redigested' if with_digest else ''}"
    return fault


def garbage(path: Path) -> None:
    path.write_bytes(b"not a checkpoint")


MODEL_FAULTS = [nan_weights, nan_weights_redigested, nan_weights_and_extra_key_redigested, int64_weights_redigested,
                missing_tensor_redigested, flipped_exponent_bit, false_test_mse, other_models_file,
                _metadata("[]", True), _metadata('{"info": 5}', True), _metadata("[]", False),
                _metadata("not json", True), garbage]


@pytest.mark.parametrize("fault", MODEL_FAULTS, ids=lambda f: f.__name__)
def test_a_damaged_model_file_is_detected_removed_and_rebuilt_fresh(fault, tmp_cache, capsys):
    clean, clean_info = _clean_model()
    checkpoints.load_or_train("m", build, train, CFG)
    path = checkpoints.cache_path("m", CFG)
    fault(path)
    capsys.readouterr()
    model, info = checkpoints.load_or_train("m", build, train, CFG)
    err = capsys.readouterr().err
    assert info["cached"] is False, "a damaged file was served"
    assert err.count("\n") == 1 and "damaged" in err and "rebuilding" in err and path.name in err, err
    assert _same_weights(model, clean) and info["test_mse"] == clean_info["test_mse"]
    again, info2 = checkpoints.load_or_train("m", build, train, CFG)  # the rebuilt file is good
    assert info2 == {**clean_info, "cached": True} and _same_weights(again, clean)
    assert capsys.readouterr().err == ""


def test_a_metadata_only_edit_with_a_recomputed_digest_cannot_claim_another_key(tmp_cache, capsys):
    """Info rewritten AND re-digested for another configuration's key is refused by the key check."""
    checkpoints.load_or_train("m", build, train, CFG)
    path = checkpoints.cache_path("m", CFG)
    state, meta = _read(path)
    stored = json.loads(meta["json"])
    stored["key"] = checkpoints.cache_key("m", {**CFG, "steps": 999})
    checkpoints.save(state, path, metadata=stored)
    _, info = checkpoints.load_or_train("m", build, train, CFG)
    assert info["cached"] is False and "made for" in capsys.readouterr().err


def test_a_rejected_file_never_touches_the_model_that_is_trained_next(tmp_cache):
    """The issue's repro: NaN tensors plus one extra key; the retrain must start from build()."""
    built = []

    def counting_build():
        built.append(build())
        return built[-1]

    checkpoints.load_or_train("m", counting_build, train, CFG)
    nan_weights_and_extra_key_redigested(checkpoints.cache_path("m", CFG))
    built.clear()
    model, info = checkpoints.load_or_train("m", counting_build, train, CFG)
    assert info["cached"] is False and np.isfinite(info["test_mse"])
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert model is built[-1] and all(torch.isfinite(p).all() for b in built for p in b.parameters())


# --- faults of a cached result (npz) ---------------------------------------------------------------

def _pca() -> dict:
    rng = np.random.default_rng(0)
    return {"mean": rng.random(784).astype(np.float32), "components": rng.random((784, 30)), "k": 30}


def _rewrite_npz(path: Path, change) -> None:
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    change(data)
    with open(path, "wb") as fh:
        np.savez(fh, **data)


def _redigest(data: dict, meta_text: str) -> None:
    data["__meta__"] = np.array(meta_text)
    arrays = {k: v for k, v in data.items() if not k.startswith("__")}
    data["__digest__"] = np.array(checkpoints._digest(arrays, meta_text))


def _edit_meta(edit):
    def change(data):
        meta = json.loads(str(data["__meta__"]))
        _redigest(data, json.dumps(edit(meta)))
    return change


RESULT_FAULTS = {
    "mean_zeroed": lambda d: d.update(mean=np.zeros_like(d["mean"])),
    "components_cut_to_784x3": lambda d: d.update(components=d["components"][:, :3].copy()),
    "strings_in_place_of_arrays": lambda d: d.update(mean=np.array("mean"), components=np.array("x")),
    "k_edited_in_metadata": lambda d: d.update(__meta__=np.array(str(d["__meta__"]).replace("30", "3"))),
    "metadata_[]_redigested": lambda d: _redigest(d, "[]"),
    "metadata_declares_other_shapes_redigested": _edit_meta(
        lambda m: {**m, "arrays": {**m["arrays"], "components": ["<f8", [784, 3]]}}),
    "metadata_scalars_not_a_dict_redigested": _edit_meta(lambda m: {**m, "scalars": 5}),
    "no_digest": lambda d: d.pop("__digest__"),
    "metadata_is_an_array": lambda d: d.update(__meta__=np.arange(3)),
}


@pytest.mark.parametrize("fault", list(RESULT_FAULTS), ids=str)
def test_a_damaged_result_file_is_detected_removed_and_recomputed(fault, tmp_cache, capsys):
    calls = []

    def compute():
        calls.append(1)
        return _pca()

    results.load_or_compute("pca", compute, {"n": 100})
    path = checkpoints.cache_path("pca", {"n": 100}, suffix=".npz")
    _rewrite_npz(path, RESULT_FAULTS[fault])
    capsys.readouterr()
    got = results.load_or_compute("pca", compute, {"n": 100})
    err = capsys.readouterr().err
    want = _pca()
    assert len(calls) == 2, "a damaged result was served"
    assert err.count("\n") == 1 and "damaged" in err and "rebuilding" in err, err
    assert got["k"] == 30 and all(np.array_equal(got[k], want[k]) for k in ("mean", "components"))
    assert results.load_or_compute("pca", compute, {"n": 100})["k"] == 30 and len(calls) == 2


def _write_bomb(path: Path, inflated_bytes: int) -> None:
    """A small compressed npz whose array inflates to ``inflated_bytes``, with a valid digest."""
    big = np.zeros(inflated_bytes // 4, dtype=np.float32)
    key = checkpoints.cache_key("bomb", {})
    meta = json.dumps({"name": "bomb", "key": key, "config": {}, "single": True, "scalars": {},
                       "arrays": {"value": [big.dtype.str, list(big.shape)]}}, sort_keys=True)
    np.savez_compressed(path, __meta__=np.array(meta),
                        __digest__=np.array(checkpoints._digest({"value": big}, meta)), value=big)


def test_a_result_that_would_inflate_past_the_bound_is_refused_before_inflating(tmp_cache, capsys,
                                                                                  monkeypatch):
    monkeypatch.setattr(results, "MAX_RESULT_BYTES", 16 * 2**20)  # the course's bound, scaled down
    tmp_cache.mkdir(parents=True)
    path = checkpoints.cache_path("bomb", {}, suffix=".npz")
    _write_bomb(path, 64 * 2**20)
    assert path.stat().st_size < 2**20  # under 1 MB on disk, 64 MB inflated
    tracemalloc.start()
    with pytest.raises(checkpoints.DamagedCache, match="over the 16 MB"):
        results._check_declared_sizes(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20, f"the size check inflated {peak / 2**20:.0f} MB"
    assert results.load_or_compute("bomb", lambda: np.ones(2), {}).tolist() == [1.0, 1.0]
    assert "over the 16 MB" in capsys.readouterr().err
    assert results.MAX_RESULT_BYTES == 16 * 2**20


def test_the_stated_bound_is_512_mb():
    assert results.MAX_RESULT_BYTES == 512 * 2**20


# --- saves that fail -------------------------------------------------------------------------------

def _assert_not_cached(capsys, info) -> None:
    err = capsys.readouterr().err
    assert info["cached"] is False
    assert err.count("\n") == 1 and "was not cached" in err and "COURSE_CACHE_DIR" in err, err


def test_cache_dir_that_is_a_file_keeps_the_model(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a folder")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(blocker))
    clean, _ = _clean_model()
    model, info = checkpoints.load_or_train("m", build, train, CFG)
    _assert_not_cached(capsys, info)
    assert _same_weights(model, clean)
    assert results.load_or_compute("r", lambda: 5, {}) == 5
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_folder_in_the_cache_files_place_keeps_the_model(tmp_cache, capsys):
    path = checkpoints.cache_path("m", CFG)
    path.mkdir(parents=True)
    model, info = checkpoints.load_or_train("m", build, train, CFG)
    _assert_not_cached(capsys, info)
    assert model is not None and path.is_dir()
    assert [p.name for p in tmp_cache.iterdir()] == [path.name], "a temp file was left behind"


def _mount_tmpfs(folder: Path, options: str) -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    return res.returncode == 0


@pytest.fixture
def read_only_cache(tmp_path, monkeypatch):
    """A real read-only COURSE_CACHE_DIR: a read-only tmpfs as root, a mode-0555 folder otherwise."""
    d = tmp_path / "ro"
    d.mkdir()
    mounted = _mount_tmpfs(d, "ro,size=1m")
    if not mounted:
        d.chmod(0o555)
    if os.access(d, os.W_OK) and not mounted:
        pytest.skip("this user can write a mode-0555 folder and cannot mount a read-only one")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(d))
    yield d
    if mounted:
        subprocess.run(["umount", str(d)], check=True)
    d.chmod(0o755)


def test_read_only_cache_keeps_the_model_and_the_result(read_only_cache, capsys):
    clean, _ = _clean_model()
    model, info = checkpoints.load_or_train("m", build, train, CFG)
    _assert_not_cached(capsys, info)
    assert _same_weights(model, clean)
    assert results.load_or_compute("r", lambda: {"a": np.ones(3)}, {})["a"].sum() == 3
    assert "was not cached" in capsys.readouterr().err
    assert list(read_only_cache.iterdir()) == []


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A real 1 MB tmpfs as COURSE_CACHE_DIR (needs root; skipped otherwise)."""
    d = tmp_path / "small"
    d.mkdir()
    if not _mount_tmpfs(d, "size=1m"):
        pytest.skip("cannot mount a small tmpfs here (needs root); the RLIMIT_FSIZE test covers it")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(d))
    yield d
    subprocess.run(["umount", str(d)], check=True)


def test_full_disk_keeps_the_model(small_disk, capsys):
    big = lambda: build(hidden=1000)  # noqa: E731 - 6.3 MB of weights on a 1 MB disk
    model, info = checkpoints.load_or_train("big", big, lambda m: {"ok": 1}, {"hidden": 1000})
    _assert_not_cached(capsys, info)
    assert sum(p.numel() for p in model.parameters()) > 1_500_000
    assert list(small_disk.iterdir()) == [], "a temp file was left on the full disk"


CHILD_PRELUDE = f"""
import json, os, sys, time, signal, resource
sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})
import torch
from course_utils import checkpoints, results
from test_cache_faults import build, train, CFG
"""


def _child(code: str, cache: Path, args: list[str] = ()) -> subprocess.Popen:
    """A real Python process running ``code`` (after CHILD_PRELUDE) with ``cache`` as its cache."""
    env = {**os.environ, "COURSE_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(code), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_file_size_limit_disk_full_keeps_the_model(tmp_cache):
    """Disk full, portably: a child process whose file-size limit (RLIMIT_FSIZE) is 1 MB."""
    proc = _child("""
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        model, info = checkpoints.load_or_train("big", lambda: build(1000), lambda m: {"ok": 1}, {"h": 1000})
        print(json.dumps({"cached": info["cached"], "params": sum(p.numel() for p in model.parameters())}))
    """, tmp_cache)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out) == {"cached": False, "params": 1569784}
    assert err.count("\n") == 1 and "was not cached" in err and "COURSE_CACHE_DIR" in err, err
    assert list(tmp_cache.iterdir()) == [], "a partial or temp file was left behind"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads a mode-000 file")
def test_an_unreadable_cached_file_is_reported_and_the_model_returned(tmp_cache, capsys):
    """Another user's 0600 file (here: our own, mode 000): one clear line, a trained model."""
    checkpoints.load_or_train("m", build, train, CFG)
    path = checkpoints.cache_path("m", CFG)
    path.chmod(0)
    capsys.readouterr()
    model, info = checkpoints.load_or_train("m", build, train, CFG)
    err = capsys.readouterr().err
    assert info["cached"] is False and model is not None
    assert err.count("\n") == 1 and "cannot read the cached file" in err and "COURSE_CACHE_DIR" in err, err


def test_created_files_follow_the_umask(tmp_cache):
    old = os.umask(0o002)
    try:
        checkpoints.load_or_train("m", build, train, CFG)
        results.load_or_compute("r", lambda: 1.5, {})
    finally:
        os.umask(old)
    modes = {p.suffix: p.stat().st_mode & 0o777 for p in tmp_cache.iterdir()}
    assert modes == {".safetensors": 0o664, ".npz": 0o664}


def test_orphan_temp_files_are_cleaned_on_the_next_save(tmp_cache):
    tmp_cache.mkdir(parents=True)
    old, fresh = tmp_cache / ".m-0123.safetensors.ab12cd.tmp", tmp_cache / ".r-4567.npz.ef34gh.tmp"
    old.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    os.utime(old, (time.time() - 2 * 3600,) * 2)
    results.load_or_compute("r", lambda: 1, {})
    assert not old.exists() and fresh.exists()


# --- two processes -----------------------------------------------------------------------------------

def test_two_processes_training_the_same_model_at_once_end_with_one_intact_file(tmp_cache):
    go = tmp_cache.parent / "go"
    code = f"""
        from pathlib import Path
        torch.set_num_threads(1)
        Path(sys.argv[-1]).write_text("ready")
        while not Path({str(go)!r}).exists(): time.sleep(0.002)  # both start at the same moment
        model, info = checkpoints.load_or_train("race", build, lambda m: train(m, steps=150), CFG)
        print(json.dumps({{"cached": info["cached"], "w": model[0].weight.sum().item()}}))
    """
    ready = [tmp_cache.parent / f"ready{i}" for i in range(2)]
    procs = [_child(code, tmp_cache, args=[str(r)]) for r in ready]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready):
        assert all(p.poll() is None for p in procs) and time.monotonic() < deadline
        time.sleep(0.01)
    go.write_text("go")
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert results[0]["w"] == results[1]["w"]
    assert [r["cached"] for r in results] == [False, False], "both must really train at once"
    model, info = checkpoints.load_or_train("race", build, lambda m: 1 / 0, CFG)
    assert info["cached"] is True and model[0].weight.sum().item() == results[0]["w"]
    assert [p.name for p in tmp_cache.iterdir()] == [checkpoints.cache_path("race", CFG).name]


def test_a_process_killed_while_saving_leaves_nothing_that_is_served(tmp_cache):
    ready = tmp_cache.parent / "ready"
    proc = _child(f"""
        from pathlib import Path
        from safetensors.torch import save
        model = build(); info = train(model)
        key = checkpoints.cache_key("m", CFG)
        tensors, meta = checkpoints._prepare_save(model, {{"name": "m", "key": key, "config": CFG, "info": info}})
        data = save(tensors, metadata=meta)
        def write(tmp):  # the real bytes of the file, cut half way, then killed
            with open(tmp, "wb") as f:
                f.write(data[: len(data) // 2]); f.flush()
            Path({str(ready)!r}).write_text("x")
            time.sleep(600)
        checkpoints._atomic_write(checkpoints.cache_path("m", CFG), write)
    """, tmp_cache)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    path = checkpoints.cache_path("m", CFG)
    (orphan,) = [p for p in tmp_cache.iterdir() if p.name.endswith(".tmp")]
    assert not path.exists(), "a partial file reached the cache name"
    clean, clean_info = _clean_model()
    model, info = checkpoints.load_or_train("m", build, train, CFG)
    assert info["cached"] is False and _same_weights(model, clean)
    assert orphan.exists(), "a young temp file may belong to a running save: keep it"
    os.utime(orphan, (time.time() - 2 * 3600,) * 2)
    results.load_or_compute("other", lambda: 1, {})  # the next save in that folder
    assert not orphan.exists()
    assert checkpoints.load_or_train("m", build, lambda m: 1 / 0, CFG)[1] == {**clean_info, "cached": True}
