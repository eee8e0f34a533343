import pytest
import torch

from course_utils.models import autoencoder, seminar_dae
from course_utils.training import History, fit, mse, reconstruct


def _train(x, xt, seed=0, **kw):
    torch.manual_seed(seed)
    m = autoencoder(16, hidden=(64,))
    args = dict(epochs=3, batch_size=100, lr=3e-3, x_test=xt, progress=False, seed=seed, device="cpu")
    args.update(kw)
    return m, fit(m, x, **args)


def test_fit_lowers_the_loss(mnist_small):
    x, _, xt, _ = mnist_small
    torch.manual_seed(0)
    m = autoencoder(16, hidden=(64,))
    before = mse(m, xt)
    h = fit(m, x, epochs=4, batch_size=100, lr=3e-3, x_test=xt, progress=False, device="cpu")
    assert isinstance(h, History)
    assert len(h.train_loss) == 4 and len(h.test_mse) == 4
    assert h.train_loss[-1] < 0.7 * h.train_loss[0]
    assert h.test_mse[-1] < 0.5 * before
    assert h.samples_per_sec > 0 and h.seconds > 0 and h.epochs_run == 4 and h.device == "cpu"
    assert not m.training  # left in eval mode


def test_cpu_training_is_deterministic_for_a_seed(mnist_small):
    x, _, xt, _ = mnist_small
    _, h1 = _train(x, xt, noise=0.3)
    m2, h2 = _train(x, xt, noise=0.3)
    _, h3 = _train(x, xt, noise=0.3, seed=1)
    assert h1.train_loss == h2.train_loss and h1.test_mse == h2.test_mse
    assert h1.train_loss != h3.train_loss


def test_denoising_targets_are_clean(mnist_small):
    x, _, xt, _ = mnist_small
    torch.manual_seed(0)
    m = seminar_dae(modern=True)
    h = fit(m, x, epochs=10, batch_size=100, lr=1e-3, noise=("gaussian", 0.3), x_test=xt,
            progress=False, device="cpu")
    noisy_err = float(((xt + 0.3 * torch.randn(xt.shape, generator=torch.Generator().manual_seed(5)) - xt) ** 2).mean())
    # doing nothing costs 0.09 per pixel; a DAE trained on clean targets must beat it clearly
    assert h.test_mse[-1] < 0.5 * noisy_err


def test_time_budget_stops_early(mnist_small):
    x, _, _, _ = mnist_small
    torch.manual_seed(0)
    m = autoencoder(8)
    h = fit(m, x, epochs=10_000, batch_size=10, lr=1e-3, progress=False, time_budget=0.3, device="cpu")
    assert h.stopped_by_budget and h.epochs_run < 10_000


def test_progress_bar_runs(mnist_small, capsys):
    x, _, _, _ = mnist_small
    m = autoencoder(4, hidden=(8,))
    fit(m, x[:200], epochs=1, batch_size=100, lr=1e-3, progress=True, device="cpu")


def test_reconstruct_and_mse(mnist_small):
    _, _, xt, _ = mnist_small
    m = autoencoder(4, hidden=(8,))
    out = reconstruct(m, xt, batch_size=128)
    assert out.shape == xt.shape
    assert mse(m, xt) == pytest.approx(float(((out - xt) ** 2).mean()), rel=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=0), "epochs must be a positive integer"),
    (dict(batch_size=-1), "batch_size"),
    (dict(lr=0), "lr must be a positive number"),
    (dict(noise=("gaussian", -0.3)), "level must be >= 0"),
    (dict(noise="pink"), "noise must be"),
    (dict(noise=("speckle", 0.1)), "unknown noise kind"),
    (dict(loss="hinge"), "unknown loss"),
    (dict(device="tpu"), "unknown device"),
    (dict(time_budget=-1), "time_budget"),
])
def test_fit_rejects_bad_arguments(kwargs, match):
    args = dict(epochs=1, batch_size=10, lr=1e-3, progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fit(autoencoder(4), torch.rand(20, 784), **args)


def test_fit_rejects_bad_data():
    m = autoencoder(4)
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        fit(m, torch.rand(20, 28, 28), epochs=1, batch_size=10, lr=1e-3, progress=False)
    bad = torch.rand(20, 784)
    bad[3, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fit(m, bad, epochs=1, batch_size=10, lr=1e-3, progress=False)
    with pytest.raises(ValueError, match=r"x_test must have shape \(N, 784\)"):
        fit(m, torch.rand(20, 784), x_test=torch.rand(5, 100), epochs=1, batch_size=10, lr=1e-3, progress=False)
    with pytest.raises(ValueError, match="must match"):
        mse(m, torch.rand(5, 784), torch.rand(4, 784))
