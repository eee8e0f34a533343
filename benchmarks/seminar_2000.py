"""The seminar's DAE at the seminar's budget: 2000 epochs of the exact recipe, recorded once.

    python -m benchmarks.seminar_2000 [--epochs 2000] [--every 10] [--device cpu|cuda|mps] [--out FILE]

The recipe is ``course_utils.recipes.dae("seminar")`` (784-512-256-512-784, sigmoid after every
layer, weights and biases from N(0, 1), MSE, Adam 0.01, batch 300, input = image + 0.3·N(0, 1),
target = the clean image) on TF1's ``mnist.train``: the first 55 000 of the 60 000 training images.
Every ``--every`` epochs it records the test MSE on the course's fixed noisy test copy (all 10 000
test images), the "do nothing" baseline, the share of saturated sigmoid units per hidden layer
(slope σ'(z) < 0.01 on 1 000 test images) and the wall time, and rewrites the results file — so a
run that is stopped keeps what it measured, labelled with the epochs it reached. The file records
the machine, the command and the date; notebook 06 shows it as a recorded run.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from .common import REPO, load_average, machine, setup_environment

DEFAULT_OUT = REPO / "benchmarks" / "results" / "seminar_2000epochs.json"
TF1_TRAIN = 55_000  # TF1's input_data.read_data_sets: the first 55 000 training images, 5 000 kept for validation


@torch.no_grad()
def saturation(model: torch.nn.Module, x: torch.Tensor, threshold: float = 0.01) -> list[float]:
    """Share of sigmoid units with slope below ``threshold`` in each hidden layer, on images ``x``."""
    shares, h = [], x
    layers = [m for m in [*model.encoder, *model.decoder]]
    for lin, act in zip(layers[0::2], layers[1::2]):
        z = lin(h)
        s = torch.sigmoid(z)
        shares.append(float((s * (1 - s) < threshold).float().mean()))
        h = act(z)
    return shares[:-1]  # the output layer is not a hidden layer


def run(epochs: int = 2000, every: int = 10, device: str | None = None, out: Path = DEFAULT_OUT,
        n_train: int = TF1_TRAIN, n_test: int | None = None) -> dict:
    from course_utils import data, recipes, training
    from course_utils.device import pick_device

    if epochs < 1 or every < 1:
        raise ValueError(f"epochs and every must be positive, got {epochs} and {every}")
    recipe = recipes.dae("seminar")
    dev = pick_device(device)
    x_all, _ = data.load_mnist("train")
    x = x_all[:n_train].clone()
    del x_all
    clean, noisy = data.noisy_test("gaussian", recipe.noise_level, n=n_test)
    model = recipe.build()
    record = {"what": "the seminar's DAE, exact recipe, trained for the seminar's budget",
              "recipe": recipe.key(), "n_train": len(x), "n_test": len(clean), "epochs_planned": epochs,
              "machine": machine(), "device": str(dev),
              "command": "python -m benchmarks.seminar_2000 " + " ".join(sys.argv[1:]),
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "do_nothing_mse": float(((noisy - clean) ** 2).mean()),
              "epoch": [], "test_mse": [], "saturated": [], "seconds": [], "cpu_seconds": [], "load_average": []}
    start, cpu_start = time.perf_counter(), time.process_time()

    def measure(epoch: int, net: torch.nn.Module, _history) -> None:
        if epoch % every and epoch != epochs:
            return
        record["epoch"].append(epoch)
        record["test_mse"].append(training.mse(net, noisy, clean))
        record["saturated"].append(saturation(net.eval(), noisy[:1000].to(next(net.parameters()).device)))
        record["seconds"].append(round(time.perf_counter() - start, 1))
        record["cpu_seconds"].append(round(time.process_time() - cpu_start, 1))  # load-independent cost
        record["load_average"].append(load_average())  # what else the machine was doing
        record["epochs_done"] = epoch
        record["status"] = "complete" if epoch == epochs else f"partial: {epoch} of {epochs} epochs"
        record["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        _write(out, record)
        print(f"epoch {epoch:5d}: test MSE {record['test_mse'][-1]:.5f} (do nothing "
              f"{record['do_nothing_mse']:.5f}), saturated {['%.2f' % s for s in record['saturated'][-1]]}, "
              f"{record['seconds'][-1]:.0f} s", flush=True)

    history = training.fit(
        model, x, epochs=epochs, batch_size=recipe.batch_size, lr=recipe.lr, noise=recipe.noise(),
        seed=recipe.seed, device=dev, progress=False, loss=recipe.loss, optimizer=recipe.optimizer,
        lr_schedule=recipe.lr_schedule, on_epoch=measure)
    record["samples_per_sec"] = history.samples_per_sec
    record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _write(out, record)
    return record


def _write(out: Path, record: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.seminar_2000", description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--every", type=int, default=10, help="record every this many epochs")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    args = p.parse_args(argv)
    setup_environment()
    run(args.epochs, args.every, args.device, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
