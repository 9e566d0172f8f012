#!/usr/bin/env bash
# Reproduce pixelpilot-nano from nothing: build the untrained nano Qwen3-VL, cold-start SFT on oracle
# demonstrations (three stages: 1,500 steps on nine tasks, 1,000 more weighted towards the tasks only the
# screenshot can solve, 1,000 more weighted towards telling labelled targets apart), SAPO RL; then a reading
# stage that teaches the vision tower (frozen at random init until then) which characters each image token
# shows, a fourth SFT stage on that tower with thousands of label-task demonstrations, SAPO RL again; then
# ship the result (bf16, greedy by default) inside the package. Each of the first three SFT stages starts with
# a copy of the previous one's recorded demonstrations, so the sources they share are read back.
#   bash scripts/train_nano.sh                 # ~5 hours on a 2-core CPU; every stage resumes when rerun
#   RUNS=/tmp/nano SMOKE=1 bash scripts/train_nano.sh   # a few steps of each stage at reduced size (tests)
# Stages and their commands, each also runnable alone:
#   pixelpilot tiny-checkpoint $RUNS/base --size nano
#   pixelpilot sft examples/configs/nano/sft.yaml
#   pixelpilot sft examples/configs/nano/sft2.yaml
#   pixelpilot sft examples/configs/nano/sft3.yaml
#   pixelpilot train examples/configs/nano/rl.yaml
#   pixelpilot read examples/configs/nano/read.yaml
#   pixelpilot sft examples/configs/nano/sft4.yaml
#   pixelpilot train examples/configs/nano/rl.yaml model.path=runs/nano/sft4/checkpoints/step-000800/model \
#     output_dir=runs/nano/rl2
#   pixelpilot export $RUNS/rl2/checkpoints/step-000030/model pixelpilot/model/checkpoints/nano --greedy
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-runs/nano}"
SHIP="${SHIP:-pixelpilot/model/checkpoints/nano}"
SFT_STEPS=1500
SFT2_STEPS=1000
SFT3_STEPS=1000
RL_STEPS=30
READ_STEPS=800
SFT4_STEPS=800
RL2_STEPS=30
SFT_SET=("model.path=$RUNS/base" "output_dir=$RUNS/sft")
SFT2_SET=("output_dir=$RUNS/sft2")
SFT3_SET=("output_dir=$RUNS/sft3")
RL_SET=("output_dir=$RUNS/rl")
READ_SET=("output_dir=$RUNS/read")
SFT4_SET=("output_dir=$RUNS/sft4")
RL2_SET=("output_dir=$RUNS/rl2")
if [ "${SMOKE:-0}" = "1" ]; then
  SFT_STEPS=2
  SFT2_STEPS=1
  SFT3_STEPS=1
  RL_STEPS=1
  READ_STEPS=1
  SFT4_STEPS=1
  RL2_STEPS=1
  SMALL=(batch_size=4 optim.micro_batch_size=4 optim.warmup_steps=0)
  SFT_SET+=("${SMALL[@]}")
  SFT2_SET+=("${SMALL[@]}")
  SFT3_SET+=("${SMALL[@]}")
  SFT4_SET+=("${SMALL[@]}")
  for i in $(seq 0 8); do SFT_SET+=("demos.$i.oracle.num_seeds=1"); done
  for i in $(seq 0 11); do SFT2_SET+=("demos.$i.oracle.num_seeds=1"); done
  for i in $(seq 0 16); do SFT3_SET+=("demos.$i.oracle.num_seeds=1"); done
  for i in $(seq 0 8); do SFT4_SET+=("demos.$i.oracle.num_seeds=1"); done
  READ_SET+=(batch_size=2 optim.micro_batch_size=2 optim.warmup_steps=0 "eval.tasks=[]")
  for i in $(seq 0 5); do READ_SET+=("pages.$i.num_seeds=1"); done
  SMALL_RL=(rollout.group_size=2 rollout.queries_per_step=1 "eval.tasks=[]" optim.micro_batch_size=4)
  RL_SET+=("${SMALL_RL[@]}")
  RL2_SET+=("${SMALL_RL[@]}")
fi
# The model a stage ends with: checkpoint STAGE STEPS.
checkpoint() { printf '%s/%s/checkpoints/step-%06d/model' "$RUNS" "$1" "$2"; }
SFT_SET+=("steps=$SFT_STEPS")
SFT2_SET+=("steps=$SFT2_STEPS" "model.path=$(checkpoint sft "$SFT_STEPS")")
SFT3_SET+=("steps=$SFT3_STEPS" "model.path=$(checkpoint sft2 "$SFT2_STEPS")")
RL_SET+=("steps=$RL_STEPS" "model.path=$(checkpoint sft3 "$SFT3_STEPS")")
READ_SET+=("steps=$READ_STEPS" "model.path=$(checkpoint rl "$RL_STEPS")")
SFT4_SET+=("steps=$SFT4_STEPS" "model.path=$(checkpoint read "$READ_STEPS")")
RL2_SET+=("steps=$RL2_STEPS" "model.path=$(checkpoint sft4 "$SFT4_STEPS")")

if [ ! -f "$RUNS/base/config.json" ]; then
  pixelpilot tiny-checkpoint "$RUNS/base" --size nano
fi
# A stage's demos/ seeded from the one before: shared sources are read back (keyed by what is recorded).
carry_demos() { mkdir -p "$2/demos" && { cp -n "$1"/demos/*.pkl "$2/demos/" 2>/dev/null || true; }; }
pixelpilot sft examples/configs/nano/sft.yaml "${SFT_SET[@]}"
carry_demos "$RUNS/sft" "$RUNS/sft2"
pixelpilot sft examples/configs/nano/sft2.yaml "${SFT2_SET[@]}"
carry_demos "$RUNS/sft2" "$RUNS/sft3"
pixelpilot sft examples/configs/nano/sft3.yaml "${SFT3_SET[@]}"
pixelpilot train examples/configs/nano/rl.yaml "${RL_SET[@]}"
pixelpilot read examples/configs/nano/read.yaml "${READ_SET[@]}"
pixelpilot sft examples/configs/nano/sft4.yaml "${SFT4_SET[@]}"
pixelpilot train examples/configs/nano/rl.yaml "${RL2_SET[@]}"
pixelpilot export "$(checkpoint rl2 "$RL2_STEPS")" "$SHIP" --dtype bfloat16 --greedy
echo "pixelpilot-nano written to $SHIP"
