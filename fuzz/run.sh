#!/usr/bin/env bash
# Runs etagsum's fuzz targets with libFuzzer on the stable toolchain, each for a bounded time,
# starting from the committed corpus.
#
# Usage: fuzz/run.sh [TARGET...] [--seconds N]
#   TARGET     etag, size, verify, checkfile, s3api, csv or checksum (default: all)
#   --seconds  how long each target runs (default 20); the targets run side by side
#
# Builds in fuzz/target (its own target directory, so the coverage flags never touch the main
# build), fuzzes a temporary copy of fuzz/corpus/TARGET (new inputs are not written into the
# committed corpus), writes a crashing input to fuzz/artifacts/TARGET/, prints one line per target
# and a closing "N passed, M failed"; exits non-zero if any target failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
all=(etag size verify checkfile s3api csv checksum)
targets=()
seconds=20
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
        --seconds=*) seconds="${1#--seconds=}"; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        etag|size|verify|checkfile|s3api|csv|checksum) targets+=("$1"); shift ;;
        *) echo "run.sh: unknown argument '$1' (targets: ${all[*]})" >&2; exit 2 ;;
    esac
done
case "$seconds" in ''|*[!0-9]*|0) echo "run.sh: --seconds wants a positive whole number, not '$seconds'" >&2; exit 2 ;; esac
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# Coverage instrumentation with stable flags only (what `cargo fuzz` passes, without any -Z flag).
# With an explicit --target these flags reach the fuzzed code but not build scripts.
triple="$(rustc -vV | sed -n 's/^host: //p')"
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
export CARGO_TARGET_DIR="$here/target"
# The workspace's release profile is tuned for the shipped binary (fat LTO, one codegen unit); a
# fuzzer wants a quick build with debug assertions and overflow checks on.
export CARGO_PROFILE_RELEASE_LTO=false
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
export CARGO_PROFILE_RELEASE_PANIC=abort
export CARGO_PROFILE_RELEASE_DEBUG=line-tables-only

bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
start=$SECONDS
cargo build --manifest-path "$here/Cargo.toml" --release --target "$triple" "${bins[@]}"
echo "build: $((SECONDS - start)) s"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pids=()
for t in "${targets[@]}"; do
    mkdir -p "$work/corpus/$t" "$here/artifacts/$t"
    cp -R "$here/corpus/$t/." "$work/corpus/$t/"
    "$CARGO_TARGET_DIR/$triple/release/$t" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$here/artifacts/$t/" "$work/corpus/$t" >"$work/$t.log" 2>&1 &
    pids+=($!)
done

passed=0
failed=0
for i in "${!targets[@]}"; do
    t="${targets[$i]}"
    log="$work/$t.log"
    status=0
    wait "${pids[$i]}" || status=$?
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    [ -n "$runs" ] || runs="$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')"
    took="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)"
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        echo "$t: ${runs:-?} runs in ${took:-$seconds} s, passed"
    else
        failed=$((failed + 1))
        artifact="$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -n 1)"
        echo "$t: FAILED (exit $status) after ${runs:-?} runs"
        grep -A 3 -m 1 "panicked at" "$log" | sed 's/^/    /' || tail -n 20 "$log" | sed 's/^/    /'
        if [ -n "$artifact" ] && [ -f "$artifact" ]; then
            echo "    input: $artifact"
            echo "    hex: $(od -An -v -tx1 "$artifact" | tr -d ' \n')"
        fi
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
