"""Part 1b: training throughput under a 1-CPU quota, with the course's thread choice and with 1 and
2 threads (issue 17, target 8).

Each contender is a fresh Python process (threads are chosen once per process) running the
throughput part's ``fit`` (seminar DAE, batch 300, σ = 0.3, Adam 0.01, one epoch) after a warm-up,
and printing its samples/s and the thread count it ran with. The processes run inside a cgroup
whose CPU quota is one CPU: on Linux as root, a v2 child cgroup with ``cpu.max = 100000 100000``
where the v2 hierarchy has the cpu controller, else a v1 ``cpu`` cgroup with
``cpu.cfs_quota_us = 100000`` (period 100 000 µs). Where no cgroup can be made (not root, no
writable hierarchy, not Linux) the stand-in is the affinity mask (``taskset``-like: one CPU via
``os.sched_setaffinity`` in the child), and the report says so. Contenders are interleaved over the
repeats and the best of each is kept.

* default: ``COURSE_THREADS`` and ``OMP_NUM_THREADS`` unset, so ``course_utils.device`` chooses
  (from the quota or the mask);
* 1 and 2 threads: ``COURSE_THREADS=1`` / ``=2`` (the override).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .common import REPO, row

CHILD = r"""
import json, os, sys, time
if os.environ.get("BENCH_AFFINITY"):
    os.sched_setaffinity(0, {int(c) for c in os.environ["BENCH_AFFINITY"].split(",")})
import torch
from course_utils.data import load_mnist
from course_utils.device import available_cpus, tune_threads
from course_utils.models import seminar_dae
from course_utils.training import fit
n = int(sys.argv[1])
x, _ = load_mnist("train", n=n)
threads, why = tune_threads()
torch.manual_seed(0)
m = seminar_dae()
fit(m, x[:900], epochs=1, batch_size=300, lr=0.01, noise=0.3, progress=False, device="cpu")  # warm-up
torch.manual_seed(0)
m = seminar_dae()
h = fit(m, x, epochs=1, batch_size=300, lr=0.01, noise=0.3, progress=False, device="cpu")
print(json.dumps({"samples_per_sec": h.samples_per_sec, "threads": torch.get_num_threads(),
                  "why": why, "cpus": available_cpus()[0]}))
"""


def _v2_cpu_mount() -> Path | None:
    for mount in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        try:
            if "cpu" in (mount / "cgroup.controllers").read_text().split():
                return mount
        except OSError:
            continue
    return None


def make_quota_cgroup(cpus: float = 1.0) -> tuple[Path | None, str]:
    """(a fresh cgroup folder whose CPU quota is ``cpus``, or None; how, or why not)."""
    if not sys.platform.startswith("linux"):
        return None, "not Linux: no cgroups"
    if os.geteuid() != 0:
        return None, "not root: no cgroup can be made"
    name = f"course_bench_{os.getpid()}"
    period = 100_000
    v2 = _v2_cpu_mount()
    try:
        if v2 is not None:
            folder = v2 / name
            folder.mkdir()
            (folder / "cpu.max").write_text(f"{int(cpus * period)} {period}\n")
            return folder, f"cgroup v2 {folder} cpu.max = {int(cpus * period)} {period}"
        for v1 in (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/cpu,cpuacct")):
            if (v1 / "cpu.cfs_quota_us").exists():
                folder = v1 / name
                folder.mkdir()
                (folder / "cpu.cfs_period_us").write_text(f"{period}\n")
                (folder / "cpu.cfs_quota_us").write_text(f"{int(cpus * period)}\n")
                return folder, f"cgroup v1 {folder} cpu.cfs_quota_us = {int(cpus * period)} / {period}"
    except OSError as err:
        return None, f"could not make a cgroup: {err}"
    return None, "no writable cgroup hierarchy with the cpu controller"


def remove_cgroup(folder: Path | None) -> None:
    if folder is not None:
        try:
            folder.rmdir()
        except OSError:
            pass


def run_child(n: int, env: dict, cgroup: Path | None, timeout: float = 600) -> dict:
    """One contender: a fresh process (in ``cgroup`` when given) timing ``fit``; its JSON line."""
    def enter():  # runs in the child before exec: join the cgroup, so every thread it starts is in it
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    r = subprocess.run([sys.executable, "-c", CHILD, str(n)], env=env, capture_output=True, text=True,
                       timeout=timeout, preexec_fn=enter if cgroup is not None else None, cwd=str(REPO))
    if r.returncode != 0:
        raise RuntimeError(f"contender failed: {r.stderr.strip()[-400:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run(quick: bool = False, repeats: int | None = None, n_train: int | None = None, **_) -> dict:
    repeats = repeats or (1 if quick else 3)
    n = n_train or (1_500 if quick else 9_000)
    base = {k: v for k, v in os.environ.items()
            if k not in ("COURSE_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    base["PYTHONPATH"] = str(REPO) + (os.pathsep + base["PYTHONPATH"] if base.get("PYTHONPATH") else "")
    cgroup, how = make_quota_cgroup(1.0)
    limit = {"kind": "cgroup" if cgroup else "affinity", "how": how}
    if cgroup is None:
        limit["how"] = how + "; stand-in: the affinity mask limited to CPU 0 (as taskset -c 0)"
        base["BENCH_AFFINITY"] = "0"
    contenders = {"default": {}, "1 thread": {"COURSE_THREADS": "1"}, "2 threads": {"COURSE_THREADS": "2"}}
    found: dict[str, list[dict]] = {k: [] for k in contenders}
    t0 = time.perf_counter()
    try:
        for _ in range(repeats):
            for name, extra in contenders.items():
                found[name].append(run_child(n, {**base, **extra}, cgroup))
    finally:
        remove_cgroup(cgroup)
    res = {"limit": limit, "n_train": n, "repeats": repeats, "seconds_children": time.perf_counter() - t0,
           "contenders": {}}
    rows = [row("1-CPU limit", limit["kind"], "", "")]
    for name, runs in found.items():
        best = max(r["samples_per_sec"] for r in runs)
        res["contenders"][name] = {"samples_per_sec": best, "repeats": [r["samples_per_sec"] for r in runs],
                                   "threads": runs[0]["threads"], "why": runs[0]["why"]}
    d = res["contenders"]["default"]
    one, two = res["contenders"]["1 thread"]["samples_per_sec"], res["contenders"]["2 threads"]["samples_per_sec"]
    res["default_over_1"] = d["samples_per_sec"] / one
    res["default_over_2"] = d["samples_per_sec"] / two
    rows += [row(f"default choice: {d['threads']} thread(s)", round(d["samples_per_sec"]), "samples/s"),
             row("COURSE_THREADS=1", round(one), "samples/s"),
             row("COURSE_THREADS=2", round(two), "samples/s"),
             row("default / 1 thread, default / 2 threads",
                 f"{res['default_over_1']:.2f} / {res['default_over_2']:.2f}", "×"),
             row("default picks 1 thread under the 1-CPU limit", d["threads"] == 1, "", "yes", d["threads"] == 1)]
    res["rows"] = rows
    return res
