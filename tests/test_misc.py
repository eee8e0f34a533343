import matplotlib
import numpy as np
import pytest
import torch

from course_utils import config
from course_utils.device import describe_runtime, pick_device
from course_utils.exercises import check_function, check_value
from course_utils.plotting import plot_latent, plot_losses, show_images, show_rows


def test_pick_device_defaults_and_overrides(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert pick_device().type == expected
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert pick_device().type == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available here"):
            pick_device("cuda")


def test_describe_runtime_prints_facts(capsys):
    info = describe_runtime(torch.device("cpu"))
    out = capsys.readouterr().out
    assert info["device"] == "cpu" and "torch" in out and info["torch"] == torch.__version__
    assert info["platform"] in ("local", "Colab", "Binder")


def test_sizes_follow_fast_mode():
    full, fast = config.SIZES["mnist_train"]
    assert config.size("mnist_train") == (fast if config.FAST else full)
    assert fast < full
    with pytest.raises(ValueError, match="unknown size 'nope'"):
        config.size("nope")


def test_plots_return_figures():
    x = torch.rand(12, 784)
    figs = [
        show_images(x, ncols=6, labels=list(range(12)), title="t"),
        show_rows({"Origin": x[:5], "Input X": x[:5], "Output Y": x[:5]}, title="rows"),
        plot_latent(np.random.randn(50, 2), np.arange(50) % 10),
        plot_losses({"a": {"train_loss": [1, 0.5], "test_mse": [1.1, 0.6]}, "b": [2, 1]}),
    ]
    for f in figs:
        assert isinstance(f, matplotlib.figure.Figure)
    assert figs[1].axes[0].get_ylabel() == "Origin"
    with pytest.raises(ValueError, match="not square"):
        show_images(torch.rand(2, 10))
    with pytest.raises(ValueError, match=r"codes must be \(N, 2\)"):
        plot_latent(np.zeros((5, 2)), np.zeros(4))


def test_exercise_checks_say_right_and_wrong(capsys):
    assert check_value("x", 784, 784)
    assert not check_value("x", 700, 784, rtol=0)
    assert not check_value("x", ..., 784)
    out = capsys.readouterr().out
    assert "correct" in out and "not yet" in out and "not attempted" in out
    ref = lambda v: v * 2
    assert check_function("double", lambda v: v + v, ref, [(1.0,), (np.arange(3),)])
    assert not check_function("double", lambda v: v, ref, [(1.0,)])
    assert not check_function("double", lambda v: 1 / 0, ref, [(1.0,)])
