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

def check_code_interpolation(fn: Callable | None, model, xa, xb) -> bool:
    """Notebook 04: ``fn(model, xa, xb, t)`` must decode ``(1 - t)·encode(xa) + t·encode(xb)``."""
    def reference(m, a, b, t):
        return m.decode((1 - t) * m.encode(a) + t * m.encode(b))

    cases = [(model, xa, xb, t) for t in (0.0, 0.3, 0.5, 1.0)]
    return check_function("interpolation in code space", fn, reference, cases, rtol=1e-4, atol=1e-5,
                          hint="Encode both images, mix the CODES with weights (1 - t) and t, then "
                               "decode the mixture (mixing pixels is a different thing).")


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


def _call(fn, args):
    """``(result, None)`` or ``(None, message)``; ``message == "not attempted"`` for a stub."""
    try:
        out = fn(*args)
    except NotImplementedError:
        return None, "not attempted"
    except Exception as err:  # the learner's code may raise anything
        return None, f"raised {type(err).__name__}: {err}"
    if out is None or out is Ellipsis:
        return None, "not attempted"
    return out, None


def _run(fn, args):
    """``(result as float64 array, None)`` or ``(None, message)`` for a learner's function."""
    got, why = _call(fn, args)
    if why is not None:
        return None, why
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


# --- issue 16a: notebooks 00-04 (the expected value lives here; each check names realistic mistakes) ---

def _check_number(name: str, answer: Any, expected: float, mistakes: dict, rtol: float, hint: str) -> bool:
    """:func:`check_value` against ``expected``; a wrong answer equal to one of ``mistakes``
    (``{value: why}``) is told why. Neither the expected value nor a mistake's value is printed."""
    if not_attempted(answer):
        print(f"⏳ {name}: not attempted yet. Fill in the answer, or reveal the solution below.")
        return False
    try:
        a = float(np.asarray(_to_numpy(answer), dtype=float))
    except Exception:
        return check_value(name, answer, expected, rtol=rtol, hint=hint)
    if np.isfinite(a) and not math.isclose(a, expected, rel_tol=rtol):
        for value, why in mistakes.items():
            if math.isclose(a, value, rel_tol=max(rtol, 1e-9)):
                return _say(False, name, f"{why}. {hint}".strip())
    return check_value(name, answer, expected, rtol=rtol, hint=hint)


def check_pixels_per_image(answer: Any) -> bool:
    """Notebook 00: how many numbers describe one MNIST image (a 28 × 28 grid of grey values)."""
    return _check_number("numbers per MNIST image", answer, 28 * 28, {
        28: "that is one side of the image; the image has 28 rows of 28 values each",
        56: "28 + 28 counts the sides; every cell of the 28 × 28 grid holds a value",
    }, 0, "Count the cells of the grid: one grey value per cell.")


def check_ball_fraction_5d(answer: Any) -> bool:
    """Notebook 01: the fraction of the cube [-1, 1]^5 inside its inscribed unit ball."""
    d = 5
    ball = math.pi ** (d / 2) / math.gamma(d / 2 + 1)
    return _check_number("ball fraction in d = 5", answer, ball / 2 ** d, {
        ball: "that is the ball's volume; divide by the cube's volume 2^d for the fraction",
        math.pi ** (d / 2) / math.gamma(d / 2) / 2 ** d: "the Gamma function takes d/2 + 1, not d/2",
        math.pi ** (d / 2) / math.gamma(d / 2 + 1) / d ** 2: "the cube [-1, 1]^d has side 2: its volume is 2^d",
    }, 1e-4, "π^(d/2) / Γ(d/2 + 1) is the volume of the unit ball; the cube [-1, 1]^d has side 2.")


def check_log10_binary_images(answer: Any) -> bool:
    """Notebook 01: log10 of the number of 28 × 28 images whose pixels are black or white."""
    n = 28 * 28
    return _check_number("log10 of the number of binary 28×28 images", answer, n * math.log10(2), {
        float(n): "that is the base-2 logarithm (the number of bits); the question asks for base 10",
        n * math.log(2): "that is the natural logarithm; the question asks for base 10",
        28 * math.log10(2): "every one of the 28 × 28 pixels chooses, not only 28 of them",
        n * math.log10(256): "that counts 256 grey levels; here each pixel has only 2 values",
        2.0 ** n: "that is the count itself; give its base-10 logarithm",
    }, 1e-6, "Each pixel independently takes one of 2 values; the log of a product is the sum of the logs.")


def _r2_parts(emb, t):
    """The unrolling score (R² of ``t`` regressed on ``emb`` with an intercept) and the values of the
    realistic mistakes, each as ``{why: value}``."""
    e, t = np.asarray(emb, dtype=float), np.asarray(t, dtype=float)
    tc, ec = t - t.mean(), e - e.mean(0)
    res = tc - ec @ np.linalg.lstsq(ec, tc, rcond=None)[0]
    r2 = 1 - res @ res / (tc @ tc)
    res0 = t - e @ np.linalg.lstsq(e, t, rcond=None)[0]                # no intercept
    r_axis = np.array([np.corrcoef(e[:, a], t)[0, 1] for a in range(e.shape[1])])
    rank = lambda v: np.argsort(np.argsort(v))                          # noqa: E731
    rho_axis = np.array([np.corrcoef(rank(e[:, a]), rank(t))[0, 1] for a in range(e.shape[1])])
    return float(r2), {
        "that is the best single axis (max |correlation|²): it changes when the picture is rotated; "
        "regress t on all embedding coordinates together": float(np.max(r_axis ** 2)),
        "that is the best single axis's |correlation|: it changes when the picture is rotated": float(np.max(np.abs(r_axis))),
        "that is the old per-axis |Spearman ρ|: it changes when the picture is rotated": float(np.max(np.abs(rho_axis))),
        "that is R (a correlation), not R²: square it": float(np.sqrt(max(r2, 0))),
        "the fit has no intercept and the total is not centred: fit t ≈ a + emb·w and divide by "
        "Σ(t − mean t)²": float(1 - res0 @ res0 / (t @ t)),
        "the fit has no intercept: fit t ≈ a + emb·w (or centre t and the embedding first)":
            float(1 - res0 @ res0 / (tc @ tc)),
        "the total sum of squares is not centred: divide by Σ(t − mean t)², not Σ t²": float(1 - res @ res / (t @ t)),
        "that adds the per-axis r²: it equals R² only when the axes are uncorrelated": float(np.sum(r_axis ** 2)),
        "that is the fraction of variance left unexplained (1 − R²)": float(1 - r2),
    }


def _unrolling_cases() -> list[tuple]:
    rng = np.random.default_rng(16)
    cases = []
    for n, d, offset in ((300, 2, 10.0), (400, 2, 4.7), (250, 3, -3.0)):
        t = offset + 3 * rng.random(n)
        z = np.column_stack([t + 0.3 * rng.standard_normal(n), rng.standard_normal((n, d - 1))])
        mix = np.linalg.qr(rng.standard_normal((d, d)))[0] @ np.diag(rng.uniform(0.5, 2.0, d))
        cases.append((z @ mix + rng.normal(5.0, 1.0, d), t))                 # turned, stretched, shifted
    t = 9.0 + 2 * rng.random(300)                                           # a curved, partly unrolled picture
    cases.append((np.column_stack([np.cos(t), np.sin(t)]) * (1 + 0.1 * t[:, None]) + 2.0, t))
    return cases


def check_unrolling_score(fn: Callable | None) -> bool:
    """Notebook 02: ``fn(emb, t)`` returns the rotation-invariant unrolling score of the embedding
    ``emb`` (N, d numpy) for the true coordinate ``t`` (N,): R² of the least-squares fit t ≈ a + emb·w."""
    def reference(emb, t):
        want, mistakes = _r2_parts(emb, t)
        return np.asarray(want), {why: np.asarray(v) for why, v in mistakes.items()}, 1e-6
    return _check_with_mistakes(
        "rotation-invariant unrolling score", fn, _unrolling_cases(), reference, 1e-5,
        "Hint: fit t on [1, emb] by least squares (np.linalg.lstsq, or sklearn's LinearRegression), then "
        "R² = 1 − Σ residual² / Σ(t − mean t)².")


def _loss_cases():
    import torch

    g = torch.Generator().manual_seed(4)
    return [(torch.rand(8, 784, generator=g), torch.rand(8, 784, generator=g)),
            (torch.rand(3, 12, generator=g), torch.rand(3, 12, generator=g)),
            (torch.full((2, 5), 0.9), torch.zeros(2, 5))]


def _loss_reference(x_hat, x):
    d = (np.asarray(_to_numpy(x_hat), dtype=float) - np.asarray(_to_numpy(x), dtype=float))
    xh, xx = np.clip(_to_numpy(x_hat), 1e-7, 1 - 1e-7).astype(float), np.asarray(_to_numpy(x), dtype=float)
    return np.asarray(np.mean(d ** 2)), {
        "that is the SUM of squared errors: the lesson's loss is the mean over pixels and images": np.asarray(np.sum(d ** 2)),
        "that sums over the pixels of each image (squared error per image): take the mean over pixels too":
            np.asarray(np.mean(np.sum(d ** 2, axis=1))),
        "that is the root of the mean squared error: leave out the square root": np.asarray(np.sqrt(np.mean(d ** 2))),
        "that is the mean absolute error: square the differences": np.asarray(np.mean(np.abs(d))),
        "the differences are not squared: positive and negative errors cancel": np.asarray(np.mean(d)),
        "that is binary cross-entropy; this lesson's loss is the mean squared error":
            np.asarray(-np.mean(xx * np.log(xh) + (1 - xx) * np.log(1 - xh))),
    }, 1e-6


def check_reconstruction_loss(fn: Callable | None) -> bool:
    """Notebook 04: ``fn(x_hat, x)`` returns the reconstruction loss, the mean squared error over
    every pixel of every image (a scalar tensor), for ``x_hat`` and ``x`` of shape (N, D)."""
    return _check_with_mistakes("reconstruction loss", fn, _loss_cases(), _loss_reference, 1e-5,
                                "Hint: ((x_hat - x) ** 2).mean()")


def _step_setup(seed: int):
    """A tiny autoencoder, its SGD optimiser with stale gradients from an earlier batch, an input
    batch and a different target (a noisy input and its clean image)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):            # the learner's random state is left alone
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(12, 4), torch.nn.ReLU(), torch.nn.Linear(4, 12), torch.nn.Sigmoid())
    target = torch.rand(6, 12, generator=g)
    x_in = (target + 0.3 * torch.randn(6, 12, generator=g)).clamp(0, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    stale = torch.rand(6, 12, generator=g)
    ((model(stale) - stale.flip(0)) ** 2).mean().backward()          # gradients left from an earlier step
    return model, opt, x_in, target


def _step_outcome(model, returned) -> np.ndarray:
    import torch

    with torch.no_grad():
        params = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double().numpy()
    return np.concatenate([[float(np.asarray(_to_numpy(returned), dtype=float))], params])


def _step_variant(seed: int, *, target_is_input=False, reduce="mean", zero_grad=True, step=True):
    import torch

    model, opt, x_in, target = _step_setup(seed)
    if zero_grad:
        opt.zero_grad()
    x_hat = model(x_in)
    sq = (x_hat - (x_in if target_is_input else target)) ** 2
    loss = sq.sum() if reduce == "sum" else sq.mean()
    loss.backward()
    if step:
        opt.step()
    return _step_outcome(model, loss.detach())


def check_train_step(fn: Callable | None) -> bool:
    """Notebook 04: ``fn(model, optimizer, x_in, target)`` performs ONE training step — clear the old
    gradients, reconstruct ``x_in``, the mean squared error against ``target``, back-propagate, step —
    and returns that loss (a number or a scalar tensor). The check runs it on a tiny network with an
    SGD optimiser that still holds gradients from an earlier batch, with ``x_in`` a noisy copy of
    ``target``, and compares the loss and every parameter after the step with the right step."""
    name = "one training step"
    if not_attempted(fn):
        print(f"⏳ {name}: not attempted yet. Write the function, or reveal the solution below.")
        return False
    for seed in (0, 1):
        model, opt, x_in, target = _step_setup(seed)
        before = _step_outcome(model, 0.0)[1:]
        try:
            returned = fn(model, opt, x_in, target)
        except NotImplementedError:
            print(f"⏳ {name}: not attempted yet (NotImplementedError). Reveal the solution below if stuck.")
            return False
        except Exception as err:  # the learner's code may raise anything
            return _say(False, name, f"raised {type(err).__name__}: {err}.")
        if returned is None or returned is Ellipsis:
            print(f"⏳ {name}: not attempted yet, or the step does not return the loss (returned {returned!r}).")
            return False
        try:
            got = _step_outcome(model, returned)
        except Exception:
            return _say(False, name, f"return the loss as a number or a scalar tensor, got {type(returned).__name__}.")
        want = _step_variant(seed)
        if np.allclose(got, want, rtol=1e-5, atol=1e-7):
            continue
        if np.allclose(got[1:], before, rtol=0, atol=0):
            return _say(False, name, "the parameters did not change: call optimizer.step() after loss.backward() "
                                     "(and optimizer.zero_grad() before backward, not after it).")
        for why, kw in (("the loss compares the output with the network's input; compare it with the "
                         "target (here the input is a noisy copy of the target)", {"target_is_input": True}),
                        ("the loss is a sum: the lesson's loss is the mean over pixels and images (a sum "
                         "makes each step hundreds of times larger)", {"reduce": "sum"}),
                        ("gradients of an earlier step were added to this one: call optimizer.zero_grad() "
                         "before loss.backward()", {"zero_grad": False})):
            if np.allclose(got, _step_variant(seed, **kw), rtol=1e-5, atol=1e-7):
                return _say(False, name, why + ".")
        if np.allclose(got[1:], want[1:], rtol=1e-5, atol=1e-7):
            return _say(False, name, "the step is right but the returned number is not this step's loss "
                                     "(return the loss computed before optimizer.step()).")
        return _say(False, name, "the parameters after the step differ from one step of the mean squared error "
                                 "against the target. Hint: zero_grad, forward, loss, backward, step.")
    return _say(True, name, "the loss and every parameter after the step match the right step (2 test networks).")


# --- notebooks 05-07 (issue 16b): one greedy layer, the corruption, the DAE step ------------------
# The expected behaviour lives here; feedback names the mistake, never the expected numbers.

def _not_yet(name: str) -> bool:
    print(f"⏳ {name}: not attempted yet. Write the function, or reveal the solution below.")
    return False


def check_greedy_layer(fn: Callable | None, x, widths=(64, 16), epochs: int = 1) -> bool:
    """Notebook 05: ``fn(frozen, x, width, epochs)`` trains ONE new layer greedily and returns its
    encoder: a one-hidden-layer autoencoder ``codes → width → codes`` trained on the codes
    ``frozen(x)`` of the layers below (``frozen``: an ``nn.Module``, images (N, D) → codes (N, d),
    left unchanged), its encoder (an ``nn.Module`` (N, d) → (N, width)) returned.

    The check builds a stack of ``len(widths)`` layers with it on the images ``x`` (N, D): the first
    layer on the pixels (``frozen`` = ``nn.Identity()``), each next one on the codes of the layers
    returned so far. Rejected, each with its own reason: training on the raw pixels instead of the
    codes, changing the frozen layers, and returning the decoder (or the whole autoencoder).
    """
    import torch

    name = "one greedy layer"
    if not_attempted(fn):
        return _not_yet(name)
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or len(x) < 100:
        raise ValueError("check_greedy_layer needs images x of shape (N, D) with N >= 100")
    x = x.detach().cpu().float()
    stack: list[torch.nn.Module] = []
    for width in widths:
        frozen = torch.nn.Sequential(*stack) if stack else torch.nn.Identity()
        before = {k: v.detach().clone() for k, v in frozen.state_dict().items()}
        with torch.no_grad():
            codes = frozen(x)
        d = codes.shape[1]
        out, problem = _call(fn, (frozen, x, width, epochs))
        if problem == "not attempted":
            return _not_yet(name)
        if problem:
            return _say(False, name, problem + ".")
        after = frozen.state_dict()
        if any(not torch.equal(before[k], after[k].detach().cpu().to(before[k].dtype)) for k in before):
            return _say(False, name, "the frozen layers changed: greedy pretraining trains only the NEW layer "
                                     "(compute the codes once under torch.no_grad(), give the optimiser only "
                                     "the new autoencoder's parameters).")
        if not isinstance(out, torch.nn.Module):
            return _say(False, name, f"expected the new layer's encoder (an nn.Module), got {type(out).__name__}.")
        out = out.cpu().eval()

        def maps(inp, width_out):
            try:
                with torch.no_grad():
                    y = out(inp)
            except Exception:
                return None
            return y if isinstance(y, torch.Tensor) and y.shape == (len(inp), width_out) else None

        if maps(codes[:64], width) is None:
            if d != x.shape[1] and maps(x[:64], width) is not None:
                return _say(False, name, f"your layer reads the {x.shape[1]} raw pixels: greedy training of a "
                                         f"layer uses the {d}-number CODES of the frozen layers below, frozen(x).")
            if maps(torch.rand(64, width), d) is not None:
                return _say(False, name, f"you returned the decoder (width → {d}); return the encoder, the half "
                                         "that is stacked on the layers below.")
            if maps(codes[:64], d) is not None:
                return _say(False, name, f"your module maps its input back to {d} numbers: that is the whole "
                                         "autoencoder; return only its encoder (codes → width).")
            return _say(False, name, f"the returned encoder must map codes (N, {d}) to (N, {width}).")
        with torch.no_grad():
            h = out(codes)
        if not torch.isfinite(h).all():
            return _say(False, name, "the new layer's output contains NaN or infinity.")
        stack.append(out)
    return _say(True, name, f"a stack of {len(widths)} greedy layers, each trained on the frozen codes below it.")


def check_corruption(fn: Callable | None, sigma: float = 0.3) -> bool:
    """Notebook 06: ``fn(x)`` returns the seminar's corrupted input ``x + sigma · N(0, 1)``: fresh
    Gaussian noise for every pixel of every image at each call, not clipped, ``x`` left unchanged.

    Rejected, each with its own reason: σ² (or √σ) as the scale, clipping to [0, 1], one noise value
    per image, uniform noise, the same noise at every call, no noise, and changing ``x`` in place.
    """
    import torch

    name = "the seminar's corruption"
    if not_attempted(fn):
        return _not_yet(name)
    g = torch.Generator().manual_seed(16)
    x = torch.rand(400, 784, generator=g)
    keep = x.clone()
    outs = []
    for _ in range(2):
        out, problem = _call(fn, (x,))
        if problem == "not attempted":
            return _not_yet(name)
        if problem:
            return _say(False, name, problem + ".")
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            return _say(False, name, f"expected a tensor of the input's shape {tuple(x.shape)}.")
        outs.append(out.detach().double())
    if not torch.equal(x, keep):
        return _say(False, name, "your function changed its input x in place: the clean image is the "
                                 "target, so it must stay clean (return x + noise, don't add into x).")
    noise = outs[0] - x.double()
    sd = float(noise.std())
    if sd < 1e-6:
        return _say(False, name, "no noise was added.")
    if torch.equal(outs[0], outs[1]):
        return _say(False, name, "both calls gave the same noise: each batch needs fresh noise "
                                 "(don't reseed inside the function).")
    if float(outs[0].min()) >= 0 and float(outs[0].max()) <= 1 and float((outs[0] == 0).double().mean()) > 0.01:
        return _say(False, name, "the noisy images are clipped to [0, 1]; the seminar feeds x + noise as it is.")
    if float(noise.std(1).mean()) < 1e-6:
        return _say(False, name, "each image got one noise value for all its pixels: every pixel needs its own draw.")
    if abs(sd - sigma ** 2) < 0.1 * sigma ** 2:
        return _say(False, name, "the noise's standard deviation is σ² = 0.09: σ = 0.3 multiplies N(0, 1) "
                                 "directly (it is the standard deviation, not the variance).")
    if abs(sd - math.sqrt(sigma)) < 0.05 * math.sqrt(sigma):
        return _say(False, name, "the noise's standard deviation is √0.3: you treated σ = 0.3 as the variance; "
                                 "it is the standard deviation (multiply N(0, 1) by it).")
    if abs(sd - sigma) > 0.03 * sigma or abs(float(noise.mean())) > 0.01:
        return _say(False, name, "the noise does not have mean 0 and standard deviation σ = 0.3.")
    tail = float((noise.abs() > 2 * sigma).double().mean())   # Gaussian: 4.6 %; uniform of that spread: 0 %
    if tail < 0.02:
        return _say(False, name, "the noise is not Gaussian (torch.rand draws uniform noise; use torch.randn).")
    return _say(True, name, "fresh Gaussian noise of the right size on every pixel, unclipped.")


def check_dae_step(fn: Callable | None, sigma: float = 0.3) -> bool:
    """Notebook 06: ``fn(model, opt, x_clean)`` does one denoising step and returns the loss (a float):
    input ``x_clean + sigma · N(0, 1)`` (not clipped), output ``model(input)``, loss the MSE between
    the output and the CLEAN batch, then ``zero_grad``, ``backward``, ``step``.

    The check runs it on a small sigmoid network with plain SGD, records what the model was fed and
    compares the update with the gradient of the right loss. Rejected, each with its own reason: the
    noisy batch as the target, no noise on the input, noise of the wrong size, a missing
    ``zero_grad`` or ``step``, and a returned loss that is not the step's.
    """
    import torch
    from torch import nn

    name = "one denoising training step"
    if not_attempted(fn):
        return _not_yet(name)
    torch.manual_seed(616)
    model = nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 784), nn.Sigmoid())
    lr = 0.5
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x = torch.rand(64, 784, generator=torch.Generator().manual_seed(61))
    seen: list[torch.Tensor] = []
    hook = model.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))

    def grads_for(params, inp, target):
        ref = nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 784), nn.Sigmoid())
        ref.load_state_dict(params)
        loss = ((ref(inp) - target) ** 2).mean()
        loss.backward()
        return [p.grad.detach().clone() for p in ref.parameters()], float(loss.detach())

    previous = None
    try:
        for step in range(2):
            params = {k: v.detach().clone() for k, v in model.state_dict().items()}
            seen.clear()
            got, problem = _call(fn, (model, opt, x.clone()))
            if problem == "not attempted":
                return _not_yet(name)
            if problem:
                return _say(False, name, problem + ".")
            if not seen:
                return _say(False, name, "the model was never called.")
            inp = seen[0]
            noise = inp - x
            if float(noise.abs().max()) < 1e-6:
                return _say(False, name, "the model was fed the clean batch: a DAE's input is the corrupted "
                                         "image, x_clean + σ·N(0, 1).")
            if float(inp.min()) >= 0 and float(inp.max()) <= 1:
                return _say(False, name, "the noisy input is clipped to [0, 1]; the seminar does not clip it.")
            if abs(float(noise.std()) - sigma) > 0.05 * sigma:
                return _say(False, name, "the input's noise does not have standard deviation σ = 0.3.")
            now = [p.detach() for p in model.parameters()]
            before = [params[k] for k in params]
            moved = [b - a for a, b in zip(now, before)]     # = lr · (gradient used)
            if all(float(m.abs().max()) == 0 for m in moved):
                return _say(False, name, "the weights did not change: call opt.step() after loss.backward().")
            right, right_loss = grads_for(params, inp, x)
            if not all(torch.allclose(m, lr * g, rtol=1e-3, atol=1e-7) for m, g in zip(moved, right)):
                noisy_target, _ = grads_for(params, inp, inp)
                if all(torch.allclose(m, lr * g, rtol=1e-3, atol=1e-7) for m, g in zip(moved, noisy_target)):
                    return _say(False, name, "the loss compares the output with the NOISY input: the target "
                                             "of a denoising autoencoder is the clean image.")
                if previous is not None and all(torch.allclose(m, lr * (g + p), rtol=1e-3, atol=1e-7)
                                                for m, g, p in zip(moved, right, previous)):
                    return _say(False, name, "the previous step's gradients were added to this one: call "
                                             "opt.zero_grad() before loss.backward().")
                return _say(False, name, "the update is not that of the mean squared error between the output "
                                         "for the noisy input and the clean batch.")
            try:
                loss_value = float(got)
            except Exception:
                return _say(False, name, f"return the loss as a number (loss.item()), got {type(got).__name__}.")
            if not math.isclose(loss_value, right_loss, rel_tol=1e-4, abs_tol=1e-7):
                return _say(False, name, "the returned loss is not this step's loss (the MSE before the update).")
            previous = right
    finally:
        hook.remove()
    return _say(True, name, "noisy input, clean target, one clean update per call, loss returned.")


# --- notebook 09: the variational autoencoder ------------------------------------------------------

def _reparameterize_cases():
    import torch

    g = torch.Generator().manual_seed(9)
    return [(torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g) - 0.5, torch.randn(6, 3, generator=g)),
            (torch.zeros(4, 2), torch.full((4, 2), -2.0), torch.randn(4, 2, generator=g)),
            (torch.randn(10, 5, generator=g), 2 * torch.rand(10, 5, generator=g) - 1, torch.randn(10, 5, generator=g))]


def check_reparameterize(fn: Callable | None) -> bool:
    """Notebook 09: ``fn(mu, logvar, eps)`` returns z = mu + σ·eps with σ = exp(logvar / 2), for
    tensors (N, L), in a way gradients flow through: checked by the value of z and by the gradients
    of z.sum() with respect to ``mu`` (ones) and ``logvar`` (½·σ·eps)."""
    import torch

    name = "reparameterisation z = μ + σ·ε"
    if not_attempted(fn):
        print(f"⏳ {name}: not attempted yet. Write the function, or reveal the solution below.")
        return False
    for mu0, lv0, eps in _reparameterize_cases():
        mu, lv = mu0.clone().requires_grad_(True), lv0.clone().requires_grad_(True)
        got, problem = _run(fn, (mu, lv, eps.clone()))
        if problem == "not attempted":
            print(f"⏳ {name}: not attempted yet. Reveal the solution below if stuck.")
            return False
        if problem:
            return _say(False, name, problem + ".")
        m, v, e = (t.double().numpy() for t in (mu0, lv0, eps))
        std = np.exp(0.5 * v)
        if got.shape != m.shape:
            return _say(False, name, f"z must have the shape of mu {m.shape}, got {got.shape}.")
        if not np.isfinite(got).all():
            return _say(False, name, "z contains NaN or infinity: a square root or log of a negative "
                                     "log-variance? logvar can be any real number; σ = exp(logvar / 2).")
        mistakes = {
            "σ is exp(logvar), not exp(logvar / 2): the ½ is missing (that squares the standard deviation)":
                m + np.exp(v) * e,
            "logvar was used as the standard deviation itself; σ = exp(logvar / 2)": m + v * e,
            "logvar was used as the variance (σ = √logvar); it is the *log* of the variance": m + np.sqrt(np.abs(v)) * e,
            "the noise is missing: z must be μ + σ·ε, not μ": m,
            "the mean is missing: z = μ + σ·ε": std * e,
        }
        if not np.allclose(got, m + std * e, rtol=1e-5, atol=1e-6):
            why = _first_match(got, mistakes, 1e-5, 1e-6)
            return _say(False, name, (why or f"wrong z for a test input (max difference "
                                             f"{np.max(np.abs(got - (m + std * e))):.3g})") + ".")
        z = fn(mu, lv, eps.clone())
        if not isinstance(z, torch.Tensor) or not z.requires_grad:
            return _say(False, name, "the right values, but no gradient flows back to mu and logvar "
                                     "(was z detached, built with torch.normal, or converted to numpy?).")
        g_mu, g_lv = torch.autograd.grad(z.sum(), (mu, lv), allow_unused=True)
        if g_mu is None or g_lv is None:
            return _say(False, name, f"no gradient reaches {'mu' if g_mu is None else 'logvar'}.")
        if not np.allclose(g_mu.double().numpy(), 1.0, atol=1e-5) or \
                not np.allclose(g_lv.double().numpy(), 0.5 * std * e, rtol=1e-4, atol=1e-6):
            return _say(False, name, "the values are right but the gradients to mu or logvar are not: "
                                     "build z from mu, logvar and eps with torch operations only.")
    return _say(True, name, "right values, and the gradients to μ and log σ² are those of μ + exp(log σ²/2)·ε.")


def _kl_reference(mu, logvar):
    m, v = (np.asarray(_to_numpy(t), dtype=float) for t in (mu, logvar))
    per_dim = m ** 2 + np.exp(v) - 1 - v
    want = 0.5 * per_dim.sum(1)
    return want, {
        "the ½ in front is missing: KL = ½ Σ (μ² + σ² − 1 − log σ²)": per_dim.sum(1),
        "the sign is flipped: a KL divergence is never negative": -want,
        "this is the mean over the latent dimensions; the KL of a diagonal Gaussian is their *sum*": 0.5 * per_dim.mean(1),
        "logvar was used as the variance: σ² = exp(logvar) and log σ² = logvar":
            0.5 * (m ** 2 + v - 1 - np.log(np.abs(v) + 1e-300)).sum(1),
        "the −1 is missing: KL = ½ Σ (μ² + σ² − 1 − log σ²) is 0 when q = N(0, I)": 0.5 * (m ** 2 + np.exp(v) - v).sum(1),
    }, 1e-5


def check_gaussian_kl(fn: Callable | None) -> bool:
    """Notebook 09: ``fn(mu, logvar)`` returns KL(N(mu, diag exp(logvar)) ‖ N(0, I)) for each row of
    the (N, L) tensors: a tensor (N,) in nats."""
    import torch

    g = torch.Generator().manual_seed(19)
    cases = [(torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)),
             (torch.zeros(3, 2), torch.zeros(3, 2)),
             (2 * torch.randn(16, 20, generator=g), 3 * torch.rand(16, 20, generator=g) - 2)]
    name = "KL(q ‖ N(0, I)) of a diagonal Gaussian"
    if not_attempted(fn):
        print(f"⏳ {name}: not attempted yet. Write the function, or reveal the solution below.")
        return False
    for mu, lv in cases:
        got, problem = _run(fn, (mu, lv))
        if problem is None and got.ndim == 0:
            return _say(False, name, "expected one KL per row (a tensor of shape (N,)), got a single number: "
                                     "sum over the latent dimensions only (dim=1), not over the batch.")
    return _check_with_mistakes(name, fn, cases, _kl_reference, 1e-4,
                                "Hint: σ² = exp(logvar); KL = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²) per row.")


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
