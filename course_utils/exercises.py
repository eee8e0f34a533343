"""Automatic checks for the exercises: each says right or wrong, and why.

A notebook's exercise cell calls a check on the learner's answer; a check never raises on a wrong
answer (it prints why and returns False), so a learner can try again. The solution cell below it
runs ``assert check_...(solution)``, so CI proves every check accepts the right answer. An answer
left as ``None`` or ``...`` is reported as "not attempted yet".
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

__all__ = ["check_value", "check_function", "not_attempted"]


def not_attempted(answer: Any) -> bool:
    """True for an answer the learner has not filled in yet (``None`` or ``...``)."""
    return answer is None or answer is Ellipsis


def _say(ok: bool, name: str, why: str) -> bool:
    print(f"{'✅ correct' if ok else '❌ not yet'} — {name}: {why}")
    return ok


def _check_bug(name: str, what: str, err: Exception) -> bool:
    """Report a broken reference of a check (never the learner's fault) and return False."""
    return _say(False, name, f"the check's {what} ({type(err).__name__}: {err}); this is a bug in "
                             f"the check, not in your answer — please report it")


def check_value(name: str, answer: Any, expected: Any, *, rtol: float = 1e-3, atol: float = 0.0,
                hint: str = "") -> bool:
    """Compare a number (or array) with the expected one within tolerances; print a verdict.

    Never raises: Python and numpy numbers, arrays and tensors (also ones that require grad) are
    compared; anything else is reported as "expected a number". Bad tolerances (the notebook's own
    arguments, not the learner's) raise ValueError.
    """
    _check_tolerances(rtol, atol)
    if not_attempted(answer):
        print(f"⏳ {name}: not attempted yet. Fill in the answer, or reveal the solution below.")
        return False
    try:
        e = np.asarray(_to_numpy(expected), dtype=float)
    except Exception as err:  # the check's own reference is broken: say so, never raise
        return _check_bug(name, "reference value could not be read", err)
    try:
        a = np.asarray(_to_numpy(answer), dtype=float)
    except Exception:
        return _say(False, name, f"expected a number, got {type(answer).__name__}. {hint}".strip())
    if a.shape != e.shape:
        return _say(False, name, f"expected shape {e.shape}, got {a.shape}. {hint}".strip())
    if not np.all(np.isfinite(a)):
        return _say(False, name, f"the answer contains NaN or infinity. {hint}".strip())
    if bool(np.allclose(a, e, rtol=rtol, atol=atol)):
        return _say(True, name, "matches the expected value." if a.ndim == 0 else "every entry matches.")
    return _say(False, name, f"{_how_far(a, e)} (allowed: relative {rtol:g}, absolute {atol:g}). {hint}".strip())


def _how_far(a: np.ndarray, e: np.ndarray) -> str:
    """How far an answer is from the expected value, without revealing the expected value: the
    direction and the relative size of the miss (a scalar), or how many entries miss (an array)."""
    if a.ndim == 0:
        if not np.isfinite(e):  # a broken reference: still no value revealed, and no warning
            return "does not match the expected value"
        if e == 0:
            return f"should be 0; yours is {'larger' if a > 0 else 'smaller'}"
        rel = float(abs(a - e) / abs(e))
        if np.sign(a) != np.sign(e):
            return "has the wrong sign"
        return f"too {'large' if abs(a) > abs(e) else 'small'} by {rel:.0%} (relative)" if rel >= 0.01 \
            else f"close, but off by {rel:.2%} (relative)"
    bad = ~np.isclose(a, e)
    return f"{int(bad.sum())} of {a.size} entries differ"


def check_function(name: str, fn: Callable | None, reference: Callable, cases: list[tuple],
                   *, rtol: float = 1e-4, atol: float = 1e-6, hint: str = "") -> bool:
    """Call the learner's ``fn`` and ``reference`` on each argument tuple in ``cases`` and compare.

    ``cases`` (a non-empty list of argument tuples), ``reference`` and the tolerances are the
    notebook's own arguments: bad ones raise ValueError."""
    _check_tolerances(rtol, atol)
    if not callable(reference):
        raise ValueError(f"reference must be a callable, got {type(reference).__name__}")
    if not isinstance(cases, (list, tuple)) or not cases or not all(isinstance(c, tuple) for c in cases):
        raise ValueError(f"cases must be a non-empty list of argument tuples, got {cases!r}")
    if not_attempted(fn):
        print(f"⏳ {name}: not attempted yet. Write the function, or reveal the solution below.")
        return False
    for args in cases:
        try:
            got = fn(*args)
        except NotImplementedError:
            print(f"⏳ {name}: not attempted yet (NotImplementedError). Reveal the solution below if stuck.")
            return False
        except Exception as err:  # the learner's code may raise anything
            return _say(False, name, f"raised {type(err).__name__}: {err}. {hint}".strip())
        if got is None or got is Ellipsis:
            print(f"⏳ {name}: not attempted yet (returned {got!r}).")
            return False
        try:
            w = np.asarray(_to_numpy(reference(*args)), dtype=float)
        except Exception as err:  # the check's reference is broken: say so, never raise
            return _check_bug(name, "reference raised", err)
        try:
            g = np.asarray(_to_numpy(got), dtype=float)
        except Exception:
            return _say(False, name, f"expected a number or an array, got {type(got).__name__}. {hint}".strip())
        if g.shape != w.shape or not np.allclose(g, w, rtol=rtol, atol=atol):
            detail = (f"shape {g.shape} instead of {w.shape}" if g.shape != w.shape
                      else f"max difference {np.max(np.abs(g - w)):.3g}")
            return _say(False, name, f"wrong result for a test input ({detail}). {hint}".strip())
    return _say(True, name, f"matches the reference on {len(cases)} test input(s).")


def _check_tolerances(rtol, atol) -> None:
    for name, v in (("rtol", rtol), ("atol", atol)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not 0 <= v < math.inf:
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def _to_numpy(x):
    try:
        import torch
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu()
            return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(x, float) and math.isnan(x):
        return np.nan
    return x


# --- notebooks 01-03: curse of dimensionality, manifold hypothesis, t-SNE ---------------------------

def _twonn_reference(x) -> float:
    """TwoNN intrinsic dimension (Facco et al. 2017, maximum-likelihood form): with r1, r2 the
    distances of each point to its first and second nearest neighbour and mu = r2 / r1,
    d = N / sum(log mu)."""
    from sklearn.neighbors import NearestNeighbors

    x = np.asarray(x, dtype=float)
    dist, _ = NearestNeighbors(n_neighbors=3).fit(x).kneighbors(x)
    mu = dist[:, 2] / dist[:, 1]
    return float(len(mu) / np.sum(np.log(mu)))


def _twonn_cases() -> list[tuple]:
    rng = np.random.default_rng(12345)
    plane = rng.random((400, 2)) @ rng.standard_normal((2, 20))   # a 2-D plane in 20-D
    blob = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 40))  # a 6-D Gaussian in 40-D
    t = rng.random(300) * 2 * np.pi                                # a circle: 1-D
    circle = np.stack([np.cos(t), np.sin(t), np.zeros_like(t)], axis=1)
    return [(plane,), (blob,), (circle,)]


def check_twonn(fn: Callable | None) -> bool:
    """Notebook 02: ``fn(x)`` returns the TwoNN intrinsic dimension of the points ``x`` (N, D)."""
    return check_function("TwoNN intrinsic dimension", fn, _twonn_reference, _twonn_cases(),
                          rtol=1e-3, atol=1e-6,
                          hint="Ask for 3 neighbours (the first is the point itself), take mu = r2 / r1 "
                               "and return N / sum(log(mu)).")


def _perplexity_reference(p) -> float:
    p = np.asarray(p, dtype=float)
    nz = p[p > 0]
    return float(2.0 ** (-np.sum(nz * np.log2(nz))))


def check_perplexity(fn: Callable | None) -> bool:
    """Notebook 03: ``fn(p)`` returns the perplexity 2^H(p) (H in bits) of a probability vector."""
    rng = np.random.default_rng(7)
    cases = [(np.full(4, 0.25),), (np.array([0.5, 0.25, 0.25]),), (np.array([1.0, 0.0, 0.0]),),
             (rng.dirichlet(np.ones(30)),), (rng.dirichlet(np.full(100, 0.1)),)]
    return check_function("perplexity of a distribution", fn, _perplexity_reference, cases,
                          rtol=1e-6, atol=1e-9,
                          hint="Perplexity = 2 ** H with H = -sum p log2 p over the non-zero p "
                               "(a uniform choice among k neighbours has perplexity k).")


def _overlap_reference(x_high, x_low, k) -> float:
    from sklearn.neighbors import NearestNeighbors

    a = NearestNeighbors(n_neighbors=k + 1).fit(x_high).kneighbors(x_high, return_distance=False)[:, 1:]
    b = NearestNeighbors(n_neighbors=k + 1).fit(x_low).kneighbors(x_low, return_distance=False)[:, 1:]
    return float(np.mean([len(set(r) & set(s)) / k for r, s in zip(a, b)]))


def check_neighbour_overlap(fn: Callable | None) -> bool:
    """Notebook 03: ``fn(x_high, x_low, k)`` returns the mean fraction of each point's ``k`` nearest
    neighbours in ``x_high`` that are also among its ``k`` nearest neighbours in ``x_low``."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 10))
    cases = [(x, x[:, :2], 5), (x, x[:, :2] + 0.5 * rng.standard_normal((300, 2)), 10), (x, x, 7)]
    return check_function("neighbour overlap", fn, _overlap_reference, cases, rtol=1e-6, atol=1e-9,
                          hint="Ask NearestNeighbors for k + 1 neighbours and drop the first column "
                               "(each point is its own nearest neighbour).")


# --- notebooks 04-05: autoencoder, stacked autoencoder ----------------------------------------------

def check_pca_error(answer: Any, eigenvalues, k: int) -> bool:
    """Notebook 04: PCA's training error (MSE per pixel) with ``k`` components, from the
    eigenvalues of the covariance (sorted, largest first): the sum of the discarded ones / D."""
    ev = np.asarray(_to_numpy(eigenvalues), dtype=float)
    if ev.ndim != 1 or not 1 <= int(k) < len(ev):
        raise ValueError(f"eigenvalues must be 1-D and k in 1..{len(ev) - 1}, got {ev.shape} and {k!r}")
    expected = ev[int(k):].sum() / len(ev)
    return check_value(f"PCA training error with {k} components", answer, expected, rtol=1e-3,
                       hint="The error is the variance PCA throws away: add the eigenvalues you did "
                            "NOT keep, then divide by the number of pixels (per-pixel MSE).")


def check_code_interpolation(fn: Callable | None, model, xa, xb) -> bool:
    """Notebook 04: ``fn(model, xa, xb, t)`` must decode ``(1 - t)·encode(xa) + t·encode(xb)``."""
    def reference(m, a, b, t):
        return m.decode((1 - t) * m.encode(a) + t * m.encode(b))

    cases = [(model, xa, xb, t) for t in (0.0, 0.3, 0.5, 1.0)]
    return check_function("interpolation in code space", fn, reference, cases, rtol=1e-4, atol=1e-5,
                          hint="Encode both images, mix the CODES with weights (1 - t) and t, then "
                               "decode the mixture (mixing pixels is a different thing).")


def check_sse_per_image(answer: Any, mse_per_pixel: float, pixels: int = 784) -> bool:
    """Notebook 05: a per-pixel MSE restated as sum of squared errors per image (Hinton &
    Salakhutdinov's unit): ``pixels × MSE``."""
    expected = float(mse_per_pixel) * pixels
    return check_value("squared error per image", answer, expected, rtol=1e-4,
                       hint=f"A mean over {pixels} pixels becomes a sum over them: multiply, don't divide.")


def check_param_count(fn: Callable | None, reference: Callable) -> bool:
    """Notebook 05: ``fn(sizes)`` must count the parameters of a mirrored fully connected
    autoencoder with encoder layer sizes ``sizes``; ``reference(sizes)`` counts a real model's."""
    cases = [((784, 30),), ((784, 256, 30),), ((784, 512, 256, 128, 30),), ((10, 5, 2),)]
    return check_function("parameters of a mirrored autoencoder", fn, reference, cases, rtol=0, atol=0,
                          hint="Each Linear(a, b) has a·b weights AND b biases; the decoder mirrors "
                               "the encoder, so its biases have the sizes of the encoder's inputs.")


# --- notebook 07: applications --------------------------------------------------------------------

def check_straight_through(fn: Callable | None, reference: Callable, bits=(1, 2, 4, 8)) -> bool:
    """Notebook 07: ``fn(z, bits)`` must round ``z`` (in [0, 1]) exactly like ``reference`` AND let
    the gradient pass straight through (d output / d z = 1), for every ``bits`` in ``bits``."""
    import torch

    name = "straight-through quantizer"
    if not_attempted(fn):
        print(f"⏳ {name}: not attempted yet. Write the function, or reveal the solution below.")
        return False
    gen = torch.Generator().manual_seed(7)
    for b in bits:
        z = torch.rand(64, 8, generator=gen).requires_grad_(True)
        try:
            out = fn(z, b)
        except NotImplementedError:
            print(f"⏳ {name}: not attempted yet (NotImplementedError). Reveal the solution below if stuck.")
            return False
        except Exception as err:  # the learner's code may raise anything
            return _say(False, name, f"raised {type(err).__name__}: {err}")
        if out is None or out is Ellipsis:
            print(f"⏳ {name}: not attempted yet (returned {out!r}).")
            return False
        if not isinstance(out, torch.Tensor) or out.shape != z.shape:
            return _say(False, name, f"expected a tensor of shape {tuple(z.shape)} for bits={b}")
        want = reference(z.detach(), b)
        if not torch.allclose(out.detach().float(), want.float(), atol=1e-6):
            return _say(False, name, f"the rounded values are wrong for bits={b} (max difference "
                                     f"{float((out.detach() - want).abs().max()):.3g}). Hint: there are "
                                     f"2**bits levels, from 0 to 1 in steps of 1/(2**bits - 1).")
        if not out.requires_grad:
            return _say(False, name, "no gradient flows back to z: the encoder could never learn. "
                                     "Hint: z + (q - z).detach()")
        weights = torch.randn(z.shape, generator=gen)
        (grad,) = torch.autograd.grad((out * weights).sum(), z)
        if not torch.allclose(grad, weights, atol=1e-6):
            return _say(False, name, f"the gradient is not passed straight through for bits={b} "
                                     f"(rounding's own gradient is zero). Hint: z + (q - z).detach()")
    return _say(True, name, f"rounds like the reference and passes the gradient through, bits {tuple(bits)}.")


# --- notebook 06: denoising autoencoder --------------------------------------------------------------

def _saturated_reference(z, threshold=0.01) -> float:
    z = np.asarray(_to_numpy(z), dtype=float)
    s = 1.0 / (1.0 + np.exp(-z))
    return float(np.mean(s * (1.0 - s) < threshold))


def check_saturated_fraction(fn: Callable | None) -> bool:
    """Notebook 06: ``fn(z, threshold)`` returns the fraction of pre-activations ``z`` (a tensor of
    any shape) whose sigmoid slope σ'(z) = σ(z)(1 - σ(z)) is below ``threshold``."""
    import torch

    g = torch.Generator().manual_seed(6)
    cases = [(torch.zeros(10), 0.01), (torch.tensor([-10.0, -4.0, 0.0, 4.0, 10.0]), 0.01),
             (16 * torch.randn(300, 50, generator=g), 0.01), (torch.randn(1000, generator=g), 0.2),
             (3 * torch.randn(64, 64, generator=g), 0.05)]
    return check_function("fraction of saturated sigmoid units", fn, _saturated_reference, cases,
                          rtol=1e-6, atol=1e-9,
                          hint="Compute s = torch.sigmoid(z), then the mean of (s * (1 - s) < threshold) "
                               "as a float.")


# --- notebook 08: learning the manifold ------------------------------------------------------------

def _tweedie_1d_parts(x, means, weights, s, sigma):
    """``(x, score of p_σ, score of the noise-free mixture)`` for a 1-D Gaussian mixture, float64."""
    x = np.asarray(_to_numpy(x), dtype=float)
    mu, w = np.asarray(_to_numpy(means), dtype=float), np.asarray(_to_numpy(weights), dtype=float)

    def score(var):
        logits = np.log(w)[None] - (x[:, None] - mu[None]) ** 2 / (2 * var)
        post = np.exp(logits - logits.max(1, keepdims=True))
        post /= post.sum(1, keepdims=True)
        return (post * (mu[None] - x[:, None])).sum(1) / var

    return x, score(s ** 2 + sigma ** 2), score(s ** 2)


def _tweedie_1d_cases():
    import torch

    g = torch.Generator().manual_seed(8)
    return [(torch.linspace(-3, 3, 41), torch.tensor([-1.0, 1.0]), torch.tensor([0.5, 0.5]), 0.1, 0.5),
            (3 * torch.randn(200, generator=g), torch.tensor([-2.0, 0.0, 1.5]), torch.tensor([0.2, 0.5, 0.3]),
             0.3, 0.8),
            (torch.randn(100, generator=g), torch.tensor([0.5]), torch.tensor([1.0]), 0.2, 0.3),
            (torch.linspace(-4, 4, 33), torch.tensor([-2.0, 2.0]), torch.tensor([0.7, 0.3]), 0.3, 2.0)]


def _first_match(got, variants: dict, rtol: float, atol: float) -> str | None:
    for why, v in variants.items():
        if got.shape == v.shape and np.allclose(got, v, rtol=rtol, atol=atol):
            return why
    return None


def _run(fn, args):
    """``(result as float64 array, None)`` or ``(None, message)`` for a learner's function."""
    try:
        got = fn(*args)
    except NotImplementedError:
        return None, "not attempted"
    except Exception as err:  # the learner's code may raise anything
        return None, f"raised {type(err).__name__}: {err}"
    if got is None or got is Ellipsis:
        return None, "not attempted"
    try:
        return np.asarray(_to_numpy(got), dtype=float), None
    except Exception:
        return None, f"expected a tensor or an array, got {type(got).__name__}"


def _check_with_mistakes(name: str, fn: Callable | None, cases: list[tuple], reference: Callable,
                         rtol: float, hint: str) -> bool:
    """Run ``fn`` on each case; ``reference(*case)`` gives ``(expected, {why: a mistake's result}, atol)``.
    A wrong answer that equals a known mistake is told that mistake; the expected values are never shown."""
    if not_attempted(fn):
        print(f"⏳ {name}: not attempted yet. Write the function, or reveal the solution below.")
        return False
    for args in cases:
        got, problem = _run(fn, args)
        if problem == "not attempted":
            print(f"⏳ {name}: not attempted yet. Reveal the solution below if stuck.")
            return False
        if problem:
            return _say(False, name, problem + ".")
        want, mistakes, atol = reference(*args)
        if got.shape != want.shape:
            return _say(False, name, f"expected an answer of shape {want.shape}, got shape {got.shape}.")
        if np.allclose(got, want, rtol=rtol, atol=atol):
            continue
        why = _first_match(got, mistakes, rtol, atol)
        if why:
            return _say(False, name, why + ".")
        return _say(False, name, f"wrong result for a test input (max difference {np.max(np.abs(got - want)):.3g}). {hint}".strip())
    return _say(True, name, f"matches the reference on {len(cases)} test inputs.")


def _tweedie_1d_reference(*args):
    sigma = args[4]
    x, sc, sc_clean = _tweedie_1d_parts(*args)
    want = x + sigma ** 2 * sc
    return want, {
        "the step σ²·score is missing its σ² (you returned x̃ + score)": x + sc,
        "the step uses σ where Tweedie's formula has σ²": x + sigma * sc,
        "the step points the wrong way: the denoiser moves x̃ *up* the log density, x̃ + σ²·score": x - sigma ** 2 * sc,
        "you returned only the step σ²·score; the denoiser is x̃ plus that step": sigma ** 2 * sc,
        "the score is that of the clean mixture: the noisy density p_σ has variance s² + σ² per component":
            x + sigma ** 2 * sc_clean,
    }, 1e-5 * (1 + np.abs(want).max())       # float32 answers are fine


def check_tweedie_1d(fn: Callable | None) -> bool:
    """Notebook 08: ``fn(x_noisy, means, weights, s, sigma)`` returns E[x | x̃] for x drawn from the 1-D
    mixture Σ_k weights_k N(means_k, s²) and x̃ = x + σ·N(0, 1), one value per entry of ``x_noisy``:
    Tweedie's formula x̃ + σ² d/dx̃ log p_σ(x̃), where p_σ is the mixture with variance s² + σ²."""
    return _check_with_mistakes(
        "Tweedie denoiser for a 1-D Gaussian mixture", fn, _tweedie_1d_cases(), _tweedie_1d_reference, 1e-4,
        "Hint: weight each component by its posterior probability under p_σ (softmax of log weight − "
        "(x̃ − μ)² / (2(s² + σ²))), score = Σ_k post_k (μ_k − x̃) / (s² + σ²).")


def _langevin_reference(*args):
    x, s, a, z = (np.asarray(_to_numpy(t), dtype=float) for t in args)
    return x + 0.5 * a * s + np.sqrt(a) * z, {
        "the drift is missing its 1/2: Langevin moves by (step/2)·score": x + a * s + np.sqrt(a) * z,
        "the noise is scaled by the step; it must be scaled by √step (noise variance = step)": x + 0.5 * a * s + a * z,
        "the drift goes down the log density; it must go up: + (step/2)·score": x - 0.5 * a * s + np.sqrt(a) * z,
        "there is no noise: that is gradient ascent, not Langevin sampling (add √step·z)": x + 0.5 * a * s,
        "the noise is not scaled: z must be multiplied by √step": x + 0.5 * a * s + z,
    }, 1e-5


def check_langevin_step(fn: Callable | None) -> bool:
    """Notebook 08: ``fn(x, score_x, step, z)`` returns one Langevin step x + (step/2)·score_x + √step·z,
    where ``score_x`` is the score at ``x`` and ``z`` the standard normal noise of this step."""
    import torch

    g = torch.Generator().manual_seed(18)
    cases = [(torch.randn(50, 2, generator=g), torch.randn(50, 2, generator=g), step,
              torch.randn(50, 2, generator=g)) for step in (0.01, 0.25, 0.004)]
    return _check_with_mistakes("one Langevin step", fn, cases, _langevin_reference, 1e-5, "")


# --- notebook 10: convolutional autoencoders -------------------------------------------------------

def _transposed_size_reference(n, k, s, p, op):
    want = (n - 1) * s - 2 * p + k + op
    return np.asarray(float(want)), {
        "that is the output size of an ordinary convolution, ⌊(n + 2p − k) / s⌋ + 1; a transposed "
        "convolution runs it backwards": np.asarray(float((n + 2 * p - k) // s + 1)),
        "off by one stride: the first input pixel does not move, so the input spans (n − 1)·s, not n·s":
            np.asarray(float(n * s - 2 * p + k + op)),
        "output_padding is missing: it adds that many rows at the far end": np.asarray(float((n - 1) * s - 2 * p + k)),
        "the padding is added; in a transposed convolution it is cut off the output (−2p)":
            np.asarray(float((n - 1) * s + 2 * p + k + op)),
        "the padding is cut off one side only; it is cut off both (−2p)": np.asarray(float((n - 1) * s - p + k + op)),
        "off by one: try n = 1 (one input pixel stamps one kernel: k − 2p + output_padding)":
            np.asarray(float(want + 1)),
        "off by one (too small): try n = 1 (one input pixel stamps one kernel: k − 2p + output_padding)":
            np.asarray(float(want - 1)),
    }, 0.0


def check_transposed_output_size(fn: Callable | None) -> bool:
    """Notebook 10: ``fn(n, k, s, p, output_padding)`` returns the output side of a transposed
    convolution (``torch.nn.ConvTranspose2d``, dilation 1) with kernel ``k``, stride ``s`` and padding
    ``p`` on an input of side ``n``. Tells the ordinary-convolution formula and the usual
    off-by-one slips apart from the right answer; never shows the expected size."""
    cases = [(6, 2, 2, 0, 0), (1, 3, 2, 0, 0), (4, 3, 3, 0, 2), (7, 3, 2, 1, 1), (14, 3, 2, 1, 1), (5, 4, 2, 1, 0),
             (3, 5, 1, 2, 0)]
    return _check_with_mistakes("output size of a transposed convolution", fn, cases, _transposed_size_reference,
                                0.0, "Hint: each input pixel stamps a k×k kernel, s pixels apart; then the "
                                     "padding is cut off both sides and output_padding added at the end.")


def _conv_params_reference(c_in, c_out, k, bias):
    w = c_out * c_in * k * k
    b = c_out if bias else 0
    return np.asarray(float(w + b)), {
        "the bias is missing: each output channel has one bias": np.asarray(float(w)),
        "bias=False: then there is no bias at all": np.asarray(float(w + c_out)),
        "one bias per *input* channel; it is one per output channel": np.asarray(float(w + (c_in if bias else 0))),
        "in_channels is forgotten: each filter has a k×k kernel for EVERY input channel": np.asarray(float(c_out * k * k + b)),
        "the kernel has k × k weights per channel pair, not k": np.asarray(float(c_out * c_in * k + b)),
        "one bias per weight; it is one per output channel": np.asarray(float(2 * w if bias else w)),
    }, 0.0


def check_conv_params(fn: Callable | None) -> bool:
    """Notebook 10: ``fn(in_channels, out_channels, k, bias)`` returns the trainable parameters of
    ``torch.nn.Conv2d(in_channels, out_channels, k, bias=bias)`` (weights and, if ``bias``, biases).
    Rejects the missing bias, the forgotten in_channels and the other usual slips, by name."""
    cases = [(1, 16, 3, True), (16, 32, 3, True), (32, 16, 3, False), (3, 8, 5, True), (4, 4, 1, True)]
    return _check_with_mistakes("parameters of a convolution layer", fn, cases, _conv_params_reference, 0.0,
                                "Hint: one k×k kernel per (input channel, output channel) pair, plus one bias "
                                "per output channel when bias=True.")
