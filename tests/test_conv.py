"""Notebook 10's plumbing: the convolutional autoencoder, its recipes, the shift, the exercises' checks."""
from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from course_utils import checkpoints, compression, data, exercises, models, plotting, recipes, training
from course_utils.recipes import ConvRecipe

matplotlib.use("Agg")


def conv_recipes() -> list[ConvRecipe]:
    return [*(recipes.conv(k) for k in recipes.CONV_SIZES), recipes.conv(32, "transposed"), recipes.conv_dae(),
            *(recipes.conv_quantized(b) for b in recipes.CONV_BITS)]


@pytest.mark.parametrize("upsample", models.UPSAMPLINGS)
def test_rows_in_rows_out_and_the_parameter_count(upsample):
    m = models.ConvAutoencoder(32, (16, 32), upsample=upsample).eval()
    x = torch.rand(5, 784)
    z = m.encode(x)
    assert z.shape == (5, 32) and m.decode(z).shape == (5, 784) and m(x).shape == (5, 784)
    conv = lambda i, o: o * (i * 9 + 1)  # noqa: E731
    expected = conv(1, 16) + conv(16, 32) + 1568 * 32 + 32 + 32 * 1568 + 1568 + conv(32, 16) + conv(16, 1)
    assert models.count_parameters(m) == expected  # transposed 3x3 and resize-conv 3x3 have the same count
    feats = m.encoder[:5](x)
    assert feats.shape == (5, 32, 7, 7)  # 28 -> 14 -> 7


def test_the_two_decoders_differ_only_in_how_they_upsample():
    r, t = models.ConvAutoencoder(8, upsample="resize"), models.ConvAutoencoder(8, upsample="transposed")
    kinds = lambda m: [type(x).__name__ for x in m.decoder]  # noqa: E731
    assert kinds(r).count("Upsample") == 2 and "ConvTranspose2d" not in kinds(r)
    assert kinds(t).count("ConvTranspose2d") == 2 and "Upsample" not in kinds(t)
    assert r.encoder.state_dict().keys() == t.encoder.state_dict().keys()


def test_transposed_stride_two_makes_a_checkerboard_and_resize_does_not():
    """Odena et al. 2016: constant input, constant weights -> uneven overlap for k=3, s=2."""
    t = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1, bias=False)
    nn.init.ones_(t.weight)
    out = t(torch.ones(1, 1, 7, 7))[0, 0, 2:-2, 2:-2]
    assert set(out.unique().tolist()) == {1.0, 2.0, 4.0}
    c = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    nn.init.ones_(c.weight)
    out = c(nn.Upsample(scale_factor=2)(torch.ones(1, 1, 7, 7)))[0, 0, 2:-2, 2:-2]
    assert out.unique().tolist() == [9.0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(latent_dim=0), "latent_dim"), (dict(latent_dim=8, channels=(16,)), "channels"),
    (dict(latent_dim=8, channels=(16, 0)), "channels"), (dict(latent_dim=8, channels="ab"), "channels"),
    (dict(latent_dim=8, upsample="bilinear"), "upsample"), (dict(latent_dim=8, init="xavier"), "init"),
    (dict(latent_dim=8, hidden_activation="swish"), "activation"),
])
def test_bad_architectures_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.ConvAutoencoder(**kwargs)


def test_bad_images_are_refused_with_a_hint():
    m = models.ConvAutoencoder(4).eval()
    with pytest.raises(ValueError, match="flatten"):
        m(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="255"):
        m(torch.rand(2, 784) * 255)
    with pytest.raises(ValueError, match="floating-point"):
        m(torch.ones(2, 784, dtype=torch.uint8))
    with pytest.raises(ValueError, match="code"):
        m.decode(torch.rand(2, 5))


def test_fit_trains_it_unchanged_and_it_learns(mnist_small):
    x = mnist_small[0][:512]
    torch.manual_seed(0)
    m = models.ConvAutoencoder(16, (8, 16))
    before = training.mse(m, x)
    h = training.fit(m, x, epochs=2, batch_size=64, lr=2e-3, progress=False, device="cpu")
    assert len(h.train_loss) == 2 and training.mse(m, x) < 0.7 * before


def test_kaiming_init_zeroes_biases_and_default_is_pytorchs():
    torch.manual_seed(0)
    a = models.ConvAutoencoder(8)
    torch.manual_seed(0)
    b = models.ConvAutoencoder(8, init="kaiming")
    assert all(float(m.bias.detach().abs().max()) == 0 for m in b.modules() if isinstance(m, nn.Conv2d))
    torch.manual_seed(0)
    ref = nn.Conv2d(1, 16, 3, stride=2, padding=1)  # the first layer PyTorch would make
    assert torch.equal(a.encoder[1].weight, ref.weight)


def test_quantized_conv_autoencoder_speaks_notebook_07s_symbols():
    q = compression.QuantizedConvAutoencoder(6, 3, (4, 8)).eval()
    x = torch.rand(10, 784)
    s = q.symbols(x)
    assert s.shape == (10, 6) and s.max() <= 7 and s.dtype == np.uint16
    assert q.decode_symbols(s).shape == (10, 784)
    assert torch.allclose(q(x), q.decode_symbols(s), atol=1e-5)  # forward = decode(quantize(code))
    # decoded a few codes at a time (bounded memory): the same images, and bad batch sizes refused
    assert torch.allclose(q.decode_symbols(s, batch_size=3), q.decode_symbols(s), atol=1e-6)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            q.decode_symbols(s, batch_size=bad)


def test_conv_recipes_build_the_models_they_name_and_have_distinct_keys():
    rs = conv_recipes()
    assert len({r.name for r in rs}) == len(rs)
    assert len({checkpoints.cache_key(r.name, r.key()) for r in rs}) == len(rs)
    for r in rs:
        m = r.build()
        inner = m.ae if isinstance(m, compression.QuantizedConvAutoencoder) else m
        assert isinstance(inner, models.ConvAutoencoder) and inner.latent_dim == r.sizes[-1]
        assert inner.upsample == r.upsample and inner.channels == r.channels
    assert set(recipes.CONV_SIZES) <= set(recipes.LATENT_SIZES)   # beside notebook 04's family
    assert set(recipes.CONV_BITS) <= set(recipes.COMPRESSION_BITS)  # beside notebook 07's points
    assert recipes.conv_dae().sizes[-1] == recipes.dae(recipes.DAE_FIXED).sizes[-1]  # 06's code size


def test_conv_recipe_keys_hold_channels_and_upsample():
    base = recipes.conv(16)
    assert base.key()["channels"] == [16, 32] and base.key()["upsample"] == "resize"
    key = checkpoints.cache_key("r", base.key())
    for change in (dict(channels=(8, 16)), dict(upsample="transposed")):
        assert checkpoints.cache_key("r", base.replace(**change).key()) != key
    fields = {f.name for f in dataclasses.fields(ConvRecipe)}
    assert fields == {f.name for f in dataclasses.fields(recipes.Recipe)} | {"channels", "upsample"}


def test_build_relies_on_no_default_of_the_conv_model(monkeypatch):
    before = {r.name: r.build().state_dict() for r in conv_recipes()}
    bad = "not-a-default"
    init = models.ConvAutoencoder.__init__
    monkeypatch.setattr(init, "__defaults__", tuple(bad for _ in init.__defaults__))
    q = compression.QuantizedConvAutoencoder.__init__
    monkeypatch.setattr(q, "__defaults__", tuple(bad for _ in q.__defaults__))
    monkeypatch.setattr(q, "__kwdefaults__", {k: bad for k in q.__kwdefaults__})
    with pytest.raises(ValueError):
        models.ConvAutoencoder(8)
    for r in conv_recipes():
        after = r.build().state_dict()
        assert after.keys() == before[r.name].keys() and all(torch.equal(after[k], before[r.name][k]) for k in after)


@pytest.mark.parametrize("changes, match", [
    (dict(channels=(16,)), "channels"), (dict(channels=(16, 2000)), "channels"), (dict(upsample="pixelshuffle"), "upsample"),
    (dict(sizes=(784, 256, 32)), r"\(784, code size\)"), (dict(sizes=(100, 8)), r"\(784, code size\)"),
    (dict(init="xavier"), "init"), (dict(data="swiss_roll"), "data"),
])
def test_bad_conv_recipes_are_refused(changes, match):
    with pytest.raises(ValueError, match=match):
        recipes.conv(16).replace(**changes)


def test_family_constructors_refuse_values_outside_their_family():
    for call, match in ((lambda: recipes.conv(5), "code size"), (lambda: recipes.conv(16, "bicubic"), "upsample"),
                        (lambda: recipes.conv_quantized(3 if 3 not in recipes.CONV_BITS else 7), "bits")):
        with pytest.raises(ValueError, match=match):
            call()


def test_shift_images_moves_whole_pixels_and_fills_the_background():
    x = torch.zeros(2, 784)
    x[0, 28 * 10 + 10] = 1.0
    x[1, 0] = 0.5
    y = data.shift_images(x, 3, -2).reshape(2, 28, 28)
    assert float(y[0, 8, 13]) == 1.0 and float(y[0].sum()) == 1.0
    assert float(y[1].sum()) == 0.0  # the corner pixel moved out
    assert torch.equal(data.shift_images(x, 0, 0), x)
    assert data.shift_images(x[:1], 27, 0).sum() == 0 and data.shift_images(x[1:], 0, -1).sum() == 0


@pytest.mark.parametrize("args, match", [
    ((torch.rand(2, 784), 1.5, 0), "dx"), ((torch.rand(2, 784), 0, 28), "dy"), ((torch.rand(2, 784), True, 0), "dx"),
    ((torch.rand(2, 1, 28, 28), 1, 0), "784"), ((torch.rand(2, 784) * 255, 1, 0), "255"),
])
def test_shift_images_refuses_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        data.shift_images(*args)


# --- the exercises' checks -------------------------------------------------------------------------

def _transposed(n, k, s, p, op):
    return (n - 1) * s - 2 * p + k + op


def test_transposed_size_reference_is_pytorchs():
    for n, k, s, p, op in [(6, 2, 2, 0, 0), (1, 3, 2, 0, 0), (4, 3, 3, 0, 2), (7, 3, 2, 1, 1), (14, 3, 2, 1, 1),
                           (5, 4, 2, 1, 0), (3, 5, 1, 2, 0)]:
        real = nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op)(torch.zeros(1, 1, n, n)).shape[-1]
        assert _transposed(n, k, s, p, op) == real


def test_transposed_size_check_accepts_the_answer(capsys):
    assert exercises.check_transposed_output_size(_transposed)
    assert exercises.check_transposed_output_size(lambda n, k, s, p, op: float(_transposed(n, k, s, p, op)))


@pytest.mark.parametrize("wrong, says", [
    (lambda n, k, s, p, op: (n + 2 * p - k) // s + 1, "ordinary convolution"),
    (lambda n, k, s, p, op: n * s - 2 * p + k + op, "(n − 1)·s"),
    (lambda n, k, s, p, op: (n - 1) * s - 2 * p + k, "output_padding"),
    (lambda n, k, s, p, op: (n - 1) * s + 2 * p + k + op, "cut off the output"),
    (lambda n, k, s, p, op: (n - 1) * s - p + k + op, "both"),
    (lambda n, k, s, p, op: _transposed(n, k, s, p, op) + 1, "off by one"),
    (lambda n, k, s, p, op: _transposed(n, k, s, p, op) - 1, "off by one"),
    (lambda n, k, s, p, op: n * s, "not yet"),
    (lambda n, k, s, p, op: "14", "not yet"),
])
def test_transposed_size_check_rejects_realistic_mistakes_without_the_answer(wrong, says, capsys):
    assert not exercises.check_transposed_output_size(wrong)
    out = capsys.readouterr().out
    assert says in out
    for expected in ("12", "28"):  # never the expected sizes of the first cases
        assert expected not in out


def test_transposed_size_check_says_not_attempted(capsys):
    def stub(n, k, s, p, op):
        ...
    assert not exercises.check_transposed_output_size(stub)
    assert not exercises.check_transposed_output_size(None)
    assert capsys.readouterr().out.count("not attempted") == 2


def _params(c_in, c_out, k, bias):
    return c_out * c_in * k * k + (c_out if bias else 0)


def test_conv_params_reference_is_pytorchs(capsys):
    for c_in, c_out, k, bias in [(1, 16, 3, True), (16, 32, 3, True), (32, 16, 3, False), (3, 8, 5, True), (4, 4, 1, True)]:
        assert _params(c_in, c_out, k, bias) == sum(p.numel() for p in nn.Conv2d(c_in, c_out, k, bias=bias).parameters())
    assert exercises.check_conv_params(_params)


@pytest.mark.parametrize("wrong, says", [
    (lambda i, o, k, b: o * i * k * k, "bias is missing"),
    (lambda i, o, k, b: o * k * k + (o if b else 0), "in_channels is forgotten"),
    (lambda i, o, k, b: o * i * k * k + o, "bias=False"),
    (lambda i, o, k, b: o * i * k * k + (i if b else 0), "per *input* channel"),
    (lambda i, o, k, b: o * i * k + (o if b else 0), "not k"),
    (lambda i, o, k, b: 2 * o * i * k * k if b else o * i * k * k, "one bias per weight"),
    (lambda i, o, k, b: i + o + k, "not yet"),
])
def test_conv_params_check_rejects_realistic_mistakes(wrong, says, capsys):
    assert not exercises.check_conv_params(wrong)
    out = capsys.readouterr().out
    assert says in out and "160" not in out and "4640" not in out


# --- figures ---------------------------------------------------------------------------------------

def test_panels_curve_and_filters_draw_and_refuse_bad_input():
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    plotting.draw_panels(a, {"x": torch.rand(784), "y": torch.rand(1, 784)})
    assert [t.get_text() for t in a.get_xticklabels()] == ["x", "y"]
    plotting.draw_shift_curve(b, [-1, 0, 1], {"a": ([0.1, 0.05, 0.1], "o-")}, mark=0)
    assert b.get_xlabel() == "shift (pixels)"
    for call in (lambda: plotting.draw_panels(a, {}), lambda: plotting.draw_panels(a, {"x": torch.rand(2, 784)}),
                 lambda: plotting.draw_shift_curve(b, [0, 1], {"a": ([0.1],)}, mark=0),
                 lambda: plotting.draw_shift_curve(b, [0, 1], {"a": ([0.1, 0.2],)}, mark=float("nan")),
                 lambda: plotting.show_filters(torch.rand(4, 2, 3, 3)),
                 lambda: plotting.show_filters(torch.full((2, 3, 3), float("nan")))):
        with pytest.raises(ValueError):
            call()
    f = plotting.show_filters(torch.randn(16, 1, 3, 3), title="t")
    assert len([ax for ax in f.axes if ax.images]) == 16
    plt.close("all")
