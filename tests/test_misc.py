import os
import sys
import matplotlib
import numpy as np
import pytest
import torch

from course_utils import config
from course_utils.device import describe_runtime, pick_device
from course_utils.exercises import check_function, check_value
from course_utils.plotting import plot_latent, plot_losses, row_names, show_images, show_rows


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


def test_unknown_size_is_rejected():
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
    assert row_names(figs[1].axes[0]) == ["Origin", "Input X", "Output Y"]
    assert figs[1].axes[0].images[0].get_array().shape == (3 * 28 + 2 * 4, 5 * 28 + 4 * 2)
    with pytest.raises(ValueError, match="not square"):
        show_images(torch.rand(2, 10))
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match=r"n must be a positive integer \(images per row\)"):
            show_rows({"Origin": x[:5]}, n=bad)
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


def test_heap_growth_limit_is_applied_by_training_not_by_import_and_can_be_turned_off():
    import subprocess
    import sys as _sys

    from course_utils.memory import limit_heap_growth

    probe = ("import course_utils.memory as m, course_utils\n"
             "print(m.tune_heap.cache_info().currsize)\n"          # importing applied nothing
             "import torch; from course_utils import models, training\n"
             "training.fit(models.linear_autoencoder(2), torch.rand(8, 784), epochs=1, batch_size=8, lr=1e-3,"
             " progress=False, device='cpu')\n"
             "print(m.tune_heap())")
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_THRESHOLD_", "COURSE_MALLOC_TUNING")}
    on = subprocess.run([_sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    off = subprocess.run([_sys.executable, "-c", probe], env={**env, "COURSE_MALLOC_TUNING": "0"},
                         capture_output=True, text=True, check=True)
    assert on.stdout.split() == ["0", str(_sys.platform.startswith("linux"))]
    assert off.stdout.split() == ["0", "False"]
    for bad in (0, -5, 2 ** 31, 1.5, True):
        with pytest.raises(ValueError, match="threshold must be a number of bytes"):
            limit_heap_growth(bad)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_heap_growth_limit_keeps_freed_step_sized_memory_instead_of_faulting_it_back():
    """A training step frees and reallocates a few MB (gradients, activations): with the mmap
    threshold fixed, glibc must also keep that much free memory on the heap rather than give it
    back and page-fault it in again each step (its trim threshold is raised with it)."""
    import subprocess
    import sys as _sys

    probe = ("import ctypes, course_utils.memory\n"
             "course_utils.memory.tune_heap()\n"
             "class Info(ctypes.Structure):\n"
             "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd',\n"
             "                'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]\n"
             "libc = ctypes.CDLL('libc.so.6')\n"
             "if not hasattr(libc, 'mallinfo2'): print(-1); raise SystemExit\n"
             "libc.mallinfo2.restype = Info; libc.malloc.restype = ctypes.c_void_p\n"
             "libc.free.argtypes = [ctypes.c_void_p]\n"
             "libc.free(libc.malloc(4 << 20))  # 4 MB: on the heap, under the 8 MB mmap threshold\n"
             "print(libc.mallinfo2().keepcost)")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "COURSE_MALLOC_TUNING")}
    kept = int(subprocess.run([_sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                              check=True).stdout)
    if kept < 0:
        pytest.skip("glibc without mallinfo2 (< 2.33)")
    assert kept >= 4 << 20  # the freed 4 MB stays for the next step (trimmed back to ~130 kB without)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_release_free_heap_returns_freed_blocks_in_the_middle_of_the_heap():
    """Blocks freed below a block still in use stay resident (glibc trims only the heap's top);
    release_free_heap gives their pages back: noisy-test-sized tensors (3 MB, on the heap under the
    8 MB threshold) each followed by a small kept one, as notebook 06's noise sweep leaves them."""
    import subprocess
    import sys as _sys

    probe = ("import torch, course_utils.memory as m\n"
             "m.tune_heap()\n"
             "rss = lambda: int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) // 1024\n"
             "big, kept = [], []\n"
             "for i in range(60):\n"
             "    big.append(torch.ones(1000, 784)); kept.append(torch.ones(8, 784))\n"
             "del big\n"
             "before = rss(); ran = m.release_free_heap(); print(ran, before, rss())")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "COURSE_MALLOC_TUNING")}
    ran, before, after = subprocess.run([_sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                                        check=True).stdout.split()
    assert ran == "True"
    assert int(before) - int(after) > 120  # of the 188 MB freed, most was resident until the release
    off = subprocess.run([_sys.executable, "-c", "import course_utils.memory as m; print(m.release_free_heap())"],
                         env={**env, "COURSE_MALLOC_TUNING": "0"}, capture_output=True, text=True, check=True)
    assert off.stdout.strip() == "False"


@pytest.mark.parametrize("answer", [torch.tensor(0.3, requires_grad=True), torch.tensor([0.3]).requires_grad_()[0],
                                    torch.tensor(0.3, dtype=torch.bfloat16), np.float32(0.3), np.float64(0.3)])
def test_check_value_accepts_tensors_with_grad_and_numpy_scalars(answer, capsys):
    assert check_value("x", answer, 0.3, rtol=1e-2) is True
    assert "correct" in capsys.readouterr().out


def test_check_value_and_check_function_never_raise(capsys):
    assert check_value("n", np.int64(8), 8) is True
    assert check_value("n", 8, np.int64(8)) is True
    assert check_value("x", 0.3, torch.tensor(0.3, requires_grad=True)) is True
    assert check_value("x", torch.ones(2, requires_grad=True), 0.3) is False
    assert check_value("x", object(), 0.3) is False
    assert check_value("x", 0.3, object()) is False
    assert "bug in the check" in capsys.readouterr().out
    assert check_function("f", lambda x: x, lambda x: 1 / 0, [(1,)]) is False
    assert "reference raised (ZeroDivisionError" in capsys.readouterr().out
    assert check_function("f", lambda x: torch.ones(2, requires_grad=True) * x, lambda x: np.ones(2) * x, [(2.0,)])
    assert check_function("f", lambda x: "text", lambda x: x, [(1.0,)]) is False


def test_check_feedback_says_how_far_without_revealing_the_expected_value(capsys):
    assert not check_value("error", 0.0293861, 0.0378652)
    assert not check_value("error", 0.05, 0.0378652)
    assert not check_value("error", -0.03, 0.0378652)
    assert check_value("error", 0.0378652, 0.0378652)
    out = capsys.readouterr().out
    assert "0.0378" not in out and "0.03787" not in out          # never the expected value
    assert "too small by 22%" in out and "too large by 32%" in out and "wrong sign" in out
    assert not check_value("vector", np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0]))
    assert "1 of 3 entries differ" in capsys.readouterr().out


def test_loss_plot_names_only_the_curves_it_draws():
    import matplotlib.pyplot as plt

    fig = plot_losses({"seminar": {"test_mse": [0.1, 0.09]}, "fixed": {"train_loss": [0.2], "test_mse": [0.05]}})
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["seminar (test)", "fixed (train)", "fixed (test)"] and len(fig.axes[0].lines) == 3
    plt.close(fig)
# --- issue 21: clear errors, and sizes that would exhaust a kernel are refused ---------------------

def test_runtime_info_rejects_an_unknown_device():
    from course_utils.device import runtime_info
    with pytest.raises(ValueError, match=r"unknown device 'x'; expected one of"):
        runtime_info(device="x")
    with pytest.raises(ValueError, match="device must be a device name"):
        runtime_info(device=5)
    assert runtime_info(device="cpu")["device"] == "cpu"


@pytest.mark.parametrize("call, match", [
    (lambda: __import__("course_utils.widgets").widgets.distance_histogram(100_000, 3_000),
     r"n_points must be an integer in 3\.\.2000"),
    (lambda: __import__("course_utils.widgets").widgets.distance_histogram(100_000, 1_000),
     r"n_points × dim must be at most 10,000,000"),
    (lambda: __import__("course_utils.manifolds").manifolds.swiss_roll(10**8), r"n must be an integer from 20 to 100000"),
    (lambda: __import__("course_utils.plotting").plotting.mosaic(torch.rand(3, 784), gap=10**7),
     r"gap must be an integer from 0 to 100 pixels"),
    (lambda: __import__("course_utils.pca").pca.principal_axes(torch.rand(10, 30_000)),
     r"at most D = 4096 \(its \(D, D\) float64 covariance would need 6\.7 GiB\)"),
])
def test_sizes_that_would_exhaust_memory_are_refused_with_the_bound(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_size_bounds_still_allow_what_the_course_uses():
    from course_utils import manifolds, pca, plotting, widgets
    assert widgets.distance_histogram(10_000, 400)[1]["dim"] == 10_000  # the slider's largest setting
    assert manifolds.swiss_roll(1_500)[0].shape == (1_500, 3)
    assert plotting.mosaic(torch.rand(3, 784), gap=4).shape == (28, 3 * 28 + 2 * 4)
    assert pca.principal_axes(torch.rand(50, 784), 3)[1].shape == (784, 3)


def test_heap_batch_size_keeps_each_layer_output_below_half_the_mmap_threshold():
    from course_utils.memory import MMAP_THRESHOLD, heap_batch_size

    conv = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 28, 28)), torch.nn.Conv2d(1, 16, 3, padding=1),
                               torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(16 * 784, 784))
    x = torch.rand(1, 784)
    per_image = 16 * 784 * 4                                # the conv layer's output, float32
    assert heap_batch_size(conv, x, 2000) == (MMAP_THRESHOLD // 2) // per_image
    assert heap_batch_size(conv, x, 10) == 10               # never more than asked
    fc = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 784))
    assert heap_batch_size(fc, x, 2000) == min(2000, (MMAP_THRESHOLD // 2) // (784 * 4))
    assert heap_batch_size(lambda t: t * 2, x, 500) == 500  # no module inside: nothing measured
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            heap_batch_size(fc, x, bad)
    # the batches it picks give the same reconstructions as one big batch
    from course_utils import training
    xs = torch.rand(300, 784)
    with torch.no_grad():
        assert torch.allclose(training.reconstruct(conv, xs), conv(xs), atol=1e-5)
