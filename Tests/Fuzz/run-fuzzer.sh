#!/usr/bin/env bash
# Runs one libFuzzer binary for a bounded time on a fresh corpus seeded from seed dirs, then
# prints one summary line. Exit status: 0 no crash, 1 crash/timeout/OOM (input saved under
# OUTDIR/artifacts/), 2 usage or missing binary.
#   Tests/Fuzz/run-fuzzer.sh NAME BINARY SECONDS OUTDIR [SEED_DIR...]
set -u
if [ $# -lt 4 ]; then echo "usage: $0 NAME BINARY SECONDS OUTDIR [SEED_DIR...]" >&2; exit 2; fi
name=$1 bin=$2 secs=$3 out=$4
shift 4
if [ ! -x "$bin" ]; then echo "fuzz $name: $bin is missing: run make fuzz-build" >&2; exit 2; fi
rm -rf "$out"
mkdir -p "$out/corpus" "$out/artifacts"
seeds=()
for d in "$@"; do [ -d "$d" ] && seeds+=("$d"); done
start=$(date +%s)
# -timeout: one input running longer is a hang, reported like a crash. Leak detection is off
# (per input and at exit): ZIPFoundation leaks ~50 bytes per Archive(url:) (docs/fuzzing.md).
# SWIFT_BACKTRACE off: the Swift backtracer trips AddressSanitizer; libFuzzer prints the stack.
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=4096 -detect_leaks=0 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" "$out/corpus" "${seeds[@]}" >"$out/log" 2>&1
status=$?
elapsed=$(( $(date +%s) - start ))
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/log" | grep -o '[0-9]*$' | tail -1)
[ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$out/log" | tail -1 | tr -d '#')
runs=${runs:-0}
rate=$(( elapsed > 0 ? runs / elapsed : runs ))
corpus=$(ls "$out/corpus" | wc -l)
if [ $status -eq 0 ]; then
    echo "fuzz $name: ran ${elapsed}s, $runs executions (${rate}/s), corpus $corpus inputs, no crash"
    exit 0
fi
echo "fuzz $name: CRASH (exit $status) after ${elapsed}s, $runs executions; log $out/log"
grep -E '(==[0-9]+==ERROR|SUMMARY|Fatal error|Test unit written|ALARM|out-of-memory)' "$out/log" | head -6
grep -E '^ +#[0-9]+ .* in \$s11EunomiaHost' "$out/log" | head -6 | cut -c1-220
echo "input: $(ls -d "$out"/artifacts/* 2>/dev/null | tr '\n' ' ')"
exit 1
