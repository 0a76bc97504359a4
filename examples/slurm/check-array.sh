#!/usr/bin/env bash
# Check a local copy of a bucket against its listing with a Slurm job array, one shard per task.
#
#   sbatch examples/slurm/check-array.sh
#   sbatch --export=ALL,LISTING=/shared/list.json,ROOT=/shared/tree,OUT=/shared/results examples/slurm/check-array.sh
#
# Task K of the array checks shard K of SLURM_ARRAY_TASK_COUNT. A key always falls in the same
# shard (MD5 of the key), so the tasks check every key exactly once with no coordination, and their
# outputs concatenate into the output of one run: see docs/check.md, "Sharding", and
# examples/merge-shards.sh. The array must be numbered 1-N (shards are 1-based).
#
# Each task writes shard-K.jsonl (one JSON line per object) and shard-K.status (etagsum's exit
# status). A verdict is a result, not a failure: the task exits 0 for statuses 0 (all OK),
# 1 (mismatch, missing, extra) and 3 (inconclusive), and fails only on 2 (an error).
#
#SBATCH --job-name=etagsum-check
#SBATCH --array=1-8
#SBATCH --cpus-per-task=2
#SBATCH --mem=512M
#SBATCH --time=04:00:00
#SBATCH --output=etagsum-check-%A_%a.log
set -euo pipefail

LISTING=${LISTING:-/shared/dataset/list.json}  # list-objects-v2 output or an inventory's manifest.json
ROOT=${ROOT:-/shared/dataset/tree}             # the local copy of the bucket
OUT=${OUT:-/shared/dataset/results}            # shared by every task

if [[ "${SLURM_ARRAY_TASK_MIN:-1}" != 1 ]]; then
    echo "check-array.sh: number the array from 1 (--array=1-N), not from $SLURM_ARRAY_TASK_MIN" >&2
    exit 2
fi
k=$SLURM_ARRAY_TASK_ID
n=$SLURM_ARRAY_TASK_COUNT

mkdir -p "$OUT"
status=0
etagsum check --listing "$LISTING" --root "$ROOT" --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}" --json \
    >"$OUT/shard-$k.jsonl.tmp" || status=$?
mv "$OUT/shard-$k.jsonl.tmp" "$OUT/shard-$k.jsonl"
echo "$status" >"$OUT/shard-$k.status"
echo "shard $k/$n: exit status $status" >&2
[[ "$status" -ne 2 ]]
