#!/usr/bin/env bash
# Select soft_frozen's prompt length by 2-fold CV on the training notes, retrain the winner on all training
# notes, test once, and write the reports. Run from the repository root: bash experiments/cpu_cv_synthetic/run.sh
set -euo pipefail
sweep=multirun/cpu_cv_synthetic
final=multirun/cpu_cv_synthetic_final
out=experiments/cpu_cv_synthetic
python train.py -m experiment=cpu_cv_synthetic hydra.sweep.dir="$sweep"
# shellcheck disable=SC2046  # the selected overrides are separate words
python train.py $(clinprompt-report "$sweep" --select | tail -n 1) hydra.run.dir="$final"
clinprompt-report "$sweep" --select > "$out/selection.md"
clinprompt-report "$sweep" --split dev --out "$out/cv" > /dev/null
clinprompt-report "$final" --out "$out/final" > /dev/null
