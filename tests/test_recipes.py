"""Recipes: one frozen object per cached model, from which the model, the training call and the
cache key are all made. Changing any field changes the key; the model built does not depend on a
default of ``course_utils.models`` that the recipe does not name."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from course_utils import checkpoints, compression, models, recipes, training
from course_utils.recipes import Recipe

#: Another valid value for every field of a plain MNIST recipe (all fields must be listed here).
OTHER = {
    "name": "tiny_b", "sizes": (784, 8), "hidden_activation": "tanh", "code_activation": "relu",
    "output_activation": None, "init": "xavier", "quantize_bits": 4, "init_seed": 1, "data": "swiss_roll",
    "n_train": 300, "n_test": 50, "data_seed": 1, "noise_kind": "masking", "noise_level": 0.5,
    "loss": "bce", "optimizer": "sgd", "lr": 0.01, "lr_schedule": "cosine", "batch_size": 32,
    "epochs": 2, "seed": 1, "device": "cpu", "threads": 1, "pretrain": "greedy", "pretrain_epochs": 1,
    "contraction": 0.5, "tied": True, "code_l1": 0.1, "model": "vae", "beta": 2.0,
}


def _base() -> Recipe:
    return Recipe("tiny_a", (784, 4), n_train=200, n_test=100, batch_size=100)


def every_course_recipe() -> list[Recipe]:
    return [recipes.swiss_roll_ae(), *map(recipes.latent, recipes.LATENT_SIZES), recipes.linear(16),
            recipes.shallow30(), recipes.deep30(), recipes.sigmoid_stack(), recipes.sigmoid_stack("greedy"),
            recipes.modern_stack(), *(recipes.dae(s) for s in recipes.DAE_STEPS),
            recipes.dae(recipes.DAE_FIXED, "masking", recipes.DAE_MASKING),
            *map(recipes.quantized, recipes.COMPRESSION_BITS),
            *map(recipes.swiss_roll_reconstructor, recipes.SWISS_KINDS),
            *(recipes.vae(2, b) for b in recipes.VAE_BETAS), recipes.vae(20), recipes.digit_classifier(),
            recipes.deep30_tied(), recipes.sparse(32)]


def test_every_field_is_in_the_key_and_changes_it():
    base = _base()
    fields = [f.name for f in dataclasses.fields(Recipe)]
    assert sorted(OTHER) == sorted(fields), "OTHER must give a value for every field of Recipe"
    later = Recipe._LATER_FIELDS        # left out of the key at their default (older caches keep their keys)
    assert sorted(base.key()) == sorted(f for f in fields if f not in later)
    for f in later:                     # once set, a later field is in the key
        extra = dict(loss="elbo", init="default", sizes=(784, 8, 4)) if f == "model" else {}
        assert f in base.replace(**{f: OTHER[f]}, **extra).key()
    key = checkpoints.cache_key("r", base.key())
    for field in fields:
        changes = {field: OTHER[field]}
        if field == "quantize_bits":
            changes["code_activation"] = "sigmoid"
            assert checkpoints.cache_key("r", base.replace(code_activation="sigmoid").key()) != key
        if field == "model":   # a VAE has its own loss, PyTorch's init and a hidden layer
            changes.update(loss="elbo", init="default", sizes=(784, 8, 4))
            assert checkpoints.cache_key("r", base.replace(init="default", sizes=(784, 8, 4)).key()) != key
        changed = dataclasses.replace(base, **changes)
        assert checkpoints.cache_key("r", changed.key()) != key, f"changing {field} kept the cache key"


def test_course_recipes_have_distinct_names_and_keys():
    rs = every_course_recipe()
    assert len({r.name for r in rs}) == len(rs)
    assert len({checkpoints.cache_key(r.name, r.key()) for r in rs}) == len(rs)


def test_build_relies_on_no_default_of_the_models(monkeypatch):
    """Every architecture argument is passed explicitly: with every default of the model classes
    replaced by a value that cannot work, every course recipe still builds the same model."""
    before = {r.name: r.build().state_dict() for r in every_course_recipe()}
    bad = "not-a-default"
    monkeypatch.setattr(models.Autoencoder.__init__, "__defaults__",
                        tuple(bad for _ in models.Autoencoder.__init__.__defaults__))
    monkeypatch.setattr(models.autoencoder, "__defaults__", tuple(bad for _ in models.autoencoder.__defaults__))
    t = models.TiedAutoencoder.__init__
    monkeypatch.setattr(t, "__defaults__", tuple(bad for _ in t.__defaults__))
    q = compression.QuantizedAutoencoder.__init__
    monkeypatch.setattr(q, "__defaults__", tuple(bad for _ in q.__defaults__))
    monkeypatch.setattr(q, "__kwdefaults__", {k: bad for k in q.__kwdefaults__})
    with pytest.raises(ValueError):  # the sentinel really breaks a call that leaves a default
        models.Autoencoder((784, 4))
    for r in every_course_recipe():
        after = r.build().state_dict()
        assert after.keys() == before[r.name].keys()
        assert all(torch.equal(after[k], before[r.name][k]) for k in after), r.name


def test_fit_passes_every_training_field(monkeypatch):
    seen = {}
    monkeypatch.setattr(training, "fit", lambda model, x, **kw: seen.update(kw) or training.History())
    r = _base().replace(noise_kind="gaussian", noise_level=0.3, loss="bce", optimizer="sgd", lr=0.05,
                        lr_schedule="cosine", epochs=3, seed=7, device="cpu", batch_size=50)
    r.fit(r.build(), torch.rand(10, 784))
    assert seen["noise"] == {"kind": "gaussian", "level": 0.3}
    for field in ("loss", "optimizer", "lr", "lr_schedule", "epochs", "seed", "device", "batch_size"):
        assert seen[field] == getattr(r, field), field
    assert seen["objective"] is None
    sparse = r.replace(loss="mse", code_l1=0.2)     # an extra loss term reaches fit as its objective
    sparse.fit(sparse.build(), torch.rand(10, 784))
    assert seen["loss"] == "mse" and callable(seen["objective"])


def test_build_is_seeded_and_recipes_match_the_models_they_describe():
    a, b = recipes.latent(8).build(), recipes.latent(8).build()
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert recipes.dae("seminar").build().config == models.seminar_dae().config
    assert recipes.linear(16).build().config == models.linear_autoencoder(16).config
    q = recipes.quantized(recipes.COMPRESSION_BITS[0]).build()
    assert isinstance(q, compression.QuantizedAutoencoder) and q.latent_dim == 32


@pytest.mark.parametrize("changes, match", [
    (dict(name="bad name"), "recipe name"), (dict(sizes=(784,)), "sizes must be"),
    (dict(sizes=(784, 0)), "sizes must be"), (dict(hidden_activation="swish"), "hidden_activation"),
    (dict(init="zeros"), "init must be"), (dict(data="cifar"), "data must be"),
    (dict(noise_kind="speckle"), "noise_kind"), (dict(quantize_bits=4), "code_activation='sigmoid'"),
    (dict(epochs=0), "epochs must be"), (dict(batch_size=2.5), "batch_size must be"),
    (dict(n_train=True), "n_train must be"), (dict(threads=2), "threads must be"),
    (dict(pretrain="layerwise"), "pretrain must be"),
    (dict(contraction=-0.1), "contraction must be"), (dict(contraction=float("nan")), "contraction must be"),
    (dict(contraction=True), "contraction must be"),
    (dict(model="gan"), "model must be"), (dict(model="vae"), "loss"), (dict(beta=-1.0), "beta"),
    (dict(loss="elbo"), "loss"),
])
def test_bad_recipes_are_refused(changes, match):
    with pytest.raises(ValueError, match=match):
        _base().replace(**changes)


def test_family_constructors_refuse_values_outside_their_family():
    for call, match in ((lambda: recipes.latent(3), "code size"), (lambda: recipes.dae("adamw"), "step"),
                        (lambda: recipes.dae(level=1.5), "noise level"), (lambda: recipes.quantized(5), "bits"),
                        (lambda: recipes.linear(0), "code_size")):
        with pytest.raises(ValueError, match=match):
            call()
