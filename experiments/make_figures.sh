#!/usr/bin/env bash
# Run every experiment of this folder and draw its figures into experiments/figures/NAME/
# (PNG only; `qcflow plot runs/NAME` also writes PDF). Runs go to runs/NAME (not kept).
set -euo pipefail
cd "$(dirname "$0")/.."
for name in anomalous_flow phase_sweep classical_correlation interacting interacting_fine; do
    qcflow run "experiments/$name.toml" --out "runs/$name" --overwrite --quiet
    qcflow plot "runs/$name" --out "experiments/figures/$name" --format png
done
