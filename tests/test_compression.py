"""Unit tests of course_utils.compression and the notebook-07 exercise checks (no training)."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from course_utils import compression as C
from course_utils import pca as P
from course_utils.exercises import check_function, check_straight_through


def test_quantize_levels_and_straight_through_gradient():
    z = torch.tensor([0.0, 0.1, 0.2, 0.49, 0.51, 0.99, 1.0], requires_grad=True)
    q = C.quantize(z, 1)
    assert q.tolist() == [0, 0, 0, 0, 1, 1, 1]
    (q * torch.arange(7.0)).sum().backward()
    assert torch.equal(z.grad, torch.arange(7.0))  # gradient passes straight through
    q3 = C.quantize(torch.rand(1000), 3).detach()
    assert set(np.round(q3.numpy() * 7, 5)) <= set(range(8))


def test_symbols_roundtrip():
    z = torch.rand(50, 4)
    for b in (1, 2, 8):
        s = C.to_symbols(z, b)
        assert s.dtype == np.uint16 and s.max() <= 2 ** b - 1
        assert torch.allclose(C.from_symbols(s, b), C.quantize(z, b).detach())


def test_quantized_autoencoder_shapes():
    torch.manual_seed(0)
    m = C.QuantizedAutoencoder(8, 3, hidden=(16,))
    x = torch.rand(5, 784)
    s = m.symbols(x)
    assert s.shape == (5, 8) and s.max() <= 7
    assert torch.allclose(m.decode_symbols(s), m(x).detach(), atol=1e-6)


def test_entropy_and_code_length():
    assert C.entropy_bits([1, 1]) == pytest.approx(1.0)
    assert C.entropy_bits([4, 0, 0, 0]) == 0.0
    assert C.entropy_bits([1, 1, 1, 1]) == pytest.approx(2.0)
    rng = np.random.default_rng(0)
    tr = rng.integers(0, 4, size=(5000, 3))
    te = rng.integers(0, 4, size=(2000, 3))
    bits = C.code_length_bits(tr, te, 4)
    assert 3 * 2 - 0.05 < bits < 3 * 2 + 0.05  # uniform symbols: 2 bits each
    skew = np.zeros((1000, 2), dtype=np.int64)   # always symbol 0 -> nearly free
    assert C.code_length_bits(skew, skew, 16) < 0.05
    assert C.lzma_bits(skew) < 8 and C.zlib_bits(skew) < 8   # 2 bytes per image raw, compresses well
    assert C.psnr(0.01) == pytest.approx(20.0)


def test_pca_and_jpeg_baselines():
    rng = np.random.default_rng(0)
    x = rng.random((300, 784)).astype(np.float32)
    out = C.pca_rate_distortion(x[:200], x[200:], [2, 8], [2, 6])
    assert len(out["rate"]) == 4 and np.all(out["rate"] > 0)
    # more components and more bits cost more bits
    assert out["rate"][3] > out["rate"][0]
    # the (k=8, 6 bits) error, recomputed here from its definition
    mu, axes = P.principal_axes(torch.from_numpy(x[:200]), 8)
    w, mean = axes.numpy().T, mu.numpy()
    c_tr, c_te = (x[:200] - mean) @ w.T, (x[200:] - mean) @ w.T
    lo, span = c_tr.min(0), np.maximum(c_tr.max(0) - c_tr.min(0), 1e-8)
    s_te = np.rint(np.clip((c_te - lo) / span, 0, 1) * 63)
    rec = np.clip(mean + (lo + s_te / 63 * span) @ w, 0, 1)
    assert out["mse"][3] == pytest.approx(float(((rec - x[200:]) ** 2).mean()), rel=1e-4)
    jp = C.jpeg_rate_distortion(x[:5], [5, 95], keep=2)
    assert jp["decoded"].shape == (2, 2, 784)
    assert np.all(jp["file_bits"] > jp["payload_bits"]) and jp["file_bits"][1] > jp["file_bits"][0]
    assert jp["mse"][1] < jp["mse"][0]
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray((x[0].reshape(28, 28) * 255).astype(np.uint8), mode="L").save(buf, format="JPEG")
    assert 100 < C.jpeg_header_bytes(buf.getvalue()) < len(buf.getvalue())


def test_pareto_and_mse_at_rate():
    r, m = C.pareto_front([10, 20, 15, 40], [0.5, 0.2, 0.6, 0.3])
    assert r.tolist() == [10, 20] and m.tolist() == [0.5, 0.2]
    assert C.mse_at_rate([10, 20], [0.5, 0.2], 19) == 0.5
    assert math.isinf(C.mse_at_rate([10, 20], [0.5, 0.2], 5))


@pytest.mark.parametrize("call", [
    lambda: C.quantize(torch.rand(3), 0),
    lambda: C.quantize(torch.rand(3), True),
    lambda: C.quantize([0.5], 2),
    lambda: C.to_symbols(torch.rand(3), 17),
    lambda: C.from_symbols(np.array([4]), 2),
    lambda: C.QuantizedAutoencoder(8, 0),
    lambda: C.entropy_bits([]),
    lambda: C.entropy_bits([-1, 2]),
    lambda: C.code_length_bits(np.zeros((2, 3), int), np.zeros((2, 4), int), 4),
    lambda: C.code_length_bits(np.zeros((2, 3), int), np.full((2, 3), 4), 4),
    lambda: C.code_length_bits(np.zeros((2, 3)), np.zeros((2, 3)), 4),
    lambda: C.lzma_bits(np.zeros(3, int)),
    lambda: C.psnr(0.0),
    lambda: C.pca_rate_distortion(np.zeros((10, 784)), np.zeros((5, 784)), [0], [2]),
    lambda: C.pca_rate_distortion(np.zeros((10, 20)), np.zeros((5, 20)), [2], [2]),
    lambda: C.jpeg_rate_distortion(np.zeros((2, 784)), [0]),
    lambda: C.jpeg_rate_distortion(np.zeros((2, 784)), [50], keep=-1),
    lambda: C.jpeg_header_bytes(b"not a jpeg"),
    lambda: C.pareto_front([1, 2], [1]),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_straight_through_check_accepts_and_rejects(capsys):
    def right(z, bits):
        s = 2 ** bits - 1
        return z + (torch.round(z * s) / s - z).detach()

    def no_gradient(z, bits):       # rounds correctly but blocks the gradient
        s = 2 ** bits - 1
        return torch.round(z * s) / s

    def wrong_levels(z, bits):      # 2**bits steps instead of 2**bits - 1
        s = 2 ** bits
        return z + (torch.round(z * s) / s - z).detach()

    def identity(z, bits):          # forgets to round
        return z

    def stub(z, bits):
        raise NotImplementedError

    assert check_straight_through(right, C.quantize)
    for wrong in (no_gradient, wrong_levels, identity, stub, None, lambda z, b: z.detach().numpy()):
        assert not check_straight_through(wrong, C.quantize)
    out = capsys.readouterr().out
    assert "gradient" in out and "not attempted" in out


def test_entropy_check_rejects_natural_log():
    cases = [(np.array([1, 1]),), (np.array([5, 0, 5, 10]),)]

    def nats(c):
        p = np.asarray(c, float); p = p[p > 0] / p.sum()
        return float(-(p * np.log(p)).sum())

    def bits(c):
        p = np.asarray(c, float); p = p[p > 0] / p.sum()
        return float(-(p * np.log2(p)).sum())

    assert check_function("entropy", bits, C.entropy_bits, cases)
    assert not check_function("entropy", nats, C.entropy_bits, cases)
    assert not check_function("entropy", lambda c: float(np.log2(len(c))), C.entropy_bits, cases)


def test_principal_axes_match_svd_and_chunking():
    x = torch.rand(300, 20, generator=torch.Generator().manual_seed(0))
    mean, axes = P.principal_axes(x, 3)
    _, _, vt = torch.linalg.svd(x - x.mean(0), full_matrices=False)
    assert torch.allclose(mean, x.mean(0), atol=1e-6)
    assert torch.allclose(axes.abs(), vt[:3].T.abs(), atol=1e-4)
    assert torch.allclose(P.principal_axes(x, 3, chunk=7)[1].abs(), axes.abs(), atol=1e-6)
    with pytest.raises(ValueError):
        P.principal_axes(x, 0)
    with pytest.raises(ValueError):
        P.principal_axes(x[:1])


def test_code_length_refuses_more_levels_than_a_symbol_can_hold():
    s = np.zeros((4, 2), dtype=np.int64)
    with pytest.raises(ValueError, match=r"levels must be an integer from 2 to 65536 \(2\*\*MAX_BITS\), got 1000000000"):
        C.code_length_bits(s, s, levels=10**9)
    assert C.code_length_bits(s, s, levels=2**16) > 0


def test_pca_rate_distortion_from_a_fitted_pca_and_chunks_equals_the_whole_computation():
    from course_utils.pca import principal_axes

    g = torch.Generator().manual_seed(0)
    x, xt = torch.rand(300, 784, generator=g), torch.rand(40, 784, generator=g)
    whole = C.pca_rate_distortion(x, xt, [2, 8], [2, 4])
    mean, axes = principal_axes(x)
    parts = C.pca_rate_distortion([x[:128], x[128:256], x[256:]], xt, [2, 8], [2, 4],
                                            fitted=(mean.numpy(), axes.numpy()))
    for k in ("components", "bits", "rate", "mse"):
        assert np.allclose(parts[k], whole[k], rtol=1e-5, atol=1e-7), k
    with pytest.raises(ValueError, match="fitted"):
        C.pca_rate_distortion(x, xt, [2], [2], fitted=(mean[:10], axes))
    with pytest.raises(ValueError, match="components"):
        C.pca_rate_distortion(x, xt, [9], [2], fitted=(mean, axes[:, :8]))   # more than it has
