"""``python -m benchmarks [--quick] [--only NAME,...] [--out FILE] [--device DEV]``.

Runs the parts in order, prints one table, and writes every figure (with the machine it ran on)
to a JSON file. A part that fails is reported as failed in the table and the JSON; the others run.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from . import PARTS
from .common import REPO, busy, load_average, machine, setup_environment

DEFAULT_OUT = REPO / "benchmarks" / "results" / "latest.json"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke settings: tiny sizes, seconds per part")
    p.add_argument("--only", default="", help=f"comma-separated parts: {','.join(PARTS)}")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="JSON file to write (default %(default)s)")
    p.add_argument("--device", default="cpu", help="device for parts 1-3 (cpu, cuda, mps)")
    p.add_argument("--budget", type=float, default=None,
                   help="wall-clock training budget in seconds for the denoise part (default 60, quick 3)")
    p.add_argument("--recon-budget", type=float, default=None,
                   help="training budget in seconds for the reconstruction part (default 170, quick 3)")
    p.add_argument("--modes", default=None,
                   help="course part: comma-separated modes among fast, full, full-cached "
                        "(default all three; quick: fast)")
    p.add_argument("--notebooks", default=None,
                   help="course part: comma-separated notebook file names (default all; quick: the first)")
    p.add_argument("--cache", default=None,
                   help="pair part: a prepared model cache to run the two notebooks from (default: prepare one)")
    p.add_argument("--keep-cache", default=None,
                   help="course part: fill this (new or empty) folder with the full run's model cache and "
                        "keep it, e.g. for the widgets or pair part (default: a temporary folder)")
    p.add_argument("--pair-fast", action="store_true", help="pair part: fast-mode notebooks (default: full size)")
    return p.parse_args(argv)


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(results: dict) -> str:
    lines = [f"{'part':<15} {'metric':<44} {'value':>12} {'unit':<10} {'target':<10} ok"]
    lines.append("-" * len(lines[0]) + "-" * 6)
    for part, res in results.items():
        if "error" in res:
            lines.append(f"{part:<15} {'FAILED: ' + res['error'][:60]}")
            continue
        for r in res.get("rows", []):
            ok = {True: "yes", False: "NO", None: ""}[r.get("ok")]
            lines.append(f"{part:<15} {r['metric']:<44} {fmt(r['value']):>12} {r['unit']:<10} "
                         f"{r['target']:<10} {ok}")
    return "\n".join(lines)


def write(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str))
    tmp.replace(out)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_environment()
    names = [s.strip() for s in args.only.split(",") if s.strip()] or list(PARTS)
    unknown = [s for s in names if s not in PARTS]
    if unknown:
        raise SystemExit(f"unknown part(s) {unknown}; expected some of {list(PARTS)}")
    options = {
        "budget": args.budget, "recon_budget": args.recon_budget,
        "modes": args.modes.split(",") if args.modes else None,
        "notebooks": args.notebooks.split(",") if args.notebooks else None,
        "cache": args.cache, "keep_cache": args.keep_cache, "fast": True if (args.pair_fast or args.quick) else None,
    }
    info = machine()
    report = {"machine": info, "quick": args.quick, "device": args.device,
              "started": time.strftime("%Y-%m-%d %H:%M:%S %z"), "parts": {}}
    out = Path(args.out)
    for name in names:
        print(f"== {name} ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        try:
            mod = importlib.import_module(f".{PARTS[name]}", __package__)
            res = mod.run(quick=args.quick, device=args.device, **options)
        except Exception as err:  # one broken part must not hide the others' figures
            traceback.print_exc()
            res = {"error": f"{type(err).__name__}: {err}"}
        res["seconds"] = time.perf_counter() - t
        res["load_average_after"] = load_average()
        report["parts"][name] = res
        info["load_average_end"] = load_average()
        # Busy = other work was running when we started. The load at the end includes the
        # benchmark's own threads (2 on 2 cores), so it is recorded but does not decide.
        info["busy"] = bool(busy(info["load_average_start"], info["cpu_count"]))
        report["preliminary"] = info["busy"]
        write(report, out)  # after every part, so a long run keeps what it measured so far
    print(table(report["parts"]))
    print(f"\nmachine: {info['cpu']} ({info['cpu_count']} cores, torch {info['torch']}, "
          f"{info['torch_threads']} threads), load average {info['load_average_start']} -> "
          f"{info['load_average_end']}" + ("  [BUSY: preliminary figures]" if info["busy"] else ""))
    print(f"written: {out}")
    return 1 if any("error" in r for r in report["parts"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
