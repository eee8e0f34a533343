import time

import numpy as np
import pytest
import torch

from course_utils import checkpoints, results
from course_utils.models import autoencoder
from course_utils.training import History, fit


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    m = autoencoder(8, hidden=(32,))
    path = checkpoints.save(m, tmp_path / "m.safetensors", metadata={"epochs": 3})
    m2 = autoencoder(8, hidden=(32,))
    state, meta = checkpoints.load(path, m2)
    assert meta == {"epochs": 3}
    x = torch.rand(4, 784)
    assert torch.equal(m(x), m2(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp files left


def test_damaged_and_missing_checkpoints(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="damaged"):
        checkpoints.load(bad)
    with pytest.raises(FileNotFoundError):
        checkpoints.load(tmp_path / "nope.safetensors")
    with pytest.raises(ValueError, match="nn.Module or a dict of tensors"):
        checkpoints.save({"a": 1}, tmp_path / "x.safetensors")


def test_load_or_train_trains_once_then_hits_the_cache(tmp_cache, mnist_small):
    x, _, xt, _ = mnist_small
    calls = []

    def build():
        torch.manual_seed(0)
        return autoencoder(8, hidden=(32,))

    def train(m):
        calls.append(1)
        return fit(m, x[:500], epochs=1, batch_size=100, lr=1e-3, x_test=xt, progress=False, device="cpu")

    cfg = {"latent": 8, "epochs": 1, "n": 500}
    m1, info1 = checkpoints.load_or_train("tiny", build, train, cfg)
    t = time.perf_counter()
    m2, info2 = checkpoints.load_or_train("tiny", build, train, cfg)
    hit_ms = (time.perf_counter() - t) * 1000
    print(f"cache hit in {hit_ms:.1f} ms")
    assert len(calls) == 1 and info1["cached"] is False and info2["cached"] is True
    assert info2["train_loss"] == info1["train_loss"]
    assert History.from_dict(info2).test_mse == info1["test_mse"]
    assert torch.equal(m1.encoder[0].weight.cpu(), m2.encoder[0].weight)
    # a different configuration is a different cache entry
    checkpoints.load_or_train("tiny", build, train, {**cfg, "epochs": 2})
    assert len(calls) == 2
    assert len(list(tmp_cache.glob("tiny-*.safetensors"))) == 2


def test_damaged_cache_entry_is_retrained(tmp_cache):
    cfg = {"a": 1}
    path = checkpoints.cache_path("m", cfg)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    m, info = checkpoints.load_or_train("m", lambda: autoencoder(2, hidden=()), lambda m: {"ok": 1}, cfg)
    assert info == {"ok": 1, "cached": False}
    assert checkpoints.load(path)[1]["info"] == {"ok": 1}


def test_load_or_compute_caches_arrays_and_scalars(tmp_cache):
    calls = []

    def compute():
        calls.append(1)
        return {"emb": np.arange(6.0).reshape(3, 2), "kl": 1.5, "t": torch.ones(2)}

    r1 = results.load_or_compute("tsne", compute, {"perplexity": 30})
    r2 = results.load_or_compute("tsne", compute, {"perplexity": 30})
    assert len(calls) == 1
    assert np.array_equal(r1["emb"], r2["emb"]) and r2["kl"] == 1.5
    assert isinstance(r1["t"], np.ndarray) and isinstance(r2["t"], np.ndarray)
    single = results.load_or_compute("one", lambda: np.ones(3), {})
    assert np.array_equal(single, results.load_or_compute("one", lambda: 1 / 0, {}))


@pytest.mark.parametrize("name, cfg, match", [
    ("bad name!", {}, "cache name"),
    ("ok", {"f": object()}, "JSON-able"),
    ("ok", [1, 2], "dict"),
])
def test_bad_cache_arguments(name, cfg, match):
    with pytest.raises(ValueError, match=match):
        checkpoints.cache_key(name, cfg)


def test_json_equal_configs_share_a_cache_key():
    key = checkpoints.cache_key
    assert key("tsne", {"perplexity": 30.0}) == key("tsne", {"perplexity": 30})
    assert key("t", {"a": [1.0, (2, 3.0)], "b": np.int64(8)}) == key("t", {"a": [1, [2, 3]], "b": 8})
    assert key("t", {"flag": True}) != key("t", {"flag": 1})  # a bool stays a bool
    assert key("t", {"lr": 0.5}) != key("t", {"lr": 0})
    assert key("t", {"budget": float("inf")}) == key("t", {"budget": float("inf")})


@pytest.mark.parametrize("value", [1.5, 7, "a string", [1, "two", [3.0]], None, True, {"a": None}])
def test_load_or_compute_caches_scalars_strings_lists_and_none(tmp_cache, value):
    calls = []

    def compute():
        calls.append(1)
        return value

    first = results.load_or_compute("val", compute, {})
    second = results.load_or_compute("val", compute, {})
    assert first == value and second == value and len(calls) == 1
