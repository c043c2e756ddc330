#!/usr/bin/env bash
# Emulator PostObject throughput. Posts one file (1 GiB by default) with curl
# to `ossgate emulator` on 127.0.0.1 as a signed V4 form. The same curl
# command posts the same file to a null sink (a small axum server that reads
# and discards the body), alternating with the emulator, in one run. Prints the throughput of
# each (file size / curl's time_total, median of RUNS), their ratio, the
# CPU time each server spent per upload (user + system, from
# /proc/<pid>/stat), and the emulator's peak resident set size (VmHWM in
# /proc/<pid>/status). CPU time per upload does not depend on what else the
# machine runs; wall-clock throughput does.
#
# Usage: bench/emulator_post.sh            (SIZE_MIB=1024 RUNS=3 by default)
#        SIZE_MIB=256 RUNS=5 bench/emulator_post.sh
#
# Everything listens on 127.0.0.1 port 0 and is stopped on exit. The work
# files go under target/bench-emulator-post/ (on disk, not tmpfs).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
WORK="$ROOT/target/bench-emulator-post"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK/data" "$WORK/upload.bin"
}
trap cleanup EXIT

# Waits for a line "... listening on http://127.0.0.1:<port>" in a file and
# prints the URL.
wait_for_url() {
    local file=$1
    for _ in $(seq 1 100); do
        if grep -q "listening on http://" "$file" 2>/dev/null; then
            grep -o "http://127.0.0.1:[0-9]*" "$file" | head -n 1
            return 0
        fi
        sleep 0.1
    done
    echo "error: no listening URL in $file" >&2
    cat "$file" >&2
    return 1
}

# Prints the user + system CPU seconds a process has used.
cpu_seconds() {
    awk -v ticks="$(getconf CLK_TCK)" '{ print ($14 + $15) / ticks }' "/proc/$1/stat"
}

median() {
    sort -g | awk '{ values[NR] = $1 } END { if (NR % 2) print values[(NR + 1) / 2]; else print (values[NR / 2] + values[NR / 2 + 1]) / 2 }'
}

echo "Building release binaries..." >&2
cargo build --release --quiet -p ossgate -p ossgate-emulator --example null_sink --example sign_form \
    --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release"

mkdir -p "$WORK"
rm -rf "$WORK/data"
echo "Writing a ${SIZE_MIB} MiB file of random bytes..." >&2
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/upload.bin"
SIZE_BYTES=$(stat -c %s "$WORK/upload.bin")

export OSS_ACCESS_KEY_ID=LTAIbenchmark
export OSS_ACCESS_KEY_SECRET=benchmark-secret-not-used-elsewhere

"$BIN/examples/null_sink" > "$WORK/sink.out" 2>&1 &
PIDS+=($!)
SINK_PID=$!
SINK_URL=$(wait_for_url "$WORK/sink.out")

"$BIN/ossgate" emulator --listen 127.0.0.1:0 --data-dir "$WORK/data" --bucket bench \
    --callback-key-bits 512 --no-test-hooks > "$WORK/emulator.out" 2> "$WORK/emulator.log" &
EMULATOR_PID=$!
PIDS+=("$EMULATOR_PID")
EMULATOR_URL=$(wait_for_url "$WORK/emulator.out")

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
FORM_ARGS=()
while IFS= read -r line; do
    FORM_ARGS+=(--form-string "$line")
done < <("$BIN/examples/sign_form" bench/upload.bin)

# Posts the file; prints seconds (curl's time_total). Fails unless the status is 2xx.
post() {
    local url=$1
    local result status seconds
    result=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' "${FORM_ARGS[@]}" \
        -F "file=@$WORK/upload.bin;type=application/octet-stream" "$url")
    status=${result%% *}
    seconds=${result##* }
    if [[ $status != 2* ]]; then
        echo "error: POST $url returned $status" >&2
        return 1
    fi
    echo "$seconds"
}

: > "$WORK/emulator.times"
: > "$WORK/sink.times"
SINK_CPU_START=$(cpu_seconds "$SINK_PID")
EMULATOR_CPU_START=$(cpu_seconds "$EMULATOR_PID")
for run in $(seq 1 "$RUNS"); do
    sink_seconds=$(post "$SINK_URL/bench")
    emulator_seconds=$(post "$EMULATOR_URL/bench")
    echo "$sink_seconds" >> "$WORK/sink.times"
    echo "$emulator_seconds" >> "$WORK/emulator.times"
    echo "run $run: null sink ${sink_seconds}s, emulator ${emulator_seconds}s" >&2
done

SINK_CPU=$(awk -v a="$SINK_CPU_START" -v b="$(cpu_seconds "$SINK_PID")" -v n="$RUNS" 'BEGIN { print (b - a) / n }')
EMULATOR_CPU=$(awk -v a="$EMULATOR_CPU_START" -v b="$(cpu_seconds "$EMULATOR_PID")" -v n="$RUNS" 'BEGIN { print (b - a) / n }')
PEAK_RSS_KIB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$EMULATOR_PID/status")
SINK_SECONDS=$(median < "$WORK/sink.times")
EMULATOR_SECONDS=$(median < "$WORK/emulator.times")

awk -v bytes="$SIZE_BYTES" -v sink="$SINK_SECONDS" -v emulator="$EMULATOR_SECONDS" \
    -v rss="$PEAK_RSS_KIB" -v runs="$RUNS" -v mib="$SIZE_MIB" \
    -v sink_cpu="$SINK_CPU" -v emulator_cpu="$EMULATOR_CPU" '
BEGIN {
    sink_rate = bytes / sink / 1048576
    emulator_rate = bytes / emulator / 1048576
    printf "file: %d MiB, runs: %d (median)\n", mib, runs
    printf "curl -> null sink:  %.1f MiB/s (%.2f s)\n", sink_rate, sink
    printf "curl -> emulator:   %.1f MiB/s (%.2f s)\n", emulator_rate, emulator
    printf "emulator / null sink: %.0f%%\n", 100 * emulator_rate / sink_rate
    printf "CPU per upload: null sink %.2f s, emulator %.2f s\n", sink_cpu, emulator_cpu
    printf "emulator peak RSS (VmHWM): %.1f MiB\n", rss / 1024
}'
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average before the runs: $LOAD_BEFORE"
