"""Notebook 09: the VAE, its loss and measurements (course_utils.vae), its recipes, and the exercise
checks. Models are trained for real on a small subset (seconds)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_utils import exercises, recipes, training, vae


@pytest.fixture
def small_vae(mnist_small):
    """A 784-64-4 VAE trained for two epochs on 2000 images (a few seconds)."""
    x = mnist_small[0]
    torch.manual_seed(0)
    model = vae.VAE((784, 64, 4))
    h = training.fit(model, x, epochs=2, batch_size=64, lr=3e-3, objective=vae.elbo_objective(1.0),
                     x_test=mnist_small[2][:200], progress=False)
    return model, h


def test_model_shapes_and_forward_is_the_mean_reconstruction():
    torch.manual_seed(0)
    m = vae.VAE((784, 32, 3)).eval()
    x = torch.rand(5, 784)
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert m.decode(mu).shape == (5, 784) and torch.all((m.decode(mu) >= 0) & (m.decode(mu) <= 1))
    assert torch.allclose(m(x), torch.sigmoid(m.decode_logits(mu)))
    assert m.latent_dim == 3 and m.input_dim == 784


def test_bad_input_gets_a_clear_error():
    m = vae.VAE((784, 16, 2)).eval()
    for bad, match in ((torch.rand(3, 10), "784"), (torch.rand(3, 784) * 255, "255"),
                       (torch.full((2, 784), float("nan")), "NaN"), ((torch.rand(2, 784) * 255).byte(), "float")):
        with pytest.raises(ValueError, match=match):
            m.encode(bad)
    with pytest.raises(ValueError, match="hidden"):
        vae.VAE((784, 2))
    with pytest.raises(ValueError, match="same shape"):
        vae.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="beta"):
        vae.elbo_objective(-1.0)
    with pytest.raises(ValueError, match="VAE"):
        vae.sample(torch.nn.Linear(2, 2), 3)
    with pytest.raises(ValueError, match="features"):
        vae.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="objective"):
        training.fit(m, torch.rand(8, 784), epochs=1, batch_size=4, lr=1e-3, progress=False, objective=3)
    with pytest.raises(ValueError, match="scalar"):
        training.fit(m, torch.rand(8, 784), epochs=1, batch_size=4, lr=1e-3, progress=False,
                     objective=lambda model, x, t: vae.negative_elbo(model, t)[1])


def test_closed_form_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    eps = torch.randn(100_000, 4, 6, generator=g, dtype=torch.float64)
    z = mu.double() + torch.exp(0.5 * logvar.double()) * eps
    terms = (torch.distributions.Normal(mu.double(), torch.exp(0.5 * logvar.double())).log_prob(z)
             - torch.distributions.Normal(0.0, 1.0).log_prob(z)).sum(-1)
    se = terms.std(0) / math.sqrt(len(z))
    assert torch.all((vae.gaussian_kl(mu, logvar).double() - terms.mean(0)).abs() < 4 * se)
    assert torch.allclose(vae.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def test_reparameterisation_gradients_reach_mu_and_logvar():
    mu = torch.randn(3, 2, requires_grad=True)
    logvar = torch.randn(3, 2, requires_grad=True)
    eps = torch.randn(3, 2)
    vae.reparameterize(mu, logvar, eps).sum().backward()
    assert torch.allclose(mu.grad, torch.ones(3, 2))
    assert torch.allclose(logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps)


def test_bernoulli_nll_is_binary_cross_entropy_summed_over_pixels():
    logits, x = torch.randn(3, 5), torch.rand(3, 5).round()
    p = torch.sigmoid(logits)
    want = -(x * p.log() + (1 - x) * (1 - p).log()).sum(1)
    assert torch.allclose(vae.bernoulli_nll(logits, x), want, atol=1e-5)


def test_training_lowers_the_loss_and_iwae_is_at_least_the_elbo(small_vae, mnist_small):
    model, h = small_vae
    assert h.train_loss[-1] < h.train_loss[0] and len(h.test_mse) == 2
    xb = vae.binarize(mnist_small[2][:100], seed=0)
    r = vae.evaluate(model, xb, k=20, seed=0)
    assert np.all(r["log_px"] >= r["elbo"] - 1e-9)            # Jensen, image by image
    assert r["log_px"].mean() > r["elbo"].mean()
    assert np.all(r["kl"] >= 0) and np.allclose(r["reconstruction"] + r["kl"], -r["elbo"])
    assert -300 < r["elbo"].mean() < -80                       # nats per binarised digit, a sane range
    # more importance samples: a tighter (larger) estimate on average
    r1 = vae.evaluate(model, xb, k=1, seed=0)
    assert np.allclose(r1["log_px"], r1["elbo"])
    assert vae.evaluate(model, xb, k=200, seed=1)["log_px"].mean() > r1["log_px"].mean()


def test_samples_prior_grid_and_binarize():
    torch.manual_seed(0)
    m = vae.VAE((784, 16, 2))
    s = vae.sample(m, 7, seed=3)
    assert s.shape == (7, 784) and torch.equal(s, vae.sample(m, 7, seed=3))
    q = vae.prior_grid(5)
    assert q.shape == (25, 2) and torch.allclose(q[12], torch.zeros(2), atol=1e-6)   # the centre is z = 0
    assert q[0, 0] < 0 < q[0, 1] and q[-1, 0] > 0 > q[-1, 1]                           # top left: z₁ < 0, z₂ > 0
    x = torch.full((20_000, 4), 0.25)
    b = vae.binarize(x, seed=1)
    assert set(b.unique().tolist()) <= {0.0, 1.0} and abs(float(b.mean()) - 0.25) < 0.01
    assert torch.equal(b, vae.binarize(x, seed=1))


def test_frechet_distance():
    g = np.random.default_rng(0)
    a, b = g.normal(size=(4000, 3)), g.normal(size=(4000, 3))
    assert vae.frechet_distance(a, b) < 0.02
    assert vae.frechet_distance(a, a + [2.0, 0, 0]) == pytest.approx(4.0, abs=1e-6)   # ‖Δmean‖², same covariance
    # covariances C and 4C: tr(C + 4C − 2·2C) = tr(C), plus ‖Δmean‖² = ‖mean(a)‖²
    want = np.trace(np.cov(a, rowvar=False)) + (a.mean(0) ** 2).sum()
    assert vae.frechet_distance(a, 2 * a) == pytest.approx(want, rel=1e-6)


def test_classifier_recipe_trains_a_real_classifier(mnist_small):
    x, y, xt, yt = mnist_small
    r = recipes.digit_classifier().replace(n_train=len(x), epochs=3)
    model = r.build()
    r.fit(model, x, y_train=torch.nn.functional.one_hot(y, 10).float())
    scores = vae.digit_confidence(model, xt)
    assert (torch.as_tensor(scores["labels"]) == yt).float().mean() > 0.8
    assert 0 < scores["confident_share"] <= 1 and scores["max_prob"].shape == (len(xt),)
    assert vae.classifier_features(model, xt[:5]).shape == (5, 64)
    with pytest.raises(ValueError, match="y_train"):
        r.fit(model, x)


def test_recipes():
    r = recipes.vae(2, 4.0)
    assert r.model == "vae" and r.loss == "elbo" and r.beta == 4.0 and r.sizes == (784, 400, 2)
    assert isinstance(r.build(), vae.VAE) and r.key() != recipes.vae(2, 1.0).key()
    assert len({recipes.vae(2, b).name for b in recipes.VAE_BETAS}) == len(recipes.VAE_BETAS)
    with pytest.raises(ValueError, match="beta"):
        recipes.vae(20, 4.0)
    with pytest.raises(ValueError, match="latent"):
        recipes.vae(3)
    with pytest.raises(ValueError, match="loss"):
        recipes.vae(2).replace(loss="mse")
    with pytest.raises(ValueError, match="init"):
        recipes.vae(2).replace(init="kaiming")
    with pytest.raises(ValueError, match="n_test"):
        recipes.digit_classifier().replace(n_test=10)
    assert isinstance(recipes.digit_classifier().build(), vae.DigitClassifier)
    # the recipe's VAE is the notebook's: same construction order and default init
    torch.manual_seed(0)
    assert all(torch.equal(a, b) for a, b in zip(vae.VAE((784, 400, 2)).state_dict().values(),
                                                   recipes.vae(2).build().state_dict().values()))


# --- the exercise checks reject the realistic wrong answers -----------------------------------------

def test_check_reparameterize_accepts_the_answer_and_rejects_mistakes(capsys):
    assert exercises.check_reparameterize(lambda mu, lv, e: mu + torch.exp(0.5 * lv) * e)
    wrong = {
        "½": lambda mu, lv, e: mu + torch.exp(lv) * e,                       # missing ½
        "standard deviation": lambda mu, lv, e: mu + lv * e,                 # logvar used as σ
        "NaN": lambda mu, lv, e: mu + torch.sqrt(lv) * e,                    # logvar used as the variance
        "noise is missing": lambda mu, lv, e: mu,
        "mean is missing": lambda mu, lv, e: torch.exp(0.5 * lv) * e,
        "gradient": lambda mu, lv, e: (mu + torch.exp(0.5 * lv) * e).detach(),
        "gradient reaches mu": lambda mu, lv, e: mu.detach() + torch.exp(0.5 * lv) * e,
    }
    for why, fn in wrong.items():
        assert not exercises.check_reparameterize(fn), why
        assert why in capsys.readouterr().out, why
    assert not exercises.check_reparameterize(None)
    assert "not attempted" in capsys.readouterr().out


def test_check_gaussian_kl_accepts_the_answer_and_rejects_mistakes(capsys):
    assert exercises.check_gaussian_kl(lambda mu, lv: 0.5 * (mu ** 2 + lv.exp() - 1 - lv).sum(1))
    wrong = {
        "½": lambda mu, lv: (mu ** 2 + lv.exp() - 1 - lv).sum(1),
        "sign": lambda mu, lv: -0.5 * (mu ** 2 + lv.exp() - 1 - lv).sum(1),
        "mean over the latent": lambda mu, lv: 0.5 * (mu ** 2 + lv.exp() - 1 - lv).mean(1),
        "single number": lambda mu, lv: 0.5 * (mu ** 2 + lv.exp() - 1 - lv).sum(),
        "−1": lambda mu, lv: 0.5 * (mu ** 2 + lv.exp() - lv).sum(1),
    }
    for why, fn in wrong.items():
        assert not exercises.check_gaussian_kl(fn), why
        assert why in capsys.readouterr().out, why
    out = exercises.check_gaussian_kl(lambda mu, lv: 0.5 * (mu ** 2 + lv ** 2 - 1 - lv).sum(1))
    assert not out
    assert "0.5 *" not in capsys.readouterr().out     # feedback never shows the answer
