#!/usr/bin/env bash
# Merge the outputs of N shard runs of `etagsum check ... --shard K/N --json` into one.
#
#   examples/merge-shards.sh DIR N
#
# DIR holds shard-K.jsonl and shard-K.status for K = 1..N, as written by
# examples/kubernetes/indexed-job.yaml and examples/slurm/check-array.sh. Writes DIR/all.jsonl (the
# JSON lines of every shard: the lines one unsharded run would print, shard by shard), prints how
# many objects got each verdict (with jq), and exits with the status one unsharded run would have
# had: 2 when a shard failed or has no output, else 1 when any object is a mismatch, missing or
# extra, else 3 when any is inconclusive, else 0.
set -euo pipefail

if [[ $# -ne 2 || ! "$2" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: merge-shards.sh DIR N (N: the number of shards)" >&2
    exit 2
fi
dir=$1
n=$2
command -v jq >/dev/null || { echo "merge-shards.sh: jq is needed to count the verdicts" >&2; exit 2; }

combined=0
rank() { case $1 in 0) echo 0 ;; 3) echo 1 ;; 1) echo 2 ;; *) echo 3 ;; esac; }  # 2 > 1 > 3 > 0
: >"$dir/all.jsonl.tmp"
for ((k = 1; k <= n; k++)); do
    if [[ ! -f "$dir/shard-$k.status" || ! -f "$dir/shard-$k.jsonl" ]]; then
        echo "merge-shards.sh: shard $k/$n has no results ($dir/shard-$k.status, $dir/shard-$k.jsonl)" >&2
        status=2
    else
        status=$(<"$dir/shard-$k.status")
        cat "$dir/shard-$k.jsonl" >>"$dir/all.jsonl.tmp"
    fi
    if [[ "$status" != 0 ]]; then
        echo "shard $k/$n: exit status $status" >&2
    fi
    case $status in 0 | 1 | 3) ;; *) status=2 ;; esac
    if (($(rank "$status") > $(rank "$combined"))); then
        combined=$status
    fi
done
mv "$dir/all.jsonl.tmp" "$dir/all.jsonl"

# One line per verdict: count and name, e.g. "  9998 match".
jq -r .verdict "$dir/all.jsonl" | sort | uniq -c
echo "$(wc -l <"$dir/all.jsonl") objects in $dir/all.jsonl; combined exit status $combined" >&2
exit "$combined"
