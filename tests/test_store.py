"""The model store: a recipe in, the trained model out — trained once, then served from the cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils import checkpoints, config, recipes, store, training
from course_utils.recipes import Recipe


def _tiny(**changes) -> Recipe:
    return Recipe("tiny", (784, 4), n_train=200, n_test=100, batch_size=100, epochs=1, lr=1e-2,
                  device="cpu").replace(**changes)


def test_trained_trains_once_then_serves_the_same_model(tmp_cache):
    model, info = store.trained(_tiny())
    assert info["cached"] is False and len(info["test_mse"]) == 1 and not model.training
    files = sorted(p.name for p in tmp_cache.iterdir())
    assert files == [checkpoints.cache_path("tiny", _tiny().key()).name]
    again, info2 = store.trained(_tiny())
    assert info2["cached"] is True and info2["test_mse"] == info["test_mse"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    other, info3 = store.trained(_tiny(lr=1e-3))          # a changed field is another model
    assert info3["cached"] is False and len(list(tmp_cache.iterdir())) == 2
    assert not torch.equal(other.encoder[0].weight, model.encoder[0].weight)


def test_trained_uses_the_recipes_data_and_noise(tmp_cache, monkeypatch):
    seen = {}
    real_fit = training.fit
    monkeypatch.setattr(training, "fit", lambda m, x, **kw: seen.update(x=x, **kw) or real_fit(m, x, **kw))
    store.trained(_tiny(noise_kind="masking", noise_level=0.25, n_train=300, n_test=0))
    assert tuple(seen["x"].shape) == (300, 784) and seen["x_test"] is None
    assert seen["noise"] == {"kind": "masking", "level": 0.25}


def test_swiss_roll_data_is_standardised_and_its_statistics_kept(tmp_cache):
    r = recipes.swiss_roll_ae().replace(n_train=300, epochs=1)
    x, xt, extra = store.training_data(r)
    assert xt is None and tuple(x.shape) == (300, 3)
    assert torch.allclose(x.mean(0), torch.zeros(3), atol=1e-5)
    _, info = store.trained(r)
    assert np.allclose(info["mean"], extra["mean"]) and len(info["std"]) == 3


def test_contraction_penalty_is_added_with_its_weight_and_required_exactly_when_set(tmp_cache):
    r = recipes.swiss_roll_reconstructor("contractive").replace(n_train=200, epochs=2)
    assert r.contraction == pytest.approx(recipes.SWISS_SIGMA ** 2) and r.noise() is None
    for kind in ("plain", "denoising"):
        assert recipes.swiss_roll_reconstructor(kind).contraction == 0
    assert recipes.swiss_roll_reconstructor("denoising").noise() == {"kind": "gaussian", "level": recipes.SWISS_SIGMA}
    calls = []

    def penalty(model, x):
        calls.append(tuple(x.shape))
        return sum((p ** 2).sum() for p in model.parameters())   # weight decay: its effect is easy to see

    with pytest.raises(ValueError, match="penalty"):
        store.trained(r)
    with pytest.raises(ValueError, match="penalty"):
        store.trained(r.replace(contraction=0.0), penalty=penalty)
    penalised, _ = store.trained(r.replace(contraction=1.0), penalty=penalty)
    assert calls and calls[0] == (100, 3)                          # called on every input batch
    plain, _ = store.trained(r.replace(contraction=0.0))
    size = lambda m: float(sum((p.detach() ** 2).sum() for p in m.parameters()))
    assert size(penalised) < 0.95 * size(plain)                    # the penalty shaped the training (4 steps)
    with pytest.raises(ValueError, match="scalar"):
        store.trained(r.replace(contraction=0.3), penalty=lambda m, x: torch.ones(3))


def test_pretrain_runs_before_fit_and_is_required_exactly_when_named(tmp_cache):
    calls = []

    def pretrain(model, epochs):
        calls.append(epochs)
        with torch.no_grad():
            model.decoder[0].bias.fill_(0.13)     # the mean-ish image: an error we can recompute

    r = _tiny(pretrain="greedy", pretrain_epochs=2)
    _, info = store.trained(r, pretrain=pretrain)
    assert calls == [2]
    m = r.build()
    pretrain(m, 2)
    xt = store.training_data(r)[1]
    assert info["pretrained_test_mse"] == pytest.approx(training.mse(m, xt), rel=1e-6)
    with pytest.raises(ValueError, match="pass a pretrain function exactly"):
        store.trained(r)
    with pytest.raises(ValueError, match="pass a pretrain function exactly"):
        store.trained(_tiny(), pretrain=pretrain)
    with pytest.raises(ValueError, match="expects a course_utils.recipes.Recipe"):
        store.trained({"name": "tiny"})


def test_store_getters_serve_their_recipes(tmp_cache, monkeypatch):
    sizes = dict(config.SIZES)
    sizes.update({"mnist_train": (400, 400), "mnist_test": (100, 100), "ae_epochs": (1, 1), "dae_epochs": (1, 1)})
    monkeypatch.setattr(config, "SIZES", sizes)
    _, info = store.latent_model(2)
    assert checkpoints.cache_path("latent2", recipes.latent(2).key()).is_file()
    assert info["test_mse"][-1] == pytest.approx(training.mse(store.latent_model(2)[0], store.training_data(recipes.latent(2))[1]), rel=1e-5)
    store.dae_model("xavier")
    assert checkpoints.cache_path("dae_xavier", recipes.dae("xavier").key()).is_file()
    with pytest.raises(ValueError, match="sizes must be a non-empty sequence"):
        store.latent_models([3])


def test_trained_all_shows_one_bar_over_the_epochs_left_and_none_when_cached(tmp_cache, capsys):
    family = {1: _tiny(epochs=2), 2: _tiny(epochs=3, lr=1e-3)}
    store.trained(family[1])                              # one already cached: 3 epochs left
    assert store.is_cached(family[1]) and not store.is_cached(family[2])
    out = store.trained_all(family, "tiny family")
    err = capsys.readouterr().err
    assert list(out) == [1, 2] and out[1][1]["cached"] is True and out[2][1]["cached"] is False
    assert err.count("tiny family") >= 1 and "3/3" in err and "2 models ready" in err
    assert "training:" not in err                           # no second, per-model bar
    again = store.trained_all(family, "tiny family")
    assert capsys.readouterr().err == "" and all(info["cached"] for _, info in again.values())
    with pytest.raises(ValueError, match="dict"):
        store.trained_all([family[1]], "x")


def test_trained_all_trains_one_thread_recipes_side_by_side_with_the_weights_of_one_at_a_time(
        tmp_cache, tmp_path, monkeypatch, capsys):
    family = {k: _tiny(epochs=3, threads=1, init_seed=k, n_train=600) for k in (1, 2, 3)}
    threads_before = torch.get_num_threads()
    monkeypatch.setattr(store, "tune_threads", lambda: (2, "two CPUs (test)"))
    side = store.trained_all(family, "tiny family")
    err = capsys.readouterr().err
    assert torch.get_num_threads() == threads_before           # one_thread() is undone
    assert all(info["trained_side_by_side"] == 2 for _, info in side.values())   # trained now, 2 at once
    assert "2 at a time" in err and "9/9" in err
    # one CPU: the same recipes one after the other, in another cache: the same weights, bit for bit
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "one_at_a_time"))
    monkeypatch.setattr(store, "tune_threads", lambda: (1, "one CPU (test)"))
    alone = store.trained_all(family, "tiny family")
    for k in family:
        assert "trained_side_by_side" not in alone[k][1] and alone[k][1]["cached"] is False
        for a, b in zip(side[k][0].state_dict().values(), alone[k][0].state_dict().values()):
            assert torch.equal(a, b), k
    assert not torch.equal(side[1][0].encoder[0].weight, side[2][0].encoder[0].weight)  # seeds differ


def test_trained_all_side_by_side_raises_the_first_failure_and_caches_nothing_half_trained(tmp_cache, monkeypatch):
    monkeypatch.setattr(store, "tune_threads", lambda: (2, "two CPUs (test)"))
    family = {"ok": _tiny(epochs=200, threads=1, n_train=2000), "bad": _tiny(name="bad", epochs=50, threads=1)}
    real_fit = Recipe.fit

    def fit(self, model, *args, on_epoch=None, **kw):        # the "bad" model fails in its second epoch
        def fail(epoch, *more):
            if self.name == "bad" and epoch == 2:
                raise RuntimeError("out of memory (test)")
            if on_epoch is not None:
                on_epoch(epoch, *more)
        return real_fit(self, model, *args, on_epoch=fail, **kw)

    monkeypatch.setattr(Recipe, "fit", fit)
    threads_before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="out of memory"):
        store.trained_all(family, "failing family", progress=False)
    assert torch.get_num_threads() == threads_before
    assert not store.is_cached(family["bad"])
    assert not tmp_cache.exists() or not any(tmp_cache.iterdir())   # nothing written, not even a temporary file
    assert not store.is_cached(family["ok"])          # stopped at its next epoch's end, not cached


def test_compression_curve_is_assembled_from_cached_points_and_baselines(tmp_cache, monkeypatch):
    sizes = dict(config.SIZES)
    sizes.update({"mnist_train": (400, 400), "compress_test": (50, 50), "compress_epochs": (1, 1)})
    monkeypatch.setattr(config, "SIZES", sizes)
    monkeypatch.setattr(store, "PCA_COMPONENTS", (2, 4))
    monkeypatch.setattr(store, "PCA_BITS", (2, 4))
    monkeypatch.setattr(store, "JPEG_QUALITIES", (10, 50))
    b1, b2 = recipes.COMPRESSION_BITS[:2]
    few = store.compression_curve([b2, b1])                # notebook 10 asks for a few bit depths only
    assert list(few["ae_bits"]) == [b2, b1] and len(few["ae_rate"]) == 2 and len(few["jpeg_mse"]) == 2
    cached = sorted(p.name.split("-")[0] for p in tmp_cache.iterdir())
    assert cached.count("compression_point") == 2 and "compression_baselines" in cached
    assert {f"quantized{b}" for b in (b1, b2)} <= set(cached)                  # only the bit depths asked for
    assert not {f"quantized{b}" for b in recipes.COMPRESSION_BITS[2:]} & set(cached)
    # the same numbers as the whole curve's entries at those bit depths (what notebook 07 shows)
    whole = store.compression_curve()
    assert list(whole["ae_bits"]) == list(recipes.COMPRESSION_BITS)
    at = {b: i for i, b in enumerate(whole["ae_bits"])}
    for key in ("ae_rate", "ae_mse", "ae_lzma_bits", "ae_fixed_bits"):
        assert np.array_equal(few[key], whole[key][[at[b2], at[b1]]]), key
    assert np.array_equal(few["pca_mse"], whole["pca_mse"])
    for bad in ([], [b1, b1], "12", [5]):
        with pytest.raises(ValueError):
            store.compression_curve(bad)
