"""PyTorch's thread count follows the CPUs the process may really use (issue 17, target 8): the
affinity mask and the cgroup CPU quota (v1 and v2) of the process's own cgroup, read from fake
cgroup trees in tmp folders; ``COURSE_THREADS`` overrides; ``binder/start`` agrees."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_utils import device

ROOT = Path(__file__).resolve().parents[1]
FOUR = {0, 1, 2, 3}


def v2_tree(tmp_path: Path, cpu_max: dict[str, str], own: str = "/user.slice/session-1.scope",
            unified: bool = False) -> tuple[Path, Path]:
    """A cgroup v2 mount (``cgroup.controllers`` at its root, or in ``unified/`` for the hybrid
    layout) with ``cpu.max`` files at the given relative folders; and a /proc/self/cgroup for ``own``."""
    root = tmp_path / "cgroup"
    mount = root / "unified" if unified else root
    mount.mkdir(parents=True)
    (mount / "cgroup.controllers").write_text("cpu memory\n")
    for folder, text in cpu_max.items():
        d = mount / folder.strip("/")
        d.mkdir(parents=True, exist_ok=True)
        (d / "cpu.max").write_text(text + "\n")
    (mount / own.strip("/")).mkdir(parents=True, exist_ok=True)
    proc = tmp_path / "proc_cgroup"
    proc.write_text(f"0::{own}\n")
    return root, proc


def v1_tree(tmp_path: Path, quotas: dict[str, tuple[int, int]], own: str = "/docker/abc",
            name: str = "cpu,cpuacct") -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    mount = root / name
    mount.mkdir(parents=True)
    for folder, (quota, period) in quotas.items():
        d = mount / folder.strip("/")
        d.mkdir(parents=True, exist_ok=True)
        (d / "cpu.cfs_quota_us").write_text(f"{quota}\n")
        (d / "cpu.cfs_period_us").write_text(f"{period}\n")
    (mount / own.strip("/")).mkdir(parents=True, exist_ok=True)
    proc = tmp_path / "proc_cgroup"
    proc.write_text(f"12:pids:/\n5:{name}:{own}\n4:memory:{own}\n0::/\n")
    return root, proc


def choose(root, proc, current=16, affinity=FOUR, **env):
    return device.choose_threads(current, environ=env, affinity=affinity, cgroup_root=root, proc_cgroup=proc)


@pytest.mark.parametrize("cpu_max, want", [("150000 100000", 1), ("250000 100000", 2), ("50000 100000", 1),
                                           ("max 100000", 4), ("800000 100000", 4), ("200000", 2)])
def test_v2_quota_of_the_process_own_cgroup(tmp_path, cpu_max, want):
    root, proc = v2_tree(tmp_path, {"/user.slice/session-1.scope": cpu_max})
    n, why = choose(root, proc)
    assert n == want, why
    if want < 4:
        assert "quota" in why and "session-1.scope" in why and f"lowered to {want}" in why


def test_v2_in_the_hybrid_layout_and_a_quota_on_an_ancestor(tmp_path):
    root, proc = v2_tree(tmp_path, {"/user.slice": "100000 100000", "/user.slice/session-1.scope": "max 100000"},
                         unified=True)
    assert choose(root, proc)[0] == 1  # the parent's quota limits its children too
    # a quota in a sibling cgroup is not ours
    root2, proc2 = v2_tree(tmp_path / "b", {"/other.slice": "100000 100000"})
    assert choose(root2, proc2)[0] == 4


@pytest.mark.parametrize("name", ["cpu", "cpu,cpuacct"])
def test_v1_cfs_quota(tmp_path, name):
    root, proc = v1_tree(tmp_path, {"/docker/abc": (200000, 100000), "/": (-1, 100000)}, name=name)
    assert choose(root, proc) [0] == 2
    assert choose(root, proc, current=1)[0] == 1  # never more than torch would use (OMP_NUM_THREADS)
    root2, proc2 = v1_tree(tmp_path / "b", {"/": (-1, 100000)})  # -1: no quota
    assert choose(root2, proc2)[0] == 4


def test_a_container_namespace_shows_its_cgroup_as_the_root(tmp_path):
    """In a container /proc/self/cgroup may name a path that does not exist under the mount (the
    mount's root is the container's own cgroup): the root's quota then applies."""
    root, proc = v1_tree(tmp_path, {"/": (100000, 100000)}, own="/docker/abc")
    (root / "cpu,cpuacct" / "docker" / "abc").rmdir()
    assert choose(root, proc)[0] == 1


def test_affinity_mask_without_quota_and_binder(tmp_path):
    root, proc = tmp_path / "none", tmp_path / "nothing"  # no cgroup files at all (macOS, Windows)
    assert choose(root, proc, affinity={3}) == (1, "1 CPU(s) in the affinity mask; torch would use 16, lowered to 1")
    assert choose(root, proc, affinity=set(range(8)), current=8)[0] == 8
    n, why = choose(root, proc, affinity=set(range(8)), current=8, BINDER_LAUNCH_HOST="https://mybinder.org/")
    assert n == 2 and "Binder" in why


def test_damaged_cgroup_files_are_no_quota(tmp_path):
    root, proc = v2_tree(tmp_path, {"/user.slice/session-1.scope": "garbage here"})
    assert choose(root, proc)[0] == 4
    root2, proc2 = v1_tree(tmp_path / "b", {"/docker/abc": (0, 0)})
    assert choose(root2, proc2)[0] == 4
    (tmp_path / "bad_proc").write_bytes(b"\xff\xfe not a cgroup file")
    assert choose(root, tmp_path / "bad_proc")[0] == 4


def test_course_threads_overrides_and_is_validated(tmp_path):
    root, proc = v2_tree(tmp_path, {"/user.slice/session-1.scope": "100000 100000"})
    assert choose(root, proc, COURSE_THREADS="3") == (3, "COURSE_THREADS=3")
    assert choose(root, proc, COURSE_THREADS=" 2 ")[0] == 2
    assert choose(root, proc, COURSE_THREADS="")[0] == 1  # empty: not set
    for bad in ("0", "-1", "two", "1.5", "2x"):
        with pytest.raises(ValueError, match="COURSE_THREADS must be a positive whole number"):
            choose(root, proc, COURSE_THREADS=bad)


def test_this_process_reads_the_real_files():
    n, why = device.available_cpus()
    assert 1 <= n <= (os.cpu_count() or 1) and "affinity" in why
    quota, where = device.cgroup_cpu_quota()
    assert quota is None or (quota > 0 and Path(where).is_file())


def test_tune_threads_sets_torch_once_and_describe_runtime_says_why(tmp_path):
    probe = ("import torch\n"
             "from course_utils import device\n"
             "before = torch.get_num_threads()\n"
             "info = device.runtime_info('cpu')\n"
             "print(before, torch.get_num_threads(), device.tune_threads.cache_info().currsize)\n"
             "print(info['cpu threads'])\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_THREADS",)}
    r = subprocess.run([sys.executable, "-c", probe], env={**env, "COURSE_THREADS": "1", "OMP_NUM_THREADS": "2"},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    assert first.split() == ["2", "1", "1"]
    assert second == "1 (COURSE_THREADS=1)"
    bad = subprocess.run([sys.executable, "-c", "from course_utils import device; device.tune_threads()"],
                         env={**env, "COURSE_THREADS": "many"}, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "COURSE_THREADS must be a positive whole number" in bad.stderr


def test_importing_sets_nothing_and_fit_applies_it():
    probe = ("import torch, course_utils\n"
             "from course_utils import device, models, training\n"
             "print(device.tune_threads.cache_info().currsize, torch.get_num_threads())\n"
             "training.fit(models.linear_autoencoder(2), torch.rand(8, 784), epochs=1, batch_size=8, lr=1e-3,"
             " progress=False, device='cpu')\n"
             "print(device.tune_threads.cache_info().currsize, torch.get_num_threads())\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_THREADS",)}
    r = subprocess.run([sys.executable, "-c", probe], env={**env, "OMP_NUM_THREADS": "2", "COURSE_THREADS": "1"},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["0 2", "1 1"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="binder/start is a Linux shell script")
@pytest.mark.parametrize("layout", ["v2", "v2-parent", "v1", "v1-namespace", "none", "v2-max"])
def test_binder_start_agrees_with_choose_threads(tmp_path, layout):
    if layout == "v2":
        root, proc = v2_tree(tmp_path, {"/user.slice/session-1.scope": "150000 100000"})
    elif layout == "v2-parent":
        root, proc = v2_tree(tmp_path, {"/user.slice": "100000 100000"}, unified=True)
    elif layout == "v2-max":
        root, proc = v2_tree(tmp_path, {"/user.slice/session-1.scope": "max 100000"})
    elif layout == "v1":
        root, proc = v1_tree(tmp_path, {"/docker/abc": (100000, 100000)}, name="cpu")
    elif layout == "v1-namespace":
        root, proc = v1_tree(tmp_path, {"/": (100000, 50000)}, own="/kubepods/pod1")
        (root / "cpu,cpuacct" / "kubepods" / "pod1").rmdir()
    else:
        root, proc = tmp_path / "none", tmp_path / "nothing"
    env = {k: v for k, v in os.environ.items() if k != "COURSE_THREADS"}
    r = subprocess.run(["bash", str(ROOT / "binder" / "start"), "bash", "-c", "echo $COURSE_THREADS $OMP_NUM_THREADS"],
                       env={**env, "COURSE_CGROUP_ROOT": str(root), "COURSE_PROC_CGROUP": str(proc)},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    cpus = os.sched_getaffinity(0)
    want, why = device.choose_threads(1 << 10, environ={"BINDER_LAUNCH_HOST": "x"}, affinity=cpus,
                                      cgroup_root=root, proc_cgroup=proc)
    assert r.stdout.split() == [str(want), str(want)], (layout, why, r.stdout)
