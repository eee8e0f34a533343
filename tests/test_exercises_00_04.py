"""Issue 16 (notebooks 00-04): the exercise checks accept the right answer and reject the realistic
wrong ones (naming the mistake, never the expected value); the unrolling score does not depend on how
an embedding is turned, while the per-axis score it replaced does."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from course_utils import exercises, manifolds


def _verdict(capsys):
    return capsys.readouterr().out


# --- notebook 00 and 01: numbers ------------------------------------------------------------------

@pytest.mark.parametrize("wrong, why", [(28, "one side"), (56, "28 + 28"), (700, "too small")])
def test_pixels_per_image(capsys, wrong, why):
    assert exercises.check_pixels_per_image(28 * 28)
    assert not exercises.check_pixels_per_image(wrong)
    out = _verdict(capsys)
    assert why in out and "784" not in out.split("✅")[-1].split("\n", 1)[-1]   # never the answer


def test_ball_fraction_5d(capsys):
    right = math.pi ** 2.5 / math.gamma(3.5) / 32
    assert exercises.check_ball_fraction_5d(right)
    assert not exercises.check_ball_fraction_5d(math.pi ** 2.5 / math.gamma(3.5))       # the ball's volume
    assert "ball's volume" in _verdict(capsys)
    assert not exercises.check_ball_fraction_5d(math.pi ** 2.5 / math.gamma(2.5) / 32)  # Γ(d/2)
    assert "d/2 + 1" in _verdict(capsys)
    assert not exercises.check_ball_fraction_5d(right * 1.001)
    assert not exercises.check_ball_fraction_5d(...)
    assert f"{right:.4g}" not in _verdict(capsys)


@pytest.mark.parametrize("wrong, why", [(784, "base-2"), (784 * math.log(2), "natural"),
                                        (28 * math.log10(2), "not only 28"), (784 * math.log10(256), "256"),
                                        (2.0 ** 784, "count itself"), (230.0, "too small")])
def test_log10_binary_images(capsys, wrong, why):
    assert exercises.check_log10_binary_images(784 * math.log10(2))
    assert not exercises.check_log10_binary_images(wrong)
    out = _verdict(capsys)
    assert why in out and "236" not in out


# --- notebook 02: the rotation-invariant unrolling score ---------------------------------------------

def _turn(e, degrees):
    a = np.deg2rad(degrees)
    return e @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def test_unrolling_score_is_rotation_invariant_and_the_old_score_is_not():
    x, t = manifolds.swiss_roll(600)
    rng = np.random.default_rng(0)
    # a picture that unrolls t along a diagonal, as Isomap or an autoencoder may draw it
    e = np.column_stack([t, x[:, 1]]) @ np.array([[1.0, 1.0], [-1.0, 1.0]]) + 0.3 * rng.standard_normal((600, 2))
    new = [manifolds.unrolling_score(_turn(e, d), t) for d in range(0, 181, 15)]
    old = [manifolds.axis_spearman(_turn(e, d), t) for d in range(0, 181, 15)]
    assert max(new) - min(new) < 1e-9 and new[0] > 0.95
    assert max(old) - min(old) > 0.2                  # the per-axis score depends on the turn
    # also unchanged by reflection, stretching and shifting
    assert manifolds.unrolling_score(e * [-3.0, 0.2] + 7.0, t) == pytest.approx(new[0], abs=1e-9)
    # and it is R²: the squared correlation when t is one exact direction of the picture
    assert manifolds.unrolling_score(np.column_stack([2 * t + 1, rng.standard_normal(600)]), t) == pytest.approx(1.0)
    assert manifolds.embedding_scores(x, e, t)["unrolling"] == pytest.approx(new[0])


def test_unrolling_score_rejects_bad_input():
    x, t = manifolds.swiss_roll(50)
    with pytest.raises(ValueError, match="constant"):
        manifolds.unrolling_score(x[:, :2], np.ones(50))
    with pytest.raises(ValueError, match="t must be"):
        manifolds.unrolling_score(x[:, :2], t[:10])
    with pytest.raises(ValueError, match="emb must be"):
        manifolds.axis_spearman(x[:, 0], t)


def _r2(e, t):
    a = np.column_stack([np.ones(len(e)), e])
    r = t - a @ np.linalg.lstsq(a, t, rcond=None)[0]
    return 1 - r @ r / np.sum((t - t.mean()) ** 2)


def _no_intercept(e, t, centred_total):
    r = t - e @ np.linalg.lstsq(e, t, rcond=None)[0]
    return 1 - r @ r / (np.sum((t - t.mean()) ** 2) if centred_total else t @ t)


WRONG_UNROLLING = {
    "best single axis": lambda e, t: max(np.corrcoef(e[:, a], t)[0, 1] ** 2 for a in range(e.shape[1])),
    "old per-axis |Spearman": lambda e, t: max(abs(spearmanr(e[:, a], t)[0]) for a in range(e.shape[1])),
    "not R²": lambda e, t: np.sqrt(_r2(e, t)),
    "no intercept and the total is not centred": lambda e, t: _no_intercept(e, t, False),
    "the fit has no intercept:": lambda e, t: _no_intercept(e, t, True),
    "total sum of squares is not centred": lambda e, t: 1 - (1 - _r2(e, t)) * np.sum((t - t.mean()) ** 2) / (t @ t),
    "adds the per-axis r²": lambda e, t: sum(np.corrcoef(e[:, a], t)[0, 1] ** 2 for a in range(e.shape[1])),
    "unexplained": lambda e, t: 1 - _r2(e, t),
}


def test_check_unrolling_score_accepts_right_answers(capsys):
    from sklearn.linear_model import LinearRegression

    assert exercises.check_unrolling_score(_r2)
    assert exercises.check_unrolling_score(lambda e, t: LinearRegression().fit(e, t).score(e, t))
    assert exercises.check_unrolling_score(manifolds.unrolling_score)
    assert not exercises.check_unrolling_score(None)
    assert "not attempted" in _verdict(capsys)


@pytest.mark.parametrize("why", list(WRONG_UNROLLING))
def test_check_unrolling_score_names_each_realistic_mistake(capsys, why):
    assert not exercises.check_unrolling_score(WRONG_UNROLLING[why])
    assert why in _verdict(capsys)


# --- notebook 04: the loss and one training step ------------------------------------------------------

WRONG_LOSSES = {
    "SUM of squared errors": lambda a, b: ((a - b) ** 2).sum(),
    "squared error per image": lambda a, b: ((a - b) ** 2).sum(1).mean(),
    "root of the mean": lambda a, b: ((a - b) ** 2).mean().sqrt(),
    "mean absolute error": lambda a, b: (a - b).abs().mean(),
    "not squared": lambda a, b: (a - b).mean(),
    "binary cross-entropy": F.binary_cross_entropy,
}


def test_check_reconstruction_loss(capsys):
    assert exercises.check_reconstruction_loss(lambda a, b: ((a - b) ** 2).mean())
    assert exercises.check_reconstruction_loss(F.mse_loss)
    _verdict(capsys)
    for why, wrong in WRONG_LOSSES.items():
        assert not exercises.check_reconstruction_loss(wrong)
        assert why in _verdict(capsys), why


def _step(zero_grad=True, target_is_input=False, reduce="mean", step=True, returns="before", zero_after=False):
    def train_step(model, optimizer, x_in, target):
        if zero_grad:
            optimizer.zero_grad()
        sq = (model(x_in) - (x_in if target_is_input else target)) ** 2
        loss = sq.sum() if reduce == "sum" else sq.mean()
        loss.backward()
        if zero_after:
            optimizer.zero_grad()
        if step:
            optimizer.step()
        if returns == "after":
            return ((model(x_in) - target) ** 2).mean().item()
        return None if returns == "nothing" else loss.item()
    return train_step


def test_check_train_step_accepts_right_steps(capsys):
    assert exercises.check_train_step(_step())

    def with_mse_loss(model, optimizer, x_in, target):   # another right order: loss first, then zero_grad
        loss = F.mse_loss(model(x_in), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss
    assert exercises.check_train_step(with_mse_loss)
    assert not exercises.check_train_step(None)
    assert not exercises.check_train_step(_step(returns="nothing"))
    assert "not attempted" in _verdict(capsys)


@pytest.mark.parametrize("kw, why", [
    (dict(reduce="sum"), "the loss is a sum"),
    (dict(zero_grad=False), "zero_grad() before loss.backward()"),
    (dict(target_is_input=True), "compare it with the target"),
    (dict(step=False), "did not change"),
    (dict(zero_after=True), "did not change"),
    (dict(returns="after"), "not this step's loss"),
])
def test_check_train_step_names_each_realistic_mistake(capsys, kw, why):
    assert not exercises.check_train_step(_step(**kw))
    assert why in _verdict(capsys)


def test_check_train_step_rejects_two_steps_and_a_crash(capsys):
    right = _step()

    def two_steps(model, optimizer, x_in, target):
        right(model, optimizer, x_in, target)
        return right(model, optimizer, x_in, target)

    assert not exercises.check_train_step(two_steps)
    assert not exercises.check_train_step(lambda m, o, a, b: 1 / 0)
    assert "ZeroDivisionError" in _verdict(capsys)


def test_check_train_step_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    assert exercises.check_train_step(_step())
    assert torch.equal(torch.rand(3), expected)
