"""Notebooks 05-07 (issue 16): the exercise checks reject the realistic wrong answers, and the pieces
added for the notebooks (tied weights, the code penalty of a sparse autoencoder, the recorded run)
do what they say. Real MNIST, real training (a few hundred images)."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from course_utils import data, exercises, models, recipes, results, training
from course_utils.models import Autoencoder


# --- notebook 05: one greedy layer -----------------------------------------------------------------

@pytest.fixture(scope="module")
def images():
    return data.load_mnist("train", n=300, seed=0)[0]


def _layer(d, width, seed=0):
    torch.manual_seed(seed)
    return Autoencoder((d, width), code_activation="sigmoid", output_activation="sigmoid", init="small")


def right(frozen, x, width, epochs):
    with torch.no_grad():
        codes = frozen(x)
    layer = _layer(codes.shape[1], width)
    training.fit(layer, codes, epochs=epochs, batch_size=64, lr=0.01, progress=False, device="cpu")
    return layer.encoder


def on_pixels(frozen, x, width, epochs):            # ignores the frozen layers: trains on the raw pixels
    layer = _layer(x.shape[1], width)
    training.fit(layer, x, epochs=epochs, batch_size=64, lr=0.01, progress=False, device="cpu")
    return layer.encoder


def not_frozen(frozen, x, width, epochs):           # trains the layers below together with the new one
    with torch.no_grad():
        d = frozen(x[:1]).shape[1]
    layer = _layer(d, width)
    joint = nn.Sequential(frozen, layer.encoder, layer.decoder)
    target = frozen(x).detach()
    opt = torch.optim.Adam(joint.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        ((layer.decoder(layer.encoder(frozen(x))) - target) ** 2).mean().backward()
        opt.step()
    return layer.encoder


def returns_decoder(frozen, x, width, epochs):
    with torch.no_grad():
        codes = frozen(x)
    layer = _layer(codes.shape[1], width)
    training.fit(layer, codes, epochs=epochs, batch_size=64, lr=0.01, progress=False, device="cpu")
    return layer.decoder


def returns_autoencoder(frozen, x, width, epochs):
    with torch.no_grad():
        codes = frozen(x)
    layer = _layer(codes.shape[1], width)
    training.fit(layer, codes, epochs=epochs, batch_size=64, lr=0.01, progress=False, device="cpu")
    return layer


def test_greedy_layer_check_accepts_the_right_answer(images, capsys):
    assert exercises.check_greedy_layer(right, images, widths=(32, 8))
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, says", [
    (on_pixels, "raw pixels"), (not_frozen, "frozen layers changed"), (returns_decoder, "decoder"),
    (returns_autoencoder, "whole autoencoder"), (lambda f, x, w, e: 3.0, "expected the new layer's encoder"),
])
def test_greedy_layer_check_names_each_mistake(images, capsys, wrong, says):
    assert not exercises.check_greedy_layer(wrong, images, widths=(32, 8))
    assert says in capsys.readouterr().out


def test_greedy_layer_check_stub_and_bad_arguments(images, capsys):
    def stub(frozen, x, width, epochs):
        ...
    assert not exercises.check_greedy_layer(stub, images)
    assert "not attempted" in capsys.readouterr().out
    with pytest.raises(ValueError):
        exercises.check_greedy_layer(right, torch.rand(10, 784))


# --- notebook 06: the corruption and the DAE step ---------------------------------------------------

def test_corruption_check_accepts_the_seminar_corruption(capsys):
    assert exercises.check_corruption(lambda x: x + 0.3 * torch.randn_like(x))
    assert exercises.check_corruption(lambda x: x + 0.3 * torch.randn(x.shape))


def _seeded(x):
    torch.manual_seed(0)
    return x + 0.3 * torch.randn_like(x)


def _in_place(x):
    x += 0.3 * torch.randn_like(x)
    return x


@pytest.mark.parametrize("wrong, says", [
    (lambda x: x + 0.09 * torch.randn_like(x), "σ² = 0.09"),                       # σ² as the scale
    (lambda x: x + 0.3 ** 0.5 * torch.randn_like(x), "as the variance"),            # σ taken as the variance
    (lambda x: (x + 0.3 * torch.randn_like(x)).clamp(0, 1), "clipped"),             # clamps, the seminar does not
    (lambda x: x + 0.3 * torch.randn(len(x), 1), "one noise value for all its pixels"),  # per-image scalar noise
    (lambda x: x + 0.3 * 3 ** 0.5 * (2 * torch.rand_like(x) - 1), "not Gaussian"),  # uniform of the same spread
    (_seeded, "same noise"), (_in_place, "in place"), (lambda x: x.clone(), "no noise"),
    (lambda x: x[:10], "shape"),
])
def test_corruption_check_names_each_mistake(capsys, wrong, says):
    assert not exercises.check_corruption(wrong)
    assert says in capsys.readouterr().out


def _step(target="clean", zero=True, step=True, noise=0.3, clamp=False, loss_after=False):
    def fn(model, opt, x_clean):
        x_noisy = x_clean + noise * torch.randn_like(x_clean)
        if clamp:
            x_noisy = x_noisy.clamp(0, 1)
        y = model(x_noisy)
        loss = ((y - (x_clean if target == "clean" else x_noisy)) ** 2).mean()
        if zero:
            opt.zero_grad()
        loss.backward()
        if step:
            opt.step()
        if loss_after:
            with torch.no_grad():
                return float(((model(x_noisy) - x_clean) ** 2).mean())
        return loss.item()
    return fn


def test_dae_step_check_accepts_the_right_step(capsys):
    assert exercises.check_dae_step(_step())
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, says", [
    (_step(target="noisy"), "NOISY input"), (_step(noise=0.0), "clean batch"), (_step(noise=0.09), "standard deviation"),
    (_step(zero=False), "zero_grad"), (_step(step=False), "opt.step()"), (_step(clamp=True), "clipped"),
    (_step(loss_after=True), "returned loss"),
])
def test_dae_step_check_names_each_mistake(capsys, wrong, says):
    assert not exercises.check_dae_step(wrong)
    assert says in capsys.readouterr().out


def test_new_checks_report_stubs_without_raising(capsys):
    for check in (exercises.check_corruption, exercises.check_dae_step):
        assert not check(None)
        assert not check(lambda *a: ...)
    assert capsys.readouterr().out.count("not attempted") == 4


# --- tied weights, the code penalty, the recorded run ----------------------------------------------

def test_tied_autoencoder_shares_the_encoder_weights():
    t = models.TiedAutoencoder((784, 64, 8), init="kaiming")
    u = Autoencoder((784, 64, 8), init="kaiming")
    weights = lambda m: sum(p.numel() for k, p in m.named_parameters() if k.endswith("weight"))
    assert 2 * weights(t) == weights(u)
    x = torch.rand(5, 784)
    before = t(x)
    with torch.no_grad():
        t.encoder[0].weight.mul_(2)          # the decoder's last layer uses this weight too
        z = t.encode(x)
        manual = torch.sigmoid(torch.relu(z @ t.encoder[2].weight + t.decoder_bias[0]) @ t.encoder[0].weight
                               + t.decoder_bias[1])
    assert torch.allclose(t.decode(z), manual, atol=1e-6) and not torch.allclose(before, t(x))
    with pytest.raises(ValueError):
        models.TiedAutoencoder((784,))


def test_recipe_fields_added_later_keep_the_old_cache_keys():
    assert "tied" not in recipes.deep30().key() and "code_l1" not in recipes.latent(32).key()
    assert recipes.deep30_tied().key()["tied"] is True and isinstance(recipes.deep30_tied().build(), models.TiedAutoencoder)
    assert recipes.sparse().key()["code_l1"] == recipes.SPARSE_L1
    for bad in (dict(tied=1), dict(code_l1=-1.0), dict(code_l1=float("nan")), dict(code_l1=True)):
        with pytest.raises(ValueError):
            recipes.deep30().replace(**bad)
    with pytest.raises(ValueError):
        recipes.quantized(4).replace(tied=True)


def test_code_l1_objective_shrinks_the_code(images):
    sizes = []
    for l1 in (0.0, 0.2):
        torch.manual_seed(0)
        m = Autoencoder((784, 32, 8), code_activation="relu", init="kaiming")
        training.fit(m, images, epochs=3, batch_size=50, lr=3e-3, progress=False, device="cpu",
                     objective=training.code_l1_objective(l1))
        with torch.no_grad():
            sizes.append(float(m.encode(images).abs().mean()))
    assert sizes[1] < 0.5 * sizes[0]
    for bad in (-0.1, float("inf"), "1", True):
        with pytest.raises(ValueError, match="L1 weight"):
            training.code_l1_objective(bad)
    with pytest.raises(ValueError, match="encode and decode"):
        training.fit(nn.Sequential(nn.Linear(784, 784)), images, epochs=1, batch_size=50, lr=1e-3, progress=False,
                     objective=training.code_l1_objective(0.1))


def test_penalty_objective_adds_the_weighted_penalty(images):
    m = Autoencoder((784, 8), init="kaiming")
    x = images[:10]
    plain = training.penalty_objective(lambda model, xb: torch.zeros(()), 3.0)(m, x, x)
    heavy = training.penalty_objective(lambda model, xb: torch.ones(()), 3.0)(m, x, x)
    assert torch.isclose(heavy - plain, torch.tensor(3.0))
    with pytest.raises(ValueError, match="scalar tensor"):
        training.penalty_objective(lambda model, xb: torch.ones(3), 1.0)(m, x, x)
    with pytest.raises(ValueError, match="penalty must be a function"):
        training.penalty_objective(3, 1.0)


def test_read_recorded_checks_the_file(tmp_path):
    assert results.read_recorded("seminar_2000epochs", folder=tmp_path / "absent") is None
    with pytest.raises(ValueError, match="no recorded run"):
        results.read_recorded("seminar_2000epochs", folder=tmp_path)
    good = {"epoch": [10, 20], "test_mse": [0.09, 0.08], "saturated": [[0.9], [0.9]], "epochs_planned": 2000,
            "machine": {}, "command": "c", "started": "d"}
    (tmp_path / "run.json").write_text(json.dumps(good))
    assert results.read_recorded("run", folder=tmp_path)["epoch"] == [10, 20]
    for broken in ({**good, "epoch": [20, 10]}, {**good, "test_mse": [0.1]}, {k: v for k, v in good.items() if k != "command"}):
        (tmp_path / "run.json").write_text(json.dumps(broken))
        with pytest.raises(ValueError):
            results.read_recorded("run", folder=tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        results.read_recorded("run", folder=tmp_path)
    with pytest.raises(ValueError):
        results.read_recorded("../etc/passwd")


def test_the_committed_recorded_run_is_readable_and_labelled():
    rec = results.read_recorded("seminar_2000epochs")
    assert rec is not None and rec["epochs_planned"] == 2000 and rec["epoch"][-1] <= 2000
    assert rec["recipe"]["init"] == "normal" and rec["n_train"] == 55_000
    assert ("finished" in rec) == (rec["epoch"][-1] == rec["epochs_planned"])   # partial runs have no finish time
