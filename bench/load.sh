#!/usr/bin/env bash
# Load test of the app server's token and callback endpoints, with a bare
# hyper server returning a fixed 600-byte JSON body as the ceiling, all in one
# run on this machine. Every server listens on 127.0.0.1 and is stopped at
# the end. A third server, the same bare hyper server responding to each
# request with a newly issued upload token, shows the token's own cost
# without routing, middleware or logging. Besides wrk's requests/s and
# latency, it reports each server's CPU time per request and the system
# (kernel) part of it, from /proc/<pid>/stat.
# Other load on the machine disturbs these less than requests/s. /healthz
# shows the cost of the routing and middleware stack alone.
#
#   bench/load.sh                      # 10 s per endpoint, 2 wrk threads, 32 connections
#
# On a 2-core machine 64 connections gave the token endpoint no more
# requests/s than 32; the server's runtime runs one worker per core.
#   DURATION=30s CONNECTIONS=64 bench/load.sh
#
# Needs wrk, curl and jq (Debian: apt-get install wrk curl jq).
#
# The callback endpoint is measured with one real callback captured from the
# embedded emulator and sent again and again. Each request therefore runs the
# full check (key lookup, RSA-2048 signature, ticket HMAC, scope and limits)
# and the database write, which finds the existing row and returns it: the
# replay path. Only the first request inserts a row.
set -euo pipefail

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}

cd "$(dirname "$0")/.."

for tool in wrk curl jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is not installed; install it (Debian: apt-get install $tool)" >&2
        exit 1
    fi
done

echo "building release binaries..." >&2
cargo build --release --quiet -p ossgate --bin ossgate
cargo build --release --quiet -p ossgate-server --example bare --example token_only

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Waits until FILE has at least COUNT lines, for at most 60 s.
wait_for_lines() {
    local file=$1 count=$2
    for _ in $(seq 600); do
        if [ "$(wc -l <"$file")" -ge "$count" ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "error: timed out waiting for $file" >&2
    exit 1
}

# The ceiling.
target/release/examples/bare 127.0.0.1:0 >"$work/bare.out" &
bare_pid=$!
pids+=("$bare_pid")
wait_for_lines "$work/bare.out" 1
bare_url=$(sed -n 's/^listening on //p' "$work/bare.out")

# The token work alone.
target/release/examples/token_only 127.0.0.1:0 >"$work/token_only.out" &
token_only_pid=$!
pids+=("$token_only_pid")
wait_for_lines "$work/token_only.out" 1
token_only_url=$(sed -n 's/^listening on //p' "$work/token_only.out")

# The app server with its embedded emulator, at its default log level (info).
target/release/ossgate dev --listen 127.0.0.1:0 --data-dir "$work/dev" \
    >"$work/dev.out" 2>"$work/dev.err" &
dev_pid=$!
pids+=("$dev_pid")
wait_for_lines "$work/dev.out" 2
emulator_url=$(sed -n 's/^Emulator listening on //p' "$work/dev.out")
app_url=$(sed -n 's/^Open \(.*\)\/ in your browser$/\1/p' "$work/dev.out")

# One real upload, so that the emulator sends one signed callback.
printf 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==' |
    base64 -d >"$work/bench.png"
token=$(curl -fsS "$app_url/api/upload-token?filename=bench.png&contentType=image/png")
form=()
while IFS= read -r -d '' name && IFS= read -r -d '' value; do
    form+=(--form-string "$name=$value")
done < <(jq -j '.fields | to_entries[] | "\(.key)\u0000\(.value)\u0000"' <<<"$token")
curl -fsS -o /dev/null "$(jq -r .url <<<"$token")" "${form[@]}" -F "file=@$work/bench.png;type=image/png"
callback=$(curl -fsS "$emulator_url/_emulator/callbacks" | jq '.callbacks[-1]')
if [ "$(jq -r .outcome <<<"$callback")" != ok ]; then
    echo "error: the warm-up upload's callback failed: $callback" >&2
    exit 1
fi
callback_target=$(jq -r .url <<<"$callback" | sed 's|^http://[^/]*||')
headers=$(jq '.requestHeaders | with_entries(.key |= ascii_downcase)' <<<"$callback")
cat >"$work/callback.lua" <<EOF
wrk.method = "POST"
wrk.body = [==[$(jq -r .body <<<"$callback")]==]
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = [==[$(jq -r .authorization <<<"$headers")]==]
wrk.headers["x-oss-pub-key-url"] = [==[$(jq -r '."x-oss-pub-key-url"' <<<"$headers")]==]
EOF

# Prints the user and the system CPU time a process has used, in clock ticks.
cpu_ticks() {
    awk '{print $14, $15}' "/proc/$1/stat"
}

# Runs wrk against URL while measuring the CPU time of process PID, and
# prints "<requests/s> <p50> <p99> <server CPU per request in us> <of which
# system time in us>". Fails on any non-2xx response.
measure() {
    local name=$1 pid=$2 url=$3
    shift 3
    local user_before system_before user_after system_after
    read -r user_before system_before < <(cpu_ticks "$pid")
    wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" "$url" >"$work/$name.wrk"
    read -r user_after system_after < <(cpu_ticks "$pid")
    if grep -q 'Non-2xx' "$work/$name.wrk"; then
        echo "error: $name got error responses:" >&2
        cat "$work/$name.wrk" >&2
        exit 1
    fi
    local rps p50 p99 requests per_request
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/$name.wrk")
    p50=$(awk '$1 == "50%" {print $2}' "$work/$name.wrk")
    p99=$(awk '$1 == "99%" {print $2}' "$work/$name.wrk")
    requests=$(awk '/requests in/ {print $1}' "$work/$name.wrk")
    per_request=$(awk -v user_ticks=$((user_after - user_before)) \
        -v system_ticks=$((system_after - system_before)) -v hz="$(getconf CLK_TCK)" \
        -v requests="$requests" 'BEGIN {
            scale = 1000000 / hz / requests
            printf "%.1f %.1f", (user_ticks + system_ticks) * scale, system_ticks * scale
        }')
    echo "$rps $p50 $p99 $per_request"
}

echo "measuring, $DURATION each, $THREADS threads, $CONNECTIONS connections," \
    "load average before: $(cut -d' ' -f1-3 /proc/loadavg)..." >&2
read -r bare_rps bare_p50 bare_p99 bare_cpu bare_sys < <(measure bare "$bare_pid" "$bare_url/")
read -r only_rps only_p50 only_p99 only_cpu only_sys < <(measure token_only "$token_only_pid" \
    "$token_only_url/")
read -r token_rps token_p50 token_p99 token_cpu token_sys < <(measure token "$dev_pid" \
    "$app_url/api/upload-token?filename=photo.png&size=120000&contentType=image/png")
read -r health_rps health_p50 health_p99 health_cpu health_sys < <(measure health "$dev_pid" \
    "$app_url/healthz")
read -r callback_rps callback_p50 callback_p99 callback_cpu callback_sys < <(measure callback \
    "$dev_pid" "$app_url$callback_target" -s "$work/callback.lua")

ratio=$(awk -v token="$token_rps" -v bare="$bare_rps" 'BEGIN {printf "%.0f", 100 * token / bare}')
echo
echo "| endpoint | requests/s | p50 | p99 | server CPU per request | of which system |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| bare hyper, fixed 600-byte JSON (ceiling) | $bare_rps | $bare_p50 | $bare_p99 |" \
    "$bare_cpu us | $bare_sys us |"
echo "| bare hyper, a new upload token per request | $only_rps | $only_p50 | $only_p99 |" \
    "$only_cpu us | $only_sys us |"
echo "| GET /healthz (full middleware, no work) | $health_rps | $health_p50 | $health_p99 |" \
    "$health_cpu us | $health_sys us |"
echo "| GET /api/upload-token (V4) | $token_rps | $token_p50 | $token_p99 |" \
    "$token_cpu us | $token_sys us |"
echo "| POST /api/oss/callback (replayed) | $callback_rps | $callback_p50 | $callback_p99 |" \
    "$callback_cpu us | $callback_sys us |"
echo
echo "token endpoint: ${ratio}% of the ceiling's requests/s (target: at least 75%)"
