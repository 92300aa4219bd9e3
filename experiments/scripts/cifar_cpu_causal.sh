#!/usr/bin/env bash
# The causal CPU-scale experiment of docs/experiments.md: ρ and β sweeps of full-batch Adam, and the ρ
# sweep's extremes again with the derived correction c = −1 and c = +1, 3 seeds each, then the figures.
# Every run is resumable: rerunning this script skips finished runs and resumes interrupted ones.
# The corrected runs stop at 1500 steps (each step also evaluates F₁ by autodiff, ~10× a plain step); the
# comparison is at a train loss every run reaches.  One thread per run.
set -euo pipefail
OUT=${1:-runs/cpu_causal}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--model mlp --width 32 --train-size 512 --test-size 1000 --micro-batch 512 --steps 3000 --lr 1e-4
        --eps 1e-6 --eval-every 50 --checkpoint-every 1000 --device cpu --seeds 0,1,2)
bea experiment sweep --over rho --values 0.8,0.9,0.97 --beta 0.9 --out "$OUT/rho" "${COMMON[@]}"
bea experiment sweep --over beta --values 0.5,0.8,0.93 --rho 0.9 --out "$OUT/beta" "${COMMON[@]}"
bea experiment sweep --over rho --values 0.8,0.97 --beta 0.9 --correction=-1 --out "$OUT/rho_c-1" "${COMMON[@]}" --steps 1500
bea experiment sweep --over rho --values 0.8,0.97 --beta 0.9 --correction=1 --out "$OUT/rho_c+1" "${COMMON[@]}" --steps 1500
for sweep in rho beta rho_c-1 rho_c+1; do bea experiment plot "$OUT/$sweep"; done
bea experiment plot "$OUT/rho" "$OUT/rho_c-1" "$OUT/rho_c+1" --out "$OUT/correction.png"
