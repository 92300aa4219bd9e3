#!/usr/bin/env bash
# Where the modified equation describes full-batch Adam on CIFAR (docs/experiments.md, "Why this setting"):
# plain runs that log the validity ratio ‖hF₁‖/‖F₀‖ of the derived terms at every step.  A correction of
# c = 1e-9 (which changes the iterates by 1e-9·h²F₁, nothing at float32 precision) makes a run evaluate and
# log the ratio; --max-validity 1e9 lets it go on where the ratio is large.  One thread per run.
set -euo pipefail
OUT=${1:-runs/cpu_validity}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PROBE=(--correction 1e-9 --max-validity 1e9 --beta 0.9 --rho 0.8 --test-size 1000 --eval-every 50 --device cpu)
MLP=(--model mlp --width 32 --train-size 512 --micro-batch 512)
bea experiment cifar --out "$OUT/mlp_eps1e-8_h1e-3" "${MLP[@]}" --eps 1e-8 --lr 1e-3 --steps 300 "${PROBE[@]}"
bea experiment cifar --out "$OUT/mlp_eps1e-6_h5e-4" "${MLP[@]}" --eps 1e-6 --lr 5e-4 --steps 300 "${PROBE[@]}"
bea experiment cifar --out "$OUT/mlp_eps1e-6_h1e-4" "${MLP[@]}" --eps 1e-6 --lr 1e-4 --steps 800 "${PROBE[@]}"
bea experiment cifar --out "$OUT/cnn_eps1e-8_h1e-3" --model small_cnn --width 16 --train-size 256 --micro-batch 256 \
    --eps 1e-8 --lr 1e-3 --steps 50 "${PROBE[@]}"
