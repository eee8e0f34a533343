import pytest
import torch

from course_utils.models import (Autoencoder, autoencoder, count_parameters, linear_autoencoder,
                                 seminar_dae)


def test_seminar_dae_is_exactly_the_seminar_network():
    torch.manual_seed(0)
    m = seminar_dae()
    assert count_parameters(m) == 1_067_024
    linears = [l for l in m.modules() if isinstance(l, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(784, 512), (512, 256), (256, 512), (512, 784)]
    acts = [type(l).__name__ for l in m.modules() if not isinstance(l, (torch.nn.Linear, torch.nn.Sequential, Autoencoder))]
    assert acts == ["Sigmoid"] * 4  # sigmoid after every layer, the code included
    w = torch.cat([p.detach().flatten() for p in m.parameters()])
    assert abs(float(w.mean())) < 0.01 and abs(float(w.std()) - 1.0) < 0.01  # N(0,1) weights and biases
    b = linears[0].bias.detach()
    assert float(b.std()) > 0.8  # biases drawn from N(0,1) too, not zero


def test_modern_switch_keeps_shape_changes_init_and_activations():
    m = seminar_dae(modern=True)
    assert count_parameters(m) == 1_067_024
    assert any(isinstance(l, torch.nn.ReLU) for l in m.modules())
    assert float(m.encoder[0].weight.detach().std()) < 0.1


def test_shapes_encode_decode_forward():
    m = autoencoder(8, hidden=(64, 32))
    x = torch.rand(5, 784)
    z = m.encode(x)
    assert z.shape == (5, 8) and m.decode(z).shape == (5, 784) and m(x).shape == (5, 784)
    assert m.latent_dim == 8 and m.input_dim == 784
    out = m(x).detach()
    assert float(out.min()) >= 0 and float(out.max()) <= 1  # sigmoid output


def test_linear_autoencoder_is_linear():
    m = linear_autoencoder(16)
    assert count_parameters(m) == 784 * 16 + 16 + 16 * 784 + 784
    x, y = torch.rand(3, 784), torch.rand(3, 784)
    zero = m(torch.zeros(1, 784))
    # affine: f(x + y) - f(0) = (f(x) - f(0)) + (f(y) - f(0))
    assert torch.allclose(m(x + y) - zero, (m(x) - zero) + (m(y) - zero), atol=1e-5)


def test_custom_decoder_sizes():
    m = Autoencoder((784, 100, 10), decoder_sizes=(10, 784))
    assert m(torch.rand(2, 784)).shape == (2, 784)
    with pytest.raises(ValueError, match="decoder sizes must go from the code size 10"):
        Autoencoder((784, 10), decoder_sizes=(20, 784))


@pytest.mark.parametrize("make, match", [
    (lambda: autoencoder(0), "latent_dim must be a positive integer"),
    (lambda: linear_autoencoder(-3), "latent_dim must be a positive integer"),
    (lambda: Autoencoder((784, 0)), "positive integers"),
    (lambda: Autoencoder((784,)), "at least two layer sizes"),
    (lambda: Autoencoder((784, 32), hidden_activation="swishy"), "unknown activation 'swishy'"),
    (lambda: Autoencoder((784, 32), init="orthogonalish"), "unknown init"),
])
def test_bad_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_wrong_input_shape_is_a_clear_error():
    m = autoencoder(4, hidden=(16,))
    with pytest.raises(ValueError, match=r"shape \(N, 784\), N >= 1, got \(3, 28, 28\)"):
        m(torch.rand(3, 28, 28))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        m.decode(torch.rand(3, 5))
