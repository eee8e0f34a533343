"""The few-label linear probe of notebook 07: how much do an autoencoder's codes help a classifier?

Features of images — raw pixels, the top-32 principal components, the 32-number code of
``latent_model(32)``, the 32-number code of the sparse autoencoder (:func:`recipes.sparse`: a ReLU
code with an L1 penalty) or the 256-number code of notebook 06's repaired denoising autoencoder
(:func:`recipes.dae` row ``DAE_FIXED``) — standardized with statistics of the unlabelled training images (cached, so
a prepared kernel never loads the 60 000 images for them), then a logistic regression trained on
a few labelled images. Nothing but the classifier sees a label.

The classifier is scikit-learn's ``LogisticRegression(C=1.0)`` (multinomial, L2 penalty, bias not
penalised) written in torch and solved by L-BFGS in float64 (:func:`fit_logistic`); with it and
:func:`knn_accuracy`, notebook 07's kernel does not import scikit-learn (80 MB resident).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import torch

from . import config, data, recipes, results, store
from .pca import principal_axes
from .training import _positive_int

__all__ = ["PROBE_LABELS", "PROBE_FEATURES", "PROBE_CODE_SIZE", "feature_maps", "probe_features",
           "probe_config", "probe_labelled", "probe_accuracy", "probe_sweep", "fit_logistic", "knn_accuracy"]

#: Labelled-image counts of the linear probe and the probe's features.
PROBE_LABELS: tuple[int, ...] = config.pick((10, 30, 100, 300, 1000), (10, 100, 1000))
PROBE_FEATURES: tuple[str, ...] = ("pixels", "PCA", "autoencoder", "sparse autoencoder", "denoising autoencoder")
PROBE_CODE_SIZE: int = 32

Maps = dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor]]


@torch.no_grad()
def _encode(model: torch.nn.Module, x: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    model = model.cpu().eval()
    return torch.cat([model.encode(x[i:i + batch]) for i in range(0, len(x), batch)])


def _pca_coefficients(z: torch.Tensor, mean: torch.Tensor, top: torch.Tensor, chunk: int = 10_000) -> torch.Tensor:
    return torch.cat([(z[i:i + chunk] - mean) @ top for i in range(0, len(z), chunk)])


def feature_maps() -> Maps:
    """``{kind: (map, mean, std)}`` for every kind but ``"pixels"``: ``map`` turns images (N, 784)
    into (N, F) features (F = 32; 256 for the denoising autoencoder's code), ``mean``/``std`` (F,)
    are theirs on the unlabelled training images. The PCA axes and the statistics are cached, keyed
    by the unlabelled images and the models' recipes, so they always belong to the models served."""
    models = _probe_models()
    n = config.size("mnist_train")
    cfg = {"n_unlabelled": n, "data_seed": 0, "pca_components": PROBE_CODE_SIZE,
           "ae": recipes.latent(PROBE_CODE_SIZE).key(), "std": "unbiased, clamped at 1e-6",
           "more": {k: r.key() for k, r in _probe_recipes().items() if k != "ae"}}

    def compute():
        x = data.shared_images("train", n=n, seed=0)
        mean, top = principal_axes(x, PROBE_CODE_SIZE)
        out = {"pca_mean": mean, "pca_top": top}
        feats = [("pca", _pca_coefficients(x, mean, top))] + [(k, _encode(m, x)) for k, m in models.items()]
        for name, fx in feats:
            out[f"{name}_mu"], out[f"{name}_sd"] = fx.mean(0), fx.std(0).clamp_min(1e-6)
        return out

    s = {k: torch.as_tensor(np.asarray(v)) for k, v in results.load_or_compute("probe_stats", compute, cfg).items()}
    maps: Maps = {"PCA": (lambda z: _pca_coefficients(z, s["pca_mean"], s["pca_top"]), s["pca_mu"], s["pca_sd"])}
    for kind, key in _MODEL_KINDS.items():
        maps[kind] = ((lambda m: lambda z: _encode(m, z))(models[key]), s[f"{key}_mu"], s[f"{key}_sd"])
    return maps


#: Probe kinds served by a trained model -> short key of its statistics.
_MODEL_KINDS = {"autoencoder": "ae", "sparse autoencoder": "sparse", "denoising autoencoder": "dae"}


def _probe_recipes() -> dict:
    return {"ae": recipes.latent(PROBE_CODE_SIZE), "sparse": recipes.sparse(PROBE_CODE_SIZE),
            "dae": recipes.dae(recipes.DAE_FIXED)}


def _probe_models() -> dict:
    return {k: store.trained(r)[0] for k, r in _probe_recipes().items()}


def probe_features(x: torch.Tensor, kind: str, maps: Maps | None = None) -> torch.Tensor:
    """Features (N, F) of images ``x`` (N, 784) for the linear probe: ``"pixels"`` (as they are, F =
    784) or one of the other PROBE_FEATURES (F = 32, or 256 for ``"denoising autoencoder"``;
    standardized, see :func:`feature_maps`, which is called when ``maps`` is not given)."""
    data.check_images(x, "x", 784)
    if kind not in PROBE_FEATURES:
        raise ValueError(f"kind must be one of {PROBE_FEATURES}, got {kind!r}")
    if kind == "pixels":
        return x
    fmap, mu, sd = (feature_maps() if maps is None else maps)[kind]
    return (fmap(x) - mu) / sd


class LogisticModel(NamedTuple):
    """A fitted multinomial logistic regression: ``weight`` (F, K), ``bias`` (K,) float64 and the
    ``classes`` (K,) its K outputs stand for."""
    weight: torch.Tensor
    bias: torch.Tensor
    classes: torch.Tensor

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable class (N,) of each feature row of ``x`` (N, F)."""
        data.check_images(x, "x", self.weight.shape[0])
        return self.classes[(x.double() @ self.weight + self.bias).argmax(1)]

    def score(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Share of the rows of ``x`` (N, F) whose predicted class equals ``y`` (N,)."""
        return float((self.predict(x) == _check_labels(y, len(x))).double().mean())


def _check_labels(y, n: int) -> torch.Tensor:
    if not isinstance(y, torch.Tensor) or y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool \
            or y.shape != (n,):
        raise ValueError(f"expected integer class labels of shape ({n},) as a tensor, got "
                         f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}")
    return y


def fit_logistic(x: torch.Tensor, y: torch.Tensor, C: float = 1.0, max_iter: int = 1000) -> LogisticModel:
    """Multinomial logistic regression on features ``x`` (N, F) and labels ``y`` (N,): the weight W
    (F, K) and bias b (K,) minimising the mean cross-entropy of softmax(xW + b) plus
    ``||W||² / (2 C N)`` — scikit-learn's ``LogisticRegression(C=C)``, whose bias is not penalised
    either. Solved by L-BFGS in float64 until the largest gradient entry is below 1e-6 (scikit-learn
    stops at 1e-4); the problem is convex, so its solution is unique. Used by notebook 07."""
    data.check_images(x, "x")
    y = _check_labels(y, len(x))
    if isinstance(C, bool) or not isinstance(C, (int, float)) or not C > 0 or C == float("inf"):
        raise ValueError(f"C must be a positive finite number, got {C!r}")
    _positive_int(max_iter, "max_iter")
    classes, target = torch.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"expected labels of at least 2 classes, got only {classes.tolist()}")
    x = x.detach().double()
    w = torch.zeros(x.shape[1], len(classes), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(classes), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter, tolerance_grad=1e-6, tolerance_change=1e-14,
                            history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, target) + (w * w).sum() / (2 * C * len(x))
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return LogisticModel(w.detach(), b.detach(), classes)


def knn_accuracy(train: torch.Tensor, y_train: torch.Tensor, test: torch.Tensor, y_test: torch.Tensor,
                 k: int = 5, chunk: int = 100) -> float:
    """Share of the test points ``test`` (N, d) whose ``k`` nearest training points ``train`` (M, d)
    (Euclidean) vote for their label (``y_test`` (N,), ``y_train`` (M,)); a tie goes to the smallest
    label, as in scikit-learn's ``KNeighborsClassifier(k)``. Taught in notebook 04, used by 07."""
    data.check_images(train, "train")
    data.check_images(test, "test", train.shape[1])
    y_train, y_test = _check_labels(y_train, len(train)), _check_labels(y_test, len(test))
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(train):
        raise ValueError(f"k must be an integer from 1 to the {len(train)} training points, got {k!r}")
    _positive_int(chunk, "chunk")
    classes, label = torch.unique(y_train, return_inverse=True)          # sorted classes, (M,) their indices
    train, right = train.float(), 0
    for i in range(0, len(test), chunk):
        near = torch.cdist(test[i:i + chunk].float(), train).topk(k, largest=False).indices  # (chunk, k)
        votes = torch.nn.functional.one_hot(label[near], len(classes)).sum(1)   # (chunk, classes); argmax takes
        right += int((classes[votes.argmax(1)] == y_test[i:i + chunk]).sum())  # the first, smallest label, of a tie
    return right / len(test)



def probe_config() -> dict:
    """The full configuration of the linear-probe sweep (every setting it depends on)."""
    return {"labels": list(PROBE_LABELS), "features": list(PROBE_FEATURES),
            "draws": config.size("probe_draws"), "n_test": config.size("mnist_test"),
            "n_unlabelled": config.size("mnist_train"), "ae": recipes.latent(PROBE_CODE_SIZE).key(),
            "more": {k: r.key() for k, r in _probe_recipes().items() if k != "ae"},
            "classifier": "fit_logistic(C=1.0, max_iter=1000): torch L-BFGS float64, gradient tolerance 1e-6",
            "label_seeds": "1+draw"}


def probe_labelled(n: int, draw: int):
    """The ``draw``-th class-balanced set of ``n`` labelled training images: ``(x (n, 784), y (n,))``."""
    return data.load_mnist("train", n=n, seed=1 + draw)


def probe_accuracy(n: int, draw: int, kind: str, x_test=None, y_test=None, maps: Maps | None = None) -> float:
    """Test accuracy of a logistic-regression classifier (:func:`fit_logistic`) trained on ``n``
    labelled images (draw ``draw``) described by ``kind`` features (see :func:`probe_features`)."""
    if x_test is None:
        x_test, y_test = data.mnist_test()
    maps = feature_maps() if maps is None and kind != "pixels" else maps
    x, y = probe_labelled(n, draw)
    clf = fit_logistic(probe_features(x, kind, maps), y, C=1.0, max_iter=1000)
    return clf.score(probe_features(x_test, kind, maps), y_test)


def probe_sweep() -> dict:
    """Linear-probe test accuracy for every (feature kind, labelled count, draw), cached:
    ``{"labels" (L,), "accuracy" (features, L, draws)}`` with features in PROBE_FEATURES order."""
    cfg = probe_config()

    def compute():
        xt, yt = data.load_mnist("test", n=cfg["n_test"], seed=0)
        maps = feature_maps()
        acc = np.zeros((len(PROBE_FEATURES), len(PROBE_LABELS), cfg["draws"]))
        for i, kind in enumerate(PROBE_FEATURES):
            for j, n in enumerate(PROBE_LABELS):
                for d in range(cfg["draws"]):
                    acc[i, j, d] = probe_accuracy(n, d, kind, xt, yt, maps)
        return {"labels": np.asarray(PROBE_LABELS), "accuracy": acc}

    return results.load_or_compute("probe_sweep", compute, cfg)
