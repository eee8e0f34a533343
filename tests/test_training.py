import math

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from course_utils.models import autoencoder, linear_autoencoder, seminar_dae
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


def _lrs_used(**fit_kwargs) -> list[float]:
    """The learning rate of every optimiser step of one ``fit`` (torch's global step hook)."""
    used = []
    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: used.append(opt.param_groups[0]["lr"]))
    try:
        torch.manual_seed(0)
        fit(autoencoder(4, hidden=(16,)), **fit_kwargs)
    finally:
        handle.remove()
    return used


def test_cosine_schedule_falls_from_lr_to_zero(mnist_small):
    x = mnist_small[0][:200]
    used = _lrs_used(x_train=x, epochs=4, batch_size=40, lr=1e-2, lr_schedule="cosine", progress=False)
    assert len(used) == 20 and used[0] == 1e-2
    assert all(b < a for a, b in zip(used, used[1:]))
    # step k (0-based) runs at lr·(1 + cos(π k / 20)) / 2: the last one at 0.6 % of lr
    assert used[10] == pytest.approx(0.5e-2) and used[-1] == pytest.approx(1e-2 * 0.5 * (1 + math.cos(math.pi * 19 / 20)))
    assert _lrs_used(x_train=x, epochs=2, batch_size=40, lr=1e-2, progress=False) == [1e-2] * 10


def test_cosine_schedule_follows_the_time_budget(mnist_small):
    # with a budget, the schedule runs on the share of the budget spent: the rate is near 0 when
    # time is up, long before the (huge) number of epochs would be done
    x = mnist_small[0][:200]
    used = _lrs_used(x_train=x, epochs=10_000, batch_size=10, lr=1e-2, lr_schedule="cosine",
                     time_budget=0.5, progress=False)
    assert used[0] == 1e-2 and used[-1] < 1e-3 and len(used) < 10_000 * 20 / 10  # stopped before a tenth of its steps


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
    (dict(lr_schedule="step"), "unknown lr_schedule 'step'; expected 'constant' or 'cosine'"),
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
    for value in (float("inf"), -float("inf")):
        bad[3, 5] = value
        with pytest.raises(ValueError, match="NaN or infinite"):
            fit(m, bad, epochs=1, batch_size=10, lr=1e-3, progress=False)
    with pytest.raises(ValueError, match=r"x_test must have shape \(N, 784\)"):
        fit(m, torch.rand(20, 784), x_test=torch.rand(5, 100), epochs=1, batch_size=10, lr=1e-3, progress=False)
    with pytest.raises(ValueError, match="must match"):
        mse(m, torch.rand(5, 784), torch.rand(4, 784))


def test_mse_leaves_its_inputs_alone_even_when_the_model_returns_them():
    class PassThrough(torch.nn.Module):  # a real module whose output is its input tensor
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, x):
            return x

    x = torch.rand(30, 784)
    target = torch.rand(30, 784)
    before = x.clone()
    assert mse(PassThrough(), x, target, batch_size=7) == pytest.approx(float(((x - target) ** 2).mean()), rel=1e-6)
    assert torch.equal(x, before)


def test_on_epoch_is_called_after_each_epoch_with_the_history(mnist_small):
    x = mnist_small[0][:200]
    seen = []
    m = autoencoder(4, hidden=(8,))
    fit(m, x, epochs=3, batch_size=100, lr=1e-3, progress=False, device="cpu", x_test=x[:50],
        on_epoch=lambda e, model, h: seen.append((e, model is m, len(h.test_mse))))
    assert seen == [(1, True, 1), (2, True, 2), (3, True, 3)]
    with pytest.raises(ValueError, match="on_epoch must be None or a function"):
        fit(m, x, epochs=1, batch_size=100, lr=1e-3, progress=False, on_epoch=5)
# --- issue 21: training and evaluation never fail silently or obscurely ----------------------------

def _x(n=200, seed=0):
    return torch.rand(n, 784, generator=torch.Generator().manual_seed(seed))


def test_a_diverging_learning_rate_stops_at_the_first_non_finite_loss():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match=r"epoch 1, step \d+: the loss is (inf|nan).*lr=10 is too high"):
        fit(linear_autoencoder(8), _x(600), epochs=3, batch_size=100, lr=10.0, optimizer="sgd",
            progress=False, device="cpu")


def test_a_loss_returning_nan_stops_at_step_one():
    with pytest.raises(ValueError, match=r"epoch 1, step 1: the loss is nan.*loss function returns NaN"):
        fit(autoencoder(4, hidden=(8,)), _x(), epochs=2, batch_size=50, lr=1e-3, progress=False,
            device="cpu", loss=lambda out, target: (out - target).sum() * float("nan"))


@pytest.mark.parametrize("call", [
    lambda m, x: fit(m, x * 255, epochs=1, batch_size=50, lr=1e-3, progress=False, device="cpu"),
    lambda m, x: reconstruct(m, x * 255),
    lambda m, x: mse(m, x, x * 255),
    lambda m, x: m.eval()(x * 255),
])
def test_images_in_0_255_are_refused_with_the_fix(call):
    with pytest.raises(ValueError, match=r"expected pixel values in \[0, 1\], got max 25\d\.\d+ — divide by 255"):
        call(autoencoder(4, hidden=(8,)), _x())


@pytest.mark.parametrize("call", [
    lambda m, x: fit(m, (x * 255).to(torch.uint8), epochs=1, batch_size=50, lr=1e-3, progress=False, device="cpu"),
    lambda m, x: reconstruct(m, (x * 255).to(torch.uint8)),
    lambda m, x: mse(m, (x * 255).long()),
    lambda m, x: m((x * 255).to(torch.uint8)),
])
def test_integer_images_are_refused_with_the_fix(call):
    with pytest.raises(ValueError, match=r"floating-point tensor, got dtype torch\.(uint8|int64) — convert with x\.float\(\) / 255"):
        call(autoencoder(4, hidden=(8,)), _x())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_dtypes_are_converted_to_float32(dtype):
    x = _x()
    torch.manual_seed(0)
    m = autoencoder(4, hidden=(8,)).eval()
    assert reconstruct(m, x.to(dtype)).dtype == torch.float32
    assert torch.allclose(reconstruct(m, x.to(dtype)), reconstruct(m, x.to(dtype).float()))
    assert math.isclose(mse(m, x.to(dtype)), mse(m, x.to(dtype).float()), rel_tol=1e-6)
    assert m(x.to(dtype)).dtype == torch.float32
    h = fit(m, x.to(dtype), epochs=1, batch_size=50, lr=1e-3, progress=False, device="cpu")
    assert all(math.isfinite(v) for v in h.train_loss)


def test_negative_and_standardised_data_are_trained_on():
    """fit trains on any finite data (the Swiss roll is standardised): only the 0..255 look is refused."""
    x = _x() - 0.5
    h = fit(autoencoder(4, hidden=(8,), output_activation=None), x, epochs=1, batch_size=50, lr=1e-3,
            progress=False, device="cpu")
    assert all(math.isfinite(v) for v in h.train_loss)


@pytest.mark.parametrize("model, match", [
    (None, "model must be a torch.nn.Module, got NoneType"),
    (torch.nn.Identity(), "model must have parameters.*Identity has none"),
    (torch.nn.Linear(784, 10), r"model output must have the shape of its target \((50|200), 784\).*got \((50|200), 10\)"),
])
@pytest.mark.parametrize("call", [
    lambda m, x: fit(m, x, epochs=1, batch_size=50, lr=1e-3, progress=False, device="cpu"),
    lambda m, x: reconstruct(m, x),
    lambda m, x: mse(m, x),
])
def test_bad_models_get_one_clear_error(call, model, match):
    with pytest.raises(ValueError, match=match):
        call(model, _x())


@pytest.mark.parametrize("kwargs, match", [
    (dict(seed=-1), r"seed must be an integer in 0\.\.2\*\*32 - 1, got -1"),
    (dict(seed=0.5), "seed must be an integer"),
    (dict(seed="1"), "seed must be an integer"),
    (dict(noise={"kind": "masking"}), r"lacks \['level'\]"),
    (dict(noise={"kind": "masking", "level": 0.2, "sigma": 1}), r"unknown keys \['sigma'\]"),
    (dict(amp="no"), "amp must be True or False, got 'no'"),
    (dict(time_budget=float("inf")), "time_budget must be a positive finite number"),
    (dict(x_test=_x(5) * float("nan")), "x_test contains NaN"),
])
def test_bad_fit_arguments_are_rejected_before_training(kwargs, match):
    args = dict(epochs=1, batch_size=50, lr=1e-3, progress=False, device="cpu")
    with pytest.raises(ValueError, match=match):
        fit(autoencoder(4, hidden=(8,)), _x(), **{**args, **kwargs})


# --- denormal floats: flushed while training and evaluating, on every thread, then restored ----------

def _flushed_share() -> float:
    """Share of a 4M-element product of normal floats whose denormal results came out as zero: the
    work is split over torch's threads, so 1.0 means every thread flushes, 0.5 with two threads
    that only the calling one does."""
    return float((torch.full((1 << 22,), 1e-30) * 1e-9).eq(0).float().mean())


@pytest.mark.parametrize("before", [False, True])
def test_fit_flushes_denormals_on_every_thread_and_restores_the_setting(before):
    from course_utils.device import flushes_denormals

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []

    def loss(out, target):
        seen.append((flushes_denormals(), _flushed_share()))
        return torch.nn.functional.mse_loss(out, target)

    try:
        torch.set_flush_denormal(before)
        share_before = _flushed_share()
        fit(linear_autoencoder(2), torch.rand(20, 784), epochs=1, batch_size=10, lr=1e-3, loss=loss,
            progress=False, device="cpu")
        assert seen == [(True, 1.0)] * 2  # every thread flushed during training
        assert flushes_denormals() == before and _flushed_share() == share_before  # as it was
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)


def test_the_setting_is_restored_after_an_error_and_the_epoch_evaluation_flushes_too():
    from course_utils.device import flush_denormals, flushes_denormals

    def loss(out, target):
        raise RuntimeError("a loss that fails at the first step")

    torch.set_flush_denormal(False)
    with pytest.raises(RuntimeError, match="fails at the first step"):
        fit(linear_autoencoder(2), torch.rand(20, 784), epochs=1, batch_size=10, lr=1e-3, loss=loss,
            progress=False, device="cpu")
    assert not flushes_denormals()

    class Probe(torch.nn.Module):  # records whether the test-set evaluation inside fit runs flushed
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))
            self.flags = []

        def forward(self, x):
            self.flags.append((self.training, flushes_denormals()))
            return x * self.w

    p = Probe()
    fit(p, torch.rand(10, 784), x_test=torch.rand(4, 784), epochs=1, batch_size=10, lr=1e-3, progress=False,
        device="cpu")
    # the training step, then the test-set evaluation: one image first (memory.heap_batch_size
    # measures the layer outputs to size the batches), then the batch; all flushed
    assert p.flags == [(True, True), (False, True), (False, True)] and not flushes_denormals()
    with flush_denormals(False):  # off on purpose: off inside, and back on after
        torch.set_flush_denormal(True)
        assert flushes_denormals()
    assert not flushes_denormals()
    with pytest.raises(ValueError, match="enabled must be True or False"):
        flush_denormals("yes")


# --- mixed precision: only where supported and asked for (pure choice logic, tested on the CPU) -------

@pytest.mark.parametrize("device_type, capability, bf16, requested, dtype, scaler", [
    ("cuda", (9, 0), True, False, None, False),             # H200, default: fp32 (measured faster)
    ("cuda", (9, 0), True, True, torch.bfloat16, False),    # H200, asked: bf16
    ("cuda", (8, 0), True, True, torch.bfloat16, False),    # A100
    ("cuda", (8, 6), False, True, torch.float16, True),     # an Ampere whose torch reports no bf16
    ("cuda", (7, 5), False, True, torch.float16, True),     # T4 (Colab): fp16 + gradient scaler
    ("cuda", (7, 0), False, True, torch.float16, True),     # V100
    ("cuda", (6, 1), False, True, None, False),             # Pascal: no tensor cores, fp32
    ("cpu", None, False, True, None, False),
    ("mps", None, False, True, None, False),
])
def test_choose_autocast(device_type, capability, bf16, requested, dtype, scaler):
    from course_utils.training import choose_autocast

    got_dtype, got_scaler, why = choose_autocast(device_type, capability, bf16, requested)
    assert (got_dtype, got_scaler) == (dtype, scaler) and why
    assert why.startswith({None: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype])


@pytest.mark.parametrize("args, match", [
    (("tpu", None, False, True), "device_type must be"),
    (("cuda", None, True, True), "capability is needed"),
    (("cuda", (7,), True, True), "capability must be"),
    (("cuda", (7, 5), "yes", True), "must be True or False"),
])
def test_choose_autocast_rejects_bad_arguments(args, match):
    from course_utils.training import choose_autocast

    with pytest.raises(ValueError, match=match):
        choose_autocast(*args)


def test_amp_on_the_cpu_trains_in_fp32_exactly_as_without(mnist_small):
    x, _, _, _ = mnist_small
    runs = []
    for amp in (False, True):
        torch.manual_seed(0)
        m = autoencoder(8, hidden=(32,))
        h = fit(m, x[:400], epochs=1, batch_size=100, lr=1e-3, amp=amp, progress=False, device="cpu")
        runs.append((h.train_loss, [p.detach().clone() for p in m.parameters()]))
    assert runs[0][0] == runs[1][0] and all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


# --- the hand-written backward pass of plain MLPs (training._MLPStep) -----------------------------

def _plain_mlps():
    from torch import nn

    from course_utils.models import Autoencoder
    yield nn.Sequential(nn.Linear(20, 16), nn.Sigmoid(), nn.Linear(16, 8), nn.Sigmoid(), nn.Linear(8, 20), nn.Sigmoid())
    yield Autoencoder([20, 16, 4], hidden_activation="relu")
    yield Autoencoder([20, 16, 4], hidden_activation="gelu", code_activation="tanh")
    yield Autoencoder([20, 16, 8], hidden_activation="sigmoid", code_activation="sigmoid", init="normal")
    # two activations after one layer (the first one's output must survive the second), identity
    yield nn.Sequential(nn.Linear(20, 16), nn.Sigmoid(), nn.Tanh(), nn.Identity(), nn.Linear(16, 20), nn.ReLU(), nn.Sigmoid())
    yield nn.Sequential(nn.Linear(20, 16), nn.GELU(approximate="tanh"), nn.Linear(16, 20), nn.Sigmoid())


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("index", range(6))
def test_the_hand_written_step_trains_exactly_as_autograd(monkeypatch, loss, index):
    """fit's CPU fast path gives the same weights, gradients and history as autograd, bit for bit
    (the same kernels in the same order), so cached models do not change with it."""
    import copy

    from course_utils import training
    torch.manual_seed(index)
    model = list(_plain_mlps())[index]
    x = torch.rand(700, 20)
    assert training._plain_layers(model) is not None
    runs = []
    for by_hand in (False, True):
        monkeypatch.setattr(training, "BY_HAND", by_hand)
        m = copy.deepcopy(model)
        h = fit(m, x, epochs=3, batch_size=64, lr=0.01, noise=0.2, progress=False, loss=loss, x_test=x[:100])
        runs.append((m, h))
    (a, ha), (b, hb) = runs
    assert ha.train_loss == hb.train_loss and ha.test_mse == hb.test_mse
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q) and torch.equal(p.grad, q.grad)
        assert q.grad.stride() == q.stride()           # written in the weight's own layout


def test_the_hand_written_step_is_what_fit_runs_for_plain_mlps_on_the_cpu(monkeypatch):
    """With the fast path on, fit never calls autograd's backward for a plain MLP; off, it does."""
    from course_utils import training
    calls = []
    real = torch.Tensor.backward
    monkeypatch.setattr(torch.Tensor, "backward", lambda self, *a, **k: (calls.append(1), real(self, *a, **k))[1])
    x = torch.rand(300, 20)
    fit(autoencoder(4, hidden=(16,), input_dim=20), x, epochs=1, batch_size=100, lr=0.01, progress=False)
    assert calls == []
    monkeypatch.setattr(training, "BY_HAND", False)
    fit(autoencoder(4, hidden=(16,), input_dim=20), x, epochs=1, batch_size=100, lr=0.01, progress=False)
    assert len(calls) == 3


def test_models_autograd_must_train_are_not_taken_by_hand():
    """Anything but a plain float32 MLP of Linear layers and the known activations, with every
    parameter trained and no hooks, goes to autograd, as does an objective or a loss function."""
    from torch import nn

    from course_utils import training
    from course_utils.models import ConvAutoencoder, TiedAutoencoder
    dev = torch.device("cpu")
    plain = lambda: nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 20))  # noqa: E731
    assert training._by_hand(plain(), "mse", None, None, dev) is not None
    frozen = plain()
    frozen[0].weight.requires_grad_(False)
    hooked = plain()
    hooked[1].register_forward_hook(lambda *a: None)
    grad_hooked = plain()
    grad_hooked[0].bias.register_hook(lambda g: g * 0)
    leaky = nn.Sequential(nn.Linear(20, 8), nn.LeakyReLU(), nn.Linear(8, 20))
    no_bias = nn.Sequential(nn.Linear(20, 8, bias=False), nn.ReLU(), nn.Linear(8, 20))
    class Mine(nn.Sequential):  # a subclass may change forward
        pass
    for model in (TiedAutoencoder([20, 8]), ConvAutoencoder(4), frozen, hooked, grad_hooked, leaky, no_bias,
                  plain().double(), Mine(*plain()), nn.Sequential(nn.ReLU(), nn.Linear(20, 20))):
        assert training._plain_layers(model) is None, model
    assert training._by_hand(plain(), torch.nn.functional.l1_loss, None, None, dev) is None
    assert training._by_hand(plain(), "mse", lambda m, x, t: m(x).sum(), None, dev) is None
    assert training._by_hand(plain(), "mse", None, torch.bfloat16, dev) is None
