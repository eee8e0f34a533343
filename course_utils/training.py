"""Training and evaluation of autoencoders on tensors (plain PyTorch, no DataLoader).

``fit`` takes a model and image tensors, not a dataset: it moves the data to the device once,
shuffles by index, corrupts each batch on the fly when ``noise`` is given (targets stay clean),
uses mixed precision on CUDA only when asked and supported (``choose_autocast``), flushes denormal floats on the CPU while it trains
(``device.flush_denormals``; ``reconstruct`` and ``mse`` do not: no gain measured, see
benchmarks/README.md), and shows a single tqdm bar. On the CPU it trains plain MLPs (Linear layers
and sigmoid / tanh / ReLU / GELU, the "mse" or "bce" loss) with a hand-written backward pass
(``_MLPStep``): the kernels autograd would call, without its graph, bit for bit the same weights.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Union

import torch
from torch import nn

from .data import check_images, check_seed, noise_function
from .device import flush_denormals, pick_device, tune_threads
from .memory import heap_batch_size, tune_heap
from .models import Autoencoder

__all__ = ["History", "fit", "code_l1_objective", "penalty_objective", "reconstruct", "mse", "make_corruptor", "check_images", "choose_autocast"]

NoiseSpec = Union[None, float, tuple, dict, Callable[[torch.Tensor, torch.Generator], torch.Tensor]]


@dataclass
class History:
    """What a training run did. Lists have one entry per epoch (the last may be partial)."""

    train_loss: list[float] = field(default_factory=list)
    test_mse: list[float] = field(default_factory=list)
    seconds: float = 0.0
    samples_per_sec: float = 0.0
    epochs_run: float = 0.0
    stopped_by_budget: bool = False
    device: str = "cpu"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def make_corruptor(noise: NoiseSpec) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    """Turn a noise spec into ``f(x, generator) -> noisy x``, checked once here (not per batch).

    Spec: ``None`` (no corruption), a number (Gaussian level, the seminar's ``x + level·N(0,1)``),
    ``(kind, level)``, ``{"kind": ..., "level": ..., "clip": ...}`` (``kind`` and ``level``
    required), or a callable ``f(x, generator)``.
    """
    if noise is None:
        return None
    if callable(noise):
        return noise
    return noise_function(**_noise_settings(noise))


_NOISE_HELP = "noise must be None, a level, (kind, level), a dict with 'kind' and 'level', or a callable"


def _noise_settings(noise) -> dict:
    """The keyword arguments of :func:`course_utils.data.noise_function` that ``noise`` stands for."""
    if isinstance(noise, bool):
        raise ValueError(f"{_NOISE_HELP}, got a bool")
    if isinstance(noise, (int, float)):
        return {"kind": "gaussian", "level": noise}
    if isinstance(noise, tuple) and len(noise) == 2:
        return {"kind": noise[0], "level": noise[1]}
    if isinstance(noise, dict):
        missing = {"kind", "level"} - set(noise)
        unknown = set(noise) - {"kind", "level", "clip"}
        if missing or unknown:
            raise ValueError(f"{_NOISE_HELP}; the dict {noise!r} lacks {sorted(missing)} or has unknown "
                             f"keys {sorted(unknown)}")
        return dict(noise)
    raise ValueError(f"{_NOISE_HELP}, got {noise!r}")


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_model(model) -> torch.nn.Parameter:
    """The first parameter of ``model`` (it tells the device and dtype), or a ValueError."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    first = next(model.parameters(), None)
    if first is None:
        raise ValueError(f"model must have parameters to train or evaluate; {type(model).__name__} has none")
    return first


def _check_output(out, batch: torch.Tensor, where: str) -> None:
    """A ValueError unless the model's output ``out`` is a tensor shaped like its target ``batch``."""
    if not isinstance(out, torch.Tensor) or out.shape != batch.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"model output must have the shape of its target {tuple(batch.shape)} "
                         f"({where}), got {got}")


def _check_finite_loss(window: list[torch.Tensor], first_step: int, epoch: int, lr: float) -> None:
    """A ValueError naming the first non-finite loss of ``window`` (losses of steps from ``first_step``)."""
    losses = torch.stack(window).float()
    bad = torch.nonzero(~torch.isfinite(losses))
    if len(bad) == 0:
        return
    i = int(bad[0])
    raise ValueError(
        f"training stopped at epoch {epoch + 1}, step {first_step + i + 1}: the loss is "
        f"{float(losses[i])} (not finite). Likely cause: the learning rate lr={lr:g} is too high for "
        f"this initialisation (try one 10x smaller), or the loss function returns NaN (call it on one "
        f"batch to see)")


def choose_autocast(device_type: str, capability: tuple[int, int] | None = None,
                    bf16_supported: bool = False, requested: bool = False) -> tuple[torch.dtype | None, bool, str]:
    """(autocast dtype or None for fp32, whether a gradient scaler is needed, why) for ``fit``.

    A pure function of the hardware: ``device_type`` (``"cuda"``, ``"mps"``, ``"cpu"``), the CUDA
    ``capability`` (major, minor) and whether the GPU has bf16 (``torch.cuda.is_bf16_supported()``).
    Mixed precision is used only when ``requested`` (``fit(amp=True)``): for these small networks
    it was measured slower (H200: bf16 autocast 133k against 173k samples/s in fp32; the cast
    kernels cost more than the matrix products save). When requested: bf16 on Ampere and later
    (capability ≥ 8.0 with bf16), fp16 with a gradient scaler on Volta and Turing (7.x: V100,
    Colab's T4, which has fp16 tensor cores but no bf16), fp32 on older GPUs (no tensor cores) and
    off CUDA (CPU autocast in bf16 gives different numbers on every CPU)."""
    if device_type not in ("cuda", "mps", "cpu"):
        raise ValueError(f"device_type must be 'cuda', 'mps' or 'cpu', got {device_type!r}")
    if not isinstance(requested, bool) or not isinstance(bf16_supported, bool):
        raise ValueError("requested and bf16_supported must be True or False")
    if capability is not None and (not isinstance(capability, tuple) or len(capability) != 2
                                   or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                              for v in capability)):
        raise ValueError(f"capability must be (major, minor) such as (7, 5) or None, got {capability!r}")
    if not requested:
        return None, False, "fp32 (mixed precision off: measured slower for these small networks)"
    if device_type != "cuda":
        return None, False, f"fp32 (mixed precision is used on CUDA only, not on {device_type})"
    if capability is None:
        raise ValueError("capability is needed for a CUDA device")
    if capability >= (8, 0) and bf16_supported:
        return torch.bfloat16, False, f"bf16 autocast (compute capability {capability[0]}.{capability[1]})"
    if capability >= (7, 0):
        return torch.float16, True, (f"fp16 autocast with a gradient scaler (compute capability "
                                     f"{capability[0]}.{capability[1]}: fp16 tensor cores, no bf16)")
    return None, False, f"fp32 (compute capability {capability[0]}.{capability[1]}: no tensor cores)"


def _amp_plan(device: torch.device, requested: bool) -> tuple[torch.dtype | None, bool, str]:
    """:func:`choose_autocast` for this device (asks CUDA for its capability only when needed)."""
    if requested and device.type == "cuda":
        return choose_autocast("cuda", tuple(torch.cuda.get_device_capability(device)),
                               bool(torch.cuda.is_bf16_supported()), True)
    return choose_autocast(device.type, None, False, requested)


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is not None and device.type == "cuda":
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def _denormals_flushed(device: torch.device):
    """:class:`course_utils.device.flush_denormals` on the CPU; nothing elsewhere (GPUs flush or
    handle denormals at full speed)."""
    return flush_denormals() if device.type == "cpu" else contextlib.nullcontext()


def _make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """Adam or SGD, with the fused kernel where this torch and device have one.

    The default (for-loop) Adam on the CPU walks the ~1M parameters of the seminar DAE about six
    times per step (a quarter of the step's time in a profile); the fused kernel walks them once.
    Same algorithm, results equal up to float rounding, still deterministic on the CPU. Fused CPU
    kernels exist from torch 2.4; older versions (or devices without one) raise at construction,
    and we fall back to the default implementation.
    """
    params = list(params)
    cls = torch.optim.Adam if name == "adam" else torch.optim.SGD
    try:
        return cls(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return cls(params, lr=lr)


# --- the hand-written backward pass of plain MLPs (the CPU's fast path) --------------------------

#: Activation modules :class:`_MLPStep` differentiates by hand, with the aten backward kernel autograd
#: itself calls for them, from the layer's output (in place) or, for GELU, from its input.
_BY_HAND = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu", nn.GELU: "gelu", nn.Identity: None}
_REDUCTION_MEAN = 1  # at::Reduction::Mean, the reduction of the aten loss kernels


def _plain_layers(model: nn.Module) -> list[nn.Module] | None:
    """The modules ``model``'s forward pass applies one after the other, if it is a plain MLP: an
    ``nn.Sequential`` (or a :class:`course_utils.models.Autoencoder`, whose forward is encoder then
    decoder) of ``nn.Linear`` layers and the activations in ``_BY_HAND``, with no hooks, every
    parameter a float32 tensor that needs its gradient. Anything else: None (autograd trains it)."""
    if type(model) is nn.Sequential:
        layers = list(model)
    elif type(model) is Autoencoder:
        layers = [*model.encoder, *model.decoder]
        if type(model.encoder) is not nn.Sequential or type(model.decoder) is not nn.Sequential:
            return None
    else:
        return None
    glob = nn.modules.module
    if (any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or getattr(m, "_backward_pre_hooks", None)
            for m in model.modules()) or any(getattr(p, "_backward_hooks", None) for p in model.parameters())
            or any(getattr(glob, name, None) for name in ("_global_forward_hooks", "_global_forward_pre_hooks",
                                                         "_global_backward_hooks", "_global_backward_pre_hooks"))):
        return None  # hooks would not run without autograd's graph
    if not layers or not isinstance(layers[0], nn.Linear):
        return None
    for m in layers:
        if type(m) is nn.Linear:
            if m.bias is None:
                return None
        elif type(m) not in _BY_HAND or (type(m) is nn.GELU and m.approximate not in ("none", "tanh")):
            return None
    if any(p.dtype != torch.float32 or not p.requires_grad or p.device.type != "cpu" for p in model.parameters()):
        return None
    return layers


class _MLPStep:
    """Loss and gradients of a plain MLP (:func:`_plain_layers`) for one batch, without autograd.

    The same kernels autograd runs (``addmm``, the activations' and the loss's aten backward ops,
    ``mm`` for the weight and input gradients, a column sum for the bias), called directly: no graph
    is recorded, no gradient buffer is allocated or zeroed (each step writes the previous one's), and
    the weight gradient is written in the weight's layout (autograd's arrives transposed). On 2 CPU
    cores this makes a step of the seminar DAE about 1 ms shorter (benchmarks/README.md, part 1)."""

    def __init__(self, layers: list[nn.Module], loss: str):
        self.loss = loss
        self.one = torch.ones(())  # the loss's own gradient, d loss / d loss
        self.blocks: list[list] = []  # [Linear, [the activation modules after it]]
        for m in layers:  # a Linear, then any activations after it
            if type(m) is nn.Linear:
                self.blocks.append([m, []])
            elif _BY_HAND[type(m)] is not None:
                self.blocks[-1][1].append(m)
        for lin, _ in self.blocks:
            for p in (lin.weight, lin.bias):
                if p.grad is None or p.grad.shape != p.shape or p.grad.stride() != p.stride():
                    p.grad = torch.zeros_like(p)

    def __call__(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, output) for the batch x (B, D_in) and its target (B, D_out); the parameters'
        ``.grad`` hold the loss's gradients afterwards."""
        with torch.no_grad():
            saved = []  # per block: its input, and per activation what its backward needs
            h = x
            for lin, acts in self.blocks:
                a_in = h
                h = torch.addmm(lin.bias, h, lin.weight.t())
                kept = []
                for act in acts:
                    kind = _BY_HAND[type(act)]
                    if kind == "gelu":
                        kept.append((kind, h, act.approximate))
                        h = nn.functional.gelu(h, approximate=act.approximate)
                    elif kept:  # a second activation: keep the first one's output as it is
                        h = torch.sigmoid(h) if kind == "sigmoid" else torch.tanh(h) if kind == "tanh" else torch.relu(h)
                        kept.append((kind, h, None))
                    else:       # the first: in place on the layer's own output
                        (h.sigmoid_() if kind == "sigmoid" else h.tanh_() if kind == "tanh" else h.relu_())
                        kept.append((kind, h, None))
                saved.append((a_in, kept))
            out = h
            if out.shape != target.shape:
                return None, out  # fit refuses it (_check_output)
            one = self.one
            if self.loss == "mse":
                value = torch.ops.aten.mse_loss(out, target, _REDUCTION_MEAN)
                g = torch.ops.aten.mse_loss_backward(one, out, target, _REDUCTION_MEAN)
            else:
                value = torch.ops.aten.binary_cross_entropy(out, target, None, _REDUCTION_MEAN)
                g = torch.ops.aten.binary_cross_entropy_backward(one, out, target, None, _REDUCTION_MEAN)
            for k in range(len(self.blocks) - 1, -1, -1):
                lin, _ = self.blocks[k]
                a_in, kept = saved[k]
                for kind, t, approximate in reversed(kept):
                    if kind == "sigmoid":
                        g = torch.ops.aten.sigmoid_backward(g, t)
                    elif kind == "tanh":
                        g = torch.ops.aten.tanh_backward(g, t)
                    elif kind == "relu":
                        g = torch.ops.aten.threshold_backward(g, t, 0)
                    else:
                        g = torch.ops.aten.gelu_backward(g, t, approximate=approximate)
                torch.mm(g.t(), a_in, out=lin.weight.grad)
                torch.sum(g, 0, out=lin.bias.grad)
                if k > 0:
                    g = torch.mm(g, lin.weight)
        return value, out


def _by_hand(model: nn.Module, loss, objective, amp_dtype, device: torch.device) -> _MLPStep | None:
    """The hand-written step for ``fit``, where it applies: a plain MLP (:func:`_plain_layers`) on the
    CPU in fp32, trained on the "mse" or "bce" loss without an objective. Elsewhere None: autograd."""
    if not BY_HAND or device.type != "cpu" or amp_dtype is not None or objective is not None or loss not in ("mse", "bce"):
        return None
    layers = _plain_layers(model)
    return None if layers is None else _MLPStep(layers, loss)


#: ``fit`` trains plain MLPs on the CPU with :class:`_MLPStep` (bit for bit autograd's gradients);
#: False makes it use autograd for every model (the tests compare the two).
BY_HAND: bool = True


def _progress(step: int, total_steps: int, start: float, time_budget: float | None) -> float:
    """Share of the run done, in [0, 1]: steps done, or budget spent when that is further along."""
    done = step / total_steps
    if time_budget is not None:
        done = max(done, (time.perf_counter() - start) / time_budget)
    return min(done, 1.0)


def _set_lr(opt: torch.optim.Optimizer, lr: float, progress: float) -> None:
    """Cosine decay from ``lr`` (progress 0) to 0 (progress 1)."""
    for group in opt.param_groups:
        group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * progress))


Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _loss_function(loss: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    losses = {"mse": nn.functional.mse_loss, "bce": nn.functional.binary_cross_entropy}
    if not isinstance(loss, str) or loss not in losses:
        raise ValueError(f"loss must be 'mse' or 'bce', got {loss!r}")
    return losses[loss]


def _weight(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    return float(value)


def code_l1_objective(weight: float, loss: str = "mse") -> Objective:
    """The sparse autoencoder's batch loss for ``fit(..., objective=…)`` (notebook 07):
    ``loss(decode(z), target) + weight · mean |z|`` with ``z = encode(input)`` (B, code). The model
    needs ``encode`` and ``decode``."""
    weight, loss_fn = _weight(weight, "the L1 weight"), _loss_function(loss)

    def objective(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not (callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None))):
            raise ValueError("an L1 penalty on the code needs a model with encode and decode")
        z = model.encode(x)
        return loss_fn(model.decode(z).float(), target) + weight * z.float().abs().mean()

    return objective


def penalty_objective(penalty: Callable[[nn.Module, torch.Tensor], torch.Tensor], weight: float,
                      loss: str = "mse") -> Objective:
    """``loss(model(input), target) + weight · penalty(model, input)`` for ``fit(..., objective=…)``:
    a penalty (a scalar tensor) on the model at the (corrupted) input batch (B, D), such as notebook
    08's contractive penalty on the Jacobian."""
    if not callable(penalty):
        raise ValueError(f"penalty must be a function (model, x_batch) -> scalar tensor, got {penalty!r}")
    weight, loss_fn = _weight(weight, "the penalty's weight"), _loss_function(loss)

    def objective(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        extra = penalty(model, x)
        if not isinstance(extra, torch.Tensor) or extra.numel() != 1:
            raise ValueError(f"penalty must return a scalar tensor, got {type(extra).__name__}"
                             f"{tuple(extra.shape) if isinstance(extra, torch.Tensor) else ''}")
        return loss_fn(model(x).float(), target) + weight * extra.float().reshape(())

    return objective


def fit(
    model: nn.Module,
    x_train: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    noise: NoiseSpec = None,
    x_test: torch.Tensor | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
    time_budget: float | None = None,
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = "mse",
    optimizer: str = "adam",
    amp: bool = False,
    y_train: torch.Tensor | None = None,
    lr_schedule: str = "constant",
    on_epoch: Callable[[int, nn.Module, "History"], None] | None = None,
    objective: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> History:
    """Train ``model`` to reconstruct ``x_train`` (N, D); return a :class:`History`.

    Args:
        model: maps (B, D) to (B, D) (an ``nn.Module`` with parameters; another output shape is
            refused at the first batch). It is moved to ``device`` and left there, in eval mode.
        x_train: (N, D) float images. The targets are ``y_train`` if given, else ``x_train``.
            Any finite real values are trained on (standardised data such as the Swiss roll too);
            float16 / bfloat16 / float64 are converted to float32. Refused with a ValueError:
            integer tensors, NaN or infinity, and non-negative data with values above 1 (images
            in 0..255: divide by 255). The same holds for ``x_test`` and ``y_train``; the data
            are checked once here, not in every step.
        epochs, batch_size, lr: as usual (Adam by default; ``optimizer="sgd"`` for plain SGD).
        noise: corrupt each batch on the fly (see :func:`make_corruptor`); targets stay clean.
        x_test: (M, D) images; after each epoch the test MSE of reconstructing them from a fixed
            corrupted copy (same noise spec, fixed seed) is recorded.
        device: default :func:`course_utils.device.pick_device`. On the CPU, a plain MLP (an
            ``nn.Sequential`` or :class:`course_utils.models.Autoencoder` of Linear layers and
            sigmoid, tanh, ReLU or GELU) trained on "mse" or "bce" takes its gradients from a
            hand-written backward pass instead of autograd (same kernels, same numbers, ~1 ms less
            per step of the seminar DAE); any other model, loss or objective uses autograd.
        seed: seeds the shuffling and the noise (and nothing else: seed the model's
            initialisation yourself with ``torch.manual_seed``). Deterministic on the CPU.
        progress: one tqdm bar over epochs.
        time_budget: stop after this many seconds (a positive finite number, checked after every
            batch).
        loss: ``"mse"``, ``"bce"`` or a callable ``loss(output, target)``.
        amp: ``False`` (default, fp32) / ``True``: mixed precision where the GPU has it, chosen by
            :func:`choose_autocast` (bf16 on Ampere and later, fp16 with a gradient scaler on
            Volta/Turing such as Colab's T4, fp32 elsewhere). Off by default: for these small
            networks it was measured slower (``benchmarks/gpu_check.sh`` measures it).
        lr_schedule: ``"constant"`` (default) or ``"cosine"``: the learning rate falls from ``lr``
            to 0 along half a cosine over the run. The run's progress is the larger of the share of
            steps done and, with ``time_budget``, the share of the budget spent, so a budgeted run
            reaches the end of its schedule when its time is up.
        on_epoch: called as ``on_epoch(epoch, model, history)`` after each epoch (``epoch`` from 1),
            e.g. to record measurements of a long run as it goes; training resumes after it returns.
        objective: the batch loss as ``objective(model, input_batch, target_batch)`` (a scalar tensor),
            used instead of ``loss(model(input), target)`` for a model whose loss needs more than its
            output: notebook 09's VAE (:func:`course_utils.vae.elbo_objective`), notebook 07's sparse
            autoencoder (:func:`code_l1_objective`), notebook 08's contractive one
            (:func:`penalty_objective`). ``model(x)`` must still map (B, D) to (B, D): it gives the
            recorded test MSE.

    Raises:
        ValueError: a bad argument, or a training loss that is not finite: training stops at the
            first such step (checked every step on the CPU, every 25 steps elsewhere) with the
            epoch, the step, the loss and its likely cause (learning rate too high, or a loss
            function returning NaN), instead of returning a History full of NaN.
    """
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    tune_heap()
    tune_threads()
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if time_budget is not None and (isinstance(time_budget, bool) or not isinstance(time_budget, (int, float))
                                    or not 0 < time_budget < math.inf):
        raise ValueError(f"time_budget must be a positive finite number of seconds or None, got {time_budget!r}")
    seed = check_seed(seed)
    for flag, value in (("amp", amp), ("progress", progress)):
        if not isinstance(value, bool):
            raise ValueError(f"{flag} must be True or False, got {value!r}")
    _check_model(model)
    check_images(x_train, "x_train", pixels=True)
    dim = x_train.shape[1]
    targets = x_train
    if y_train is not None:
        check_images(y_train, "y_train", pixels=True)
        if y_train.shape[0] != x_train.shape[0]:
            raise ValueError(f"y_train must have {x_train.shape[0]} rows like x_train, got {y_train.shape[0]}")
        targets = y_train
    if x_test is not None:
        check_images(x_test, "x_test", dim, pixels=True)
    if isinstance(loss, str):
        losses = {"mse": nn.functional.mse_loss, "bce": nn.functional.binary_cross_entropy}
        if loss not in losses:
            raise ValueError(f"unknown loss {loss!r}; expected 'mse', 'bce' or a callable")
        loss_fn = losses[loss]
    elif callable(loss):
        loss_fn = loss
    else:
        raise ValueError(f"loss must be 'mse', 'bce' or a callable, got {loss!r}")
    if not isinstance(optimizer, str) or optimizer not in ("adam", "sgd"):
        raise ValueError(f"unknown optimizer {optimizer!r}; expected 'adam' or 'sgd'")
    if not isinstance(lr_schedule, str) or lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; expected 'constant' or 'cosine'")
    if objective is not None and not callable(objective):
        raise ValueError(f"objective must be None or a function (model, x, target) -> loss, got {objective!r}")
    if on_epoch is not None and not callable(on_epoch):
        raise ValueError(f"on_epoch must be None or a function (epoch, model, history), got {on_epoch!r}")
    corrupt = make_corruptor(noise)
    user_noise = callable(noise)

    dev = pick_device(device)
    model.to(dev)
    xs = x_train.to(dev, torch.float32)  # the data moves to the device once
    ts = xs if targets is x_train else targets.to(dev, torch.float32)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    test_in = None
    if x_test is not None:
        x_test = x_test.to(dev, torch.float32)
        test_gen = torch.Generator(device=dev)
        test_gen.manual_seed(seed + 1)
        test_in = corrupt(x_test, test_gen) if corrupt else x_test
    opt = _make_optimizer(optimizer, model.parameters(), lr)
    amp_dtype, use_scaler, _ = _amp_plan(dev, amp)
    scaler = torch.amp.GradScaler("cuda") if use_scaler else None
    by_hand = _by_hand(model, loss, objective, amp_dtype, dev)

    hist = History(device=str(dev))
    n = xs.shape[0]
    total_steps = epochs * math.ceil(n / batch_size)
    step = 0
    seen = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc="training", unit="epoch", leave=True)
    on_cpu = dev.type == "cpu"
    check_every = 25  # off the CPU a check syncs: only every 25 steps
    start = time.perf_counter()
    try:
        with _denormals_flushed(dev):  # the seminar's saturated sigmoids (see device.flush_denormals)
            for epoch in range(epochs):
                model.train()
                perm = torch.randperm(n, generator=gen, device=dev)
                total = torch.zeros((), device=dev)
                sum_cpu = 0.0
                done = 0
                window: list[torch.Tensor] = []
                for i in range(0, n, batch_size):
                    idx = perm[i:i + batch_size]
                    xb = xs.index_select(0, idx)  # cheaper than xs[idx] (no advanced-indexing path)
                    # targets share the gathered batch unless a user callable might corrupt in place
                    tb = xb if (ts is xs and not user_noise) else ts.index_select(0, idx)
                    if corrupt is not None:
                        xb = corrupt(xb, gen)
                    if by_hand is not None:
                        batch_loss, out = by_hand(xb, tb)
                        if step == 0:
                            _check_output(out, tb, "first training batch")
                    elif objective is not None:
                        with _autocast(dev, amp_dtype):
                            batch_loss = objective(model, xb, tb)
                        if step == 0 and (not isinstance(batch_loss, torch.Tensor) or batch_loss.numel() != 1):
                            raise ValueError("objective must return the batch loss as a scalar tensor, got "
                                             f"{getattr(batch_loss, 'shape', type(batch_loss).__name__)}")
                        batch_loss = batch_loss.float().reshape(())
                    else:
                        with _autocast(dev, amp_dtype):
                            out = model(xb)
                        if step == 0:
                            _check_output(out, tb, "first training batch")
                        batch_loss = loss_fn(out.float(), tb)
                    if on_cpu:  # one scalar read, no sync to wait for: check every step
                        value = batch_loss.item()
                        if not math.isfinite(value):
                            _check_finite_loss([batch_loss.detach()], step, epoch, lr)
                        sum_cpu += value * len(idx)
                    else:
                        window.append(batch_loss.detach())
                        if len(window) == check_every:
                            _check_finite_loss(window, step - len(window) + 1, epoch, lr)
                            window = []
                    if by_hand is not None:  # the gradients are in .grad already
                        opt.step()
                    elif scaler is None:
                        opt.zero_grad(set_to_none=True)
                        batch_loss.backward()
                        opt.step()
                    else:  # fp16: scale the loss so small gradients survive, unscale in the step
                        opt.zero_grad(set_to_none=True)
                        scaler.scale(batch_loss).backward()
                        scaler.step(opt)
                        scaler.update()
                    step += 1
                    if lr_schedule == "cosine":
                        _set_lr(opt, lr, _progress(step, total_steps, start, time_budget))
                    if not on_cpu:
                        total += batch_loss.detach() * len(idx)
                    done += len(idx)
                    if time_budget is not None and time.perf_counter() - start > time_budget:
                        hist.stopped_by_budget = True
                        break
                if window:
                    _check_finite_loss(window, step - len(window), epoch, lr)
                seen += done
                hist.train_loss.append((sum_cpu if on_cpu else float(total)) / done)
                hist.epochs_run += done / n
                if test_in is not None:
                    hist.test_mse.append(mse(model, test_in, x_test, batch_size=max(batch_size, 1000)))
                if bar is not None:
                    post = {"loss": f"{hist.train_loss[-1]:.4f}"}
                    if hist.test_mse:
                        post["test"] = f"{hist.test_mse[-1]:.4f}"
                    bar.set_postfix(post)
                    bar.update(1)
                if on_epoch is not None:
                    on_epoch(epoch + 1, model, hist)
                if hist.stopped_by_budget:
                    break
    finally:
        if bar is not None:
            bar.close()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    hist.seconds = time.perf_counter() - start
    hist.samples_per_sec = seen / hist.seconds if hist.seconds > 0 else 0.0
    model.eval()
    return hist


def _batched_outputs(model: nn.Module, x: torch.Tensor, batch_size: int):
    """Yield ``(start, model(x[start:start + batch_size]))`` (float, on the model's device) in eval
    mode, restoring the model's mode afterwards. On the CPU the batches may be smaller than
    ``batch_size``: :func:`course_utils.memory.heap_batch_size` keeps each layer's output on the heap."""
    first = _check_model(model)
    batch_size = _positive_int(batch_size, "batch_size")
    was_training = model.training
    model.eval()
    try:
        if x.shape[0] > 1:  # layer outputs that stay on the heap (course_utils.memory: page faults)
            batch_size = heap_batch_size(model, x[:1].to(first.device, first.dtype), batch_size)
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size].to(first.device, first.dtype)  # float16 / float64 in: the model's dtype
            out = model(xb)
            _check_output(out, xb, f"images {i}..{i + len(xb) - 1}")
            yield i, out.float()
    finally:
        model.train(was_training)


@torch.no_grad()
def reconstruct(model: nn.Module, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Run ``model`` on ``x`` (N, D) in eval mode, in batches; returns (N, D) float32 on ``x``'s device.

    ``model``: an ``nn.Module`` with parameters mapping (B, D) to (B, D). ``x``: finite floats of any
    float dtype (converted to the model's); integer tensors and images in 0..255 (non-negative with
    values above 1) are refused with a ValueError, negative values (noisy inputs) are not."""
    check_images(x, "x", pixels=True)
    return torch.cat([out.to(x.device) for _, out in _batched_outputs(model, x, batch_size)])


@torch.no_grad()
def mse(model: nn.Module, x_in: torch.Tensor, x_target: torch.Tensor | None = None,
        batch_size: int = 2000) -> float:
    """Mean squared error per pixel between ``model(x_in)`` and ``x_target`` (default ``x_in``).

    Computed batch by batch (sums in float64), so scoring 60 000 images never holds their
    reconstructions in memory at once. Inputs are checked as in :func:`reconstruct`: integer
    tensors, NaN and images in 0..255 are refused with a ValueError."""
    target = x_in if x_target is None else x_target
    check_images(target, "x_target", pixels=True)
    check_images(x_in, "x_in", pixels=True)
    if x_in.shape != target.shape:
        raise ValueError(f"x_in {tuple(x_in.shape)} and x_target {tuple(target.shape)} must match")
    total = 0.0
    for i, out in _batched_outputs(model, x_in, batch_size):
        diff = out - target[i:i + out.shape[0]].to(out.device)  # not in place: out may alias x_in
        total += float(diff.pow_(2).sum(dtype=torch.float64))
    return total / target.numel()
