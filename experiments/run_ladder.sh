#!/usr/bin/env bash
# The SCAR ablation ladder on PTB-XL (issue 20): each rung x seed trained with the ptbxl-cpu recipe
# (1,500-step schedule) and stopped after step 750 (--stop-at), the step fold 9 chose in all five full
# runs; then fold-9 zero-shot for the checkpoints at 250 / 500 / 750 (experiments/pretrained_select.py).
# Runs already finished are skipped; an interrupted one is resumed. A job is PRESET:SEED, with optional
# suffixes: +one_pass for the one-pass min-max step (--minmax one_pass; folder PRESET-onepass-sSEED) and
# +text_SOURCE for another text (--text-source SOURCE; folder PRESET-SOURCE-sSEED).
#   ECGF_PY=.venv/bin/python experiments/run_ladder.sh "scar-randmask-mean:1 scar:2 scar+one_pass:0 ..."
set -u
PY=${ECGF_PY:-.venv/bin/python}
DATA=${ECGF_DATA:-../shared/data/ptbxl}
ROOT=${ECGF_RUNS:-runs/ladder}
mkdir -p "$ROOT"
for job in $1; do
  spec=${job%%:*}; seed=${job##*:}; extra=(); preset=${spec%%+*}; name=$preset
  IFS=+ read -r -a parts <<< "$spec"
  for part in "${parts[@]:1}"; do
    case "$part" in one_pass) extra+=(--minmax one_pass); name="$name-onepass";;
                    text_*) extra+=(--text-source "${part#text_}"); name="$name-${part#text_}";;
                    *) echo "unknown suffix +$part in $job"; exit 2;; esac
  done
  out="$ROOT/$name-s$seed"
  if [ -e "$out/checkpoints/step_0000750" ]; then echo "skip $out (done)"; else
    flags=(--preset "$preset" --recipe ptbxl-cpu --seed "$seed" --data "$DATA" --out "$out" "${extra[@]}")
    [ -e "$out/checkpoints/latest" ] && flags=(--out "$out" --resume)
    start=$(date +%s)
    "$PY" -m ecgfoundry pretrain "${flags[@]}" --stop-at 750 --no-progress > "$out.log" 2>&1 || { echo "FAILED $out"; continue; }
    echo "$(( $(date +%s) - start ))" > "$out.train_s"
  fi
  sel="$ROOT/selection_val_$name-s$seed.json"
  [ -e "$sel" ] || "$PY" experiments/pretrained_select.py "$out/checkpoints/step_0000250" \
      "$out/checkpoints/step_0000500" "$out/checkpoints/step_0000750" --data "$DATA" --out "$sel" > "$sel.log" 2>&1
  echo "done $out $(cat "$out.train_s" 2>/dev/null)s"
done
