#!/usr/bin/env bash
# Part 6 of the benchmarks: the same training throughput on CUDA, fp32 (fit's default) against
# fit(amp=True), whose dtype training.choose_autocast picks from the GPU (bf16 on Ampere and later,
# fp16 with a gradient scaler on 7.x such as Colab's T4, fp32 on older GPUs), each against its own
# GEMM bound; the choice logic alone (a table of capabilities) is printed first; and the
# denoising quality at a 10 s budget. Short: about 2 minutes. Reading it: amp stays off by
# default unless "fit amp samples/s" beats "fit fp32 samples/s" on the GPU learners have.
#
# Two steps:
#   1. here (any machine with the offline MNIST beside the repository):
#        bash benchmarks/gpu_check.sh --prepare
#      packs the four MNIST files (gzip, ~11 MB) into .gpu_carry/ (ignored by git).
#   2. on the GPU machine (device tool `run`, carry [".gpu_carry"], timeout_s 300):
#        bash benchmarks/gpu_check.sh
#      writes $OUT/gpu.json (the benchmark report), $OUT/gpu_check.log and $OUT/nvidia-smi.txt.
# Needs python3 with torch (CUDA) and torchvision there; course_utils is used from this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=.gpu_carry

if [[ "${1:-}" == "--prepare" ]]; then
    src="${COURSE_DATA_DIR:-../shared/data}/MNIST/raw"
    [[ -f "$src/train-images-idx3-ubyte" ]] || { echo "no MNIST in $src (set COURSE_DATA_DIR)" >&2; exit 1; }
    mkdir -p "$CARRY"
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        gzip -c "$src/$f" > "$CARRY/$f.gz"
    done
    du -sh "$CARRY"
    echo "prepared: now run 'bash benchmarks/gpu_check.sh' on the GPU machine with carry [\"$CARRY\"]"
    exit 0
fi

OUT="${OUT:-benchmarks/results}"
mkdir -p "$OUT"
[[ -f "$CARRY/train-images-idx3-ubyte.gz" ]] || { echo "missing $CARRY: run 'bash $0 --prepare' first and carry it" >&2; exit 1; }
data="$(mktemp -d)"
mkdir -p "$data/MNIST/raw"
for f in "$CARRY"/*.gz; do gunzip -c "$f" > "$data/MNIST/raw/$(basename "$f" .gz)"; done
export COURSE_DATA_DIR="$data" COURSE_CACHE_DIR="$(mktemp -d)" MPLBACKEND=Agg PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

(nvidia-smi || true) > "$OUT/nvidia-smi.txt" 2>&1
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" 2>&1 | tee "$OUT/gpu_check.log"
python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device visible to torch')"

# what fit(amp=True) chooses on this GPU, and on the others the logic knows
python3 - <<'PY' 2>&1 | tee -a "$OUT/gpu_check.log"
import torch
from course_utils.training import _amp_plan, choose_autocast
print("this GPU:", torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0),
      "bf16", torch.cuda.is_bf16_supported(), "->", _amp_plan(torch.device("cuda"), True)[2])
for name, cap, bf16 in (("T4", (7, 5), False), ("V100", (7, 0), False), ("A100", (8, 0), True), ("H200", (9, 0), True)):
    print(f"  {name}: {choose_autocast('cuda', cap, bf16, True)[2]}")
PY

# throughput (fit fp32 and amp, GEMM bounds, tutorial loop) and denoising at a 10 s budget, on CUDA
timeout 210 python3 -m benchmarks --device cuda --only throughput,denoise --budget 10 \
    --out "$OUT/gpu.json" 2>&1 | tee -a "$OUT/gpu_check.log"
