"""Notebook 08: the ring's closed form, the toy-DAE recipes in the store, the widget callbacks and the
exercise checks. The toy DAEs are trained for real on a shrunken configuration (seconds)."""
from __future__ import annotations

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils import config, exercises, plotting, recipes, store, widgets
from course_utils import denoising_field as field


@pytest.fixture
def small_ring(tmp_cache, monkeypatch):
    """A throwaway cache and tiny sizes: a toy DAE trains in about a second."""
    sizes = dict(config.SIZES)
    sizes.update({"curve_train": (3000, 3000), "curve_dae_epochs": (30, 30)})
    monkeypatch.setattr(config, "SIZES", sizes)
    return tmp_cache


# --- the closed form --------------------------------------------------------------------------------

def test_score_is_the_gradient_of_the_log_density_and_tweedie_uses_it():
    x = torch.tensor([[1.3, 0.2], [0.1, -0.7], [2.0, 2.0], [0.0, 1.0]], dtype=torch.float64, requires_grad=True)
    for sigma in (0.0, 0.1, 0.5):
        (grad,) = torch.autograd.grad(field.log_density(x, sigma).sum(), x)
        assert torch.allclose(field.score(x.detach(), sigma), grad, atol=1e-9)
        assert torch.allclose(field.tweedie(x.detach(), sigma), x.detach() + sigma ** 2 * grad, atol=1e-9)
    with pytest.raises(ValueError, match="sigma"):
        field.score(x.detach(), -0.1)


def test_density_integrates_to_one_and_samples_follow_it():
    lim, n = 2.0, 201
    g = field.grid(lim, n)
    cell = (2 * lim / (n - 1)) ** 2
    for sigma in (0.0, 0.3):
        assert float(field.log_density(g, sigma).exp().sum() * cell) == pytest.approx(1, abs=0.01)
    x = field.sample(20_000, seed=3)
    r = x.double().norm(dim=1)
    assert float(r.mean()) == pytest.approx(field.RADIUS, abs=0.005)
    assert float(field.distance_to_curve(x).mean()) == pytest.approx(field.BUMP_STD * math.sqrt(2 / math.pi), rel=0.05)
    assert torch.equal(field.sample(10, seed=1), field.sample(10, seed=1))
    t = field.tangent(torch.tensor([[2.0, 0.0], [0.0, -0.5]]))
    assert torch.allclose(t, torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64))


def test_langevin_with_the_exact_score_samples_the_ring():
    x, s, z = torch.randn(5, 2), torch.randn(5, 2), torch.randn(5, 2)
    assert torch.allclose(field.langevin_step(x, s, 0.04, z), x + 0.02 * s + 0.2 * z)
    sigmas = (0.8, 0.4, 0.2, 0.1)
    out = field.annealed_langevin([lambda y, s_=s_: field.score(y, s_).float() for s_ in sigmas], sigmas, 1000,
                                  steps=50, eps=0.1, seed=0)
    noise = torch.randn(1000, 2)
    assert field.share_within(out, 0.2) > 0.85 > 0.3 > field.share_within(noise, 0.2)
    with pytest.raises(ValueError, match="largest to smallest"):
        field.annealed_langevin([field.score] * 2, (0.1, 0.2), 10)


# --- recipes and the store ----------------------------------------------------------------------------

def test_curve_dae_recipe_trains_on_the_ring_and_is_cached(small_ring):
    r = recipes.curve_dae(0.4)
    assert r.data == "curve2d" and r.noise_level == 0.4 and r.n_train == 3000 and r.epochs == 30
    x, xt, _ = store.training_data(r)
    assert xt is None and torch.equal(x, field.sample(3000, seed=0))
    model, info = store.curve_dae(0.4)
    assert info["cached"] is False and len(info["train_loss"]) == 30
    again, info2 = store.curve_dae(0.4)
    assert info2["cached"] is True
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert len(list(small_ring.glob("curve_dae_040-*"))) >= 1
    for bad in (0.3, 0, True):
        with pytest.raises(ValueError, match="sigma"):
            recipes.curve_dae(bad)


# --- widget callbacks ---------------------------------------------------------------------------------

def _quiver(ax):
    return next(c for c in ax.collections if isinstance(c, matplotlib.quiver.Quiver))


def test_field_view_numbers_are_real(small_ring):
    widgets._curve_dae.forget()
    fig, nums = widgets.field_view(0.4, n_grid=9)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    assert [ax.get_xlabel() for ax in fig.axes] == ["x₁", "x₁"]
    assert "σ = 0.4" in fig.axes[0].get_title() and "Tweedie" in fig.axes[1].get_title()
    # the right panel's arrows are the exact σ²∇log p_σ on the 9 × 9 grid
    g = field.grid(1.6, 9)
    exact = field.tweedie(g, 0.4) - g.double()
    q = _quiver(fig.axes[1])
    assert np.allclose(q.U, exact[:, 0].numpy(), atol=1e-6) and np.allclose(q.V, exact[:, 1].numpy(), atol=1e-6)
    plt.close(fig)
    # the printed agreement is recomputed here from the cached model
    model = store.curve_dae(0.4)[0]
    fine = field.grid(1.6, 61)
    d = field.distance_to_curve(fine)
    near = (d >= 0.2) & (d < 0.8)
    with torch.no_grad():
        v = model(fine).double() - fine.double()
    e = field.tweedie(fine, 0.4) - fine.double()
    cos = torch.nn.functional.cosine_similarity(v[near], e[near], dim=1).mean()
    assert nums["n_near"] == int(near.sum())
    assert nums["cosine"] == pytest.approx(float(cos), abs=1e-9)
    assert nums["relative_error"] == pytest.approx(float((v[near] - e[near]).norm() / e[near].norm()), abs=1e-9)
    assert nums["cosine"] > 0.9          # even a tiny training run points the way of the exact score
    assert math.isnan(nums["far_cosine"]) and nums["n_far"] == 0     # no point is 4σ = 1.6 from the ring here


def test_walk_view_moves_points_onto_the_ring(small_ring):
    widgets._curve_dae.forget()
    fig, zero = widgets.walk_view(0, sigma=0.4, n=50)
    plt.close(fig)
    assert zero["distances"] == [zero["start_distance"]] == [zero["end_distance"]]
    fig, five = widgets.walk_view(5, sigma=0.4, n=50)
    assert fig.axes[1].get_xlabel() == "denoising steps"
    plt.close(fig)
    assert len(five["distances"]) == 6 and five["start_distance"] == zero["start_distance"]
    assert five["distances"][1] < 0.5 * five["distances"][0]
    x0 = 4 * torch.rand(50, 2, generator=torch.Generator().manual_seed(0)) - 2
    model = store.curve_dae(0.4)[0]
    with torch.no_grad():
        x = model(model(x0))
    assert five["distances"][2] == pytest.approx(float(field.distance_to_curve(x).mean()), abs=1e-9)



def test_field_view_moves_the_arrows_of_one_live_figure(small_ring, shown_png):
    widgets._curve_dae.forget()
    fignums = plt.get_fignums()
    fig, a = widgets.field_view(0.4, n_grid=9)
    first = shown_png(fig)
    again, b = widgets.field_view(0.8, n_grid=9)
    assert again is fig
    g = field.grid(1.6, 9)
    exact = (field.tweedie(g, 0.8) - g.double()).numpy()
    q = _quiver(fig.axes[1])
    assert np.allclose(q.U, exact[:, 0]) and np.allclose(q.V, exact[:, 1])
    left = _quiver(fig.axes[0])
    dae = np.stack([np.asarray(left.U), np.asarray(left.V)], 1)
    assert q.scale == left.scale == pytest.approx(plotting.field_scale(g, dae, exact))  # 0.8's arrows, one scale
    assert "σ = 0.8" in fig.axes[0].get_title() and f"cos {b['cosine']:.3f}" in fig.get_suptitle()
    shown_png(fig)
    widgets.field_view(0.4, n_grid=9)
    assert widgets.render_png(fig) == first              # back at σ = 0.4: its picture, nothing of 0.8 left
    assert widgets.field_view(0.4, n_grid=11)[0] is not fig   # another grid, another figure
    assert widgets.field_view.continuous_update is True
    assert plt.get_fignums() == fignums


def test_walk_view_moves_the_points_of_one_live_figure(small_ring, shown_png):
    widgets._curve_dae.forget()
    fig, five = widgets.walk_view(5, sigma=0.4, n=50)
    first = shown_png(fig)
    ax, bx = fig.axes
    distance_view = (bx.get_xlim(), bx.get_ylim())
    for steps in (0, 12, 1, 20):
        again, nums = widgets.walk_view(steps, sigma=0.4, n=50)
        assert again is fig
        assert ax.get_title().startswith(f"{steps} denoising steps")
        assert ax.get_legend().get_texts()[1].get_text() == f"after {steps} steps"
        assert list(bx.lines[1].get_ydata()) == nums["distances"]
        ahead = list(bx.lines[0].get_ydata())        # the faint walk to the slider's end, beneath
        assert len(ahead) == max(steps, widgets.WALK_VIEW_HORIZON) + 1 and ahead[:steps + 1] == nums["distances"]
        if steps <= widgets.WALK_VIEW_HORIZON:       # so the distance panel keeps one view along the slider
            assert (bx.get_xlim(), bx.get_ylim()) == distance_view
        assert np.allclose(ax.collections[1].get_offsets()[0], ax.lines[1].get_xydata()[-1])
        view = (ax.get_xlim(), ax.get_ylim(), bx.get_xlim(), bx.get_ylim())
        for a in (ax, bx):
            a.relim()
            a.autoscale_view()
        assert view == (ax.get_xlim(), ax.get_ylim(), bx.get_xlim(), bx.get_ylim())  # a fresh figure's view
        shown_png(fig)
    widgets.walk_view(5, sigma=0.4, n=50, seed=3)        # other points: the walk's frame is drawn again
    shown_png(fig)
    widgets.walk_view(5, sigma=0.4, n=50)
    assert widgets.render_png(fig) == first
    assert widgets.walk_view.continuous_update is True


def test_widgets_08_reject_bad_arguments(small_ring):
    for bad in (0.3, "0.2", True):
        with pytest.raises(ValueError, match="sigma"):
            widgets.field_view(bad)
    with pytest.raises(ValueError, match="n_grid"):
        widgets.field_view(0.4, n_grid=2)
    with pytest.raises(ValueError, match="lim"):
        widgets.field_view(0.4, lim=0)
    with pytest.raises(ValueError, match="steps"):
        widgets.walk_view(-1)


# --- exercise checks ------------------------------------------------------------------------------------

def _tweedie(x, means, weights, s, sigma, power=2, sign=1, noisy_var=True, add_x=True):
    var = s ** 2 + (sigma ** 2 if noisy_var else 0)
    post = torch.softmax(weights.log() - (x[:, None] - means) ** 2 / (2 * var), 1)
    score = (post * (means - x[:, None])).sum(1) / var
    return (x if add_x else 0) + sign * sigma ** power * score


def test_check_tweedie_1d_accepts_the_answer_and_names_each_mistake(capsys):
    assert exercises.check_tweedie_1d(_tweedie)
    assert not exercises.check_tweedie_1d(None) and "not attempted" in capsys.readouterr().out
    mistakes = {"missing its σ²": lambda *a: _tweedie(*a, power=0), "uses σ where": lambda *a: _tweedie(*a, power=1),
                "wrong way": lambda *a: _tweedie(*a, sign=-1), "only the step": lambda *a: _tweedie(*a, add_x=False),
                "clean mixture": lambda *a: _tweedie(*a, noisy_var=False),
                "wrong result": lambda *a: _tweedie(*a) + 0.01, "raised": lambda *a: 1 / 0}
    for why, fn in mistakes.items():
        capsys.readouterr()
        assert not exercises.check_tweedie_1d(fn)
        out = capsys.readouterr().out
        assert why in out and "❌" in out, (why, out)
    fn = lambda x, *a: _tweedie(x, *a)[:-1]     # noqa: E731  wrong shape
    assert not exercises.check_tweedie_1d(fn) and "shape" in capsys.readouterr().out


def test_check_langevin_step_accepts_the_answer_and_names_each_mistake(capsys):
    right = lambda x, s, a, z: x + 0.5 * a * s + math.sqrt(a) * z    # noqa: E731
    assert exercises.check_langevin_step(right)
    mistakes = {"missing its 1/2": lambda x, s, a, z: x + a * s + math.sqrt(a) * z,
                "√step": lambda x, s, a, z: x + 0.5 * a * s + a * z,
                "must go up": lambda x, s, a, z: x - 0.5 * a * s + math.sqrt(a) * z,
                "no noise": lambda x, s, a, z: x + 0.5 * a * s,
                "not scaled": lambda x, s, a, z: x + 0.5 * a * s + z,
                "wrong result": lambda x, s, a, z: right(x, s, a, z) * 1.01}
    for why, fn in mistakes.items():
        capsys.readouterr()
        assert not exercises.check_langevin_step(fn)
        out = capsys.readouterr().out
        assert why in out and "❌" in out, (why, out)
    assert not exercises.check_langevin_step(lambda *a: ...) and "not attempted" in capsys.readouterr().out
