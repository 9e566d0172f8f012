#!/usr/bin/env bash
# The README's results table: held-out success (seeds 10,000-10,049) of random clicks, pixelpilot-nano
# after SFT and after RL, on its nine training tasks and on five MiniWoB++ tasks it never trained on.
#   bash scripts/eval_nano.sh [random|sft|rl|nano ...]     # random, sft and nano when none is named; resumes
#   python scripts/nano_table.py                            # the tables, in markdown
# Each run writes runs/nano/eval/<model>-<trained|unseen>/{results.jsonl,index.html,success.png}.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-runs/nano}"
SEEDS="${SEEDS:-10000:10050}"
TRAINED=(click-test click-test-2 click-button click-dialog click-tab focus-text focus-text-2
         click-button-sequence enter-text)
UNSEEN=(click-test-transfer click-link click-dialog-2 click-widget enter-text-2)
declare -A MODELS=(
  [random]=random
  [sft]="hf:$RUNS/sft4/checkpoints/step-000800/model"
  [rl]="hf:$RUNS/rl2/checkpoints/step-000030/model"
  [nano]=nano
)

envs() { for task in "$@"; do printf -- "--env pixelpilot/miniwob-%s-v0 " "$task"; done; }

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(random sft nano)
for name in "${names[@]}"; do
  model="${MODELS[$name]}"
  # shellcheck disable=SC2046
  pixelpilot eval $(envs "${TRAINED[@]}") --model "$model" --seeds "$SEEDS" --max-steps 5 --out "$RUNS/eval/$name-trained"
  # shellcheck disable=SC2046
  pixelpilot eval $(envs "${UNSEEN[@]}") --model "$model" --seeds "$SEEDS" --max-steps 5 --out "$RUNS/eval/$name-unseen"
done
