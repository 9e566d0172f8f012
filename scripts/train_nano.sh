#!/usr/bin/env bash
# Reproduce pixelpilot-nano from nothing: build the untrained nano Qwen3-VL, cold-start SFT on oracle
# demonstrations (two stages: 1,500 steps on nine tasks, then 1,000 more weighted towards the tasks only the
# screenshot can solve), SAPO RL, then ship the result (bf16, greedy by default) inside the package.
#   bash scripts/train_nano.sh                 # ~2 hours on a 2-core CPU; every stage resumes when rerun
#   RUNS=/tmp/nano SMOKE=1 bash scripts/train_nano.sh   # a few steps of each stage at reduced size (tests)
# Stages and their commands, each also runnable alone:
#   pixelpilot tiny-checkpoint $RUNS/base --size nano
#   pixelpilot sft examples/configs/nano/sft.yaml
#   pixelpilot sft examples/configs/nano/sft2.yaml
#   pixelpilot train examples/configs/nano/rl.yaml
#   pixelpilot export $RUNS/rl/checkpoints/step-000010/model pixelpilot/model/checkpoints/nano --greedy
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-runs/nano}"
SHIP="${SHIP:-pixelpilot/model/checkpoints/nano}"
SFT_STEPS=1500
SFT2_STEPS=1000
RL_STEPS=10
SFT_SET=("model.path=$RUNS/base" "output_dir=$RUNS/sft")
SFT2_SET=("output_dir=$RUNS/sft2")
RL_SET=("output_dir=$RUNS/rl")
if [ "${SMOKE:-0}" = "1" ]; then
  SFT_STEPS=2
  SFT2_STEPS=1
  RL_STEPS=1
  SMALL=(batch_size=4 optim.micro_batch_size=4 optim.warmup_steps=0)
  SFT_SET+=("${SMALL[@]}")
  SFT2_SET+=("${SMALL[@]}")
  for i in 0 1 2 3 4 5 6 7 8; do SFT_SET+=("demos.$i.oracle.num_seeds=1"); done
  for i in 0 1 2 3 4 5 6 7 8 9 10 11; do SFT2_SET+=("demos.$i.oracle.num_seeds=1"); done
  RL_SET+=(rollout.group_size=2 rollout.queries_per_step=1 "eval.tasks=[]" optim.micro_batch_size=4)
fi
SFT_SET+=("steps=$SFT_STEPS")
SFT2_SET+=("steps=$SFT2_STEPS" "model.path=$RUNS/sft/checkpoints/step-$(printf %06d "$SFT_STEPS")/model")
RL_SET+=("steps=$RL_STEPS" "model.path=$RUNS/sft2/checkpoints/step-$(printf %06d "$SFT2_STEPS")/model")

if [ ! -f "$RUNS/base/config.json" ]; then
  pixelpilot tiny-checkpoint "$RUNS/base" --size nano
fi
pixelpilot sft examples/configs/nano/sft.yaml "${SFT_SET[@]}"
pixelpilot sft examples/configs/nano/sft2.yaml "${SFT2_SET[@]}"
pixelpilot train examples/configs/nano/rl.yaml "${RL_SET[@]}"
pixelpilot export "$RUNS/rl/checkpoints/step-$(printf %06d "$RL_STEPS")/model" "$SHIP" --dtype bfloat16 --greedy
echo "pixelpilot-nano written to $SHIP"
