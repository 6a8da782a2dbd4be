#!/usr/bin/env bash
# Load test of serve with wrk on loopback: starts build/tools/serve with a checkpoint, POSTs one
# real image from 8 connections for 30 s, and prints p50/p99 latency, requests (images) per second,
# errors (socket errors and non-2xx answers), and the server's resident memory sampled at the
# start, middle and end of the run (flat: no leak per request).
# Usage: tools/bench/load_test_serve.sh CHECKPOINT [IMAGE] [SECONDS] [CONNECTIONS]
#   CHECKPOINT  a checkpoint, run folder or compare folder (as serve --checkpoint); build serve
#               first (./run serve --help, or cmake --build build --target serve)
#   IMAGE       default: ../shared/busi/benign/benign (10).png
set -euo pipefail
cd "$(dirname "$0")/../.."
checkpoint=${1:?usage: tools/bench/load_test_serve.sh CHECKPOINT [IMAGE] [SECONDS] [CONNECTIONS]}
image=${2:-../shared/busi/benign/benign (10).png}
seconds=${3:-30}
connections=${4:-8}
command -v wrk >/dev/null || { echo "load_test_serve: wrk is not installed (Debian: wrk)" >&2; exit 1; }
[ -x build/tools/serve ] || { echo "load_test_serve: build/tools/serve is missing: build it first" >&2; exit 1; }
[ -f "$image" ] || { echo "load_test_serve: no image at $image" >&2; exit 1; }

work=$(mktemp -d)
log="$work/serve.log"
build/tools/serve --checkpoint "$checkpoint" --port 0 --device cpu --threads "$connections" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
url=""
for _ in $(seq 1 600); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$log" | head -1 || true)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "load_test_serve: serve did not start" >&2; cat "$log" >&2; exit 1; }

# wrk's Lua: every request POSTs the image's bytes; done() prints the figures (wrk counts an
# answer of 400 or more under errors.status).
cat >"$work/post_image.lua" <<LUA
local f = assert(io.open("$image", "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "image/png"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("requests: %d in %.1f s: %.1f images/s\n", summary.requests,
    summary.duration / 1e6, summary.requests / (summary.duration / 1e6)))
  io.write(string.format("latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("errors: connect %d, read %d, write %d, timeout %d, non-2xx %d\n",
    e.connect, e.read, e.write, e.timeout, e.status))
end
LUA

rss() { awk '/VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$server/status"; }
curl -sf -H 'Content-Type: image/png' --data-binary "@$image" "${url}api/predict" >/dev/null  # warm
echo "serve: $checkpoint, image: $image ($(stat -c %s "$image") bytes), $connections connections, ${seconds} s, $(nproc) cores"
echo "rss at start: $(rss)"
(sleep $((seconds / 2)); echo "rss at middle: $(rss)") &
sampler=$!
wrk -t 2 -c "$connections" -d "${seconds}s" --timeout 10s -s "$work/post_image.lua" "${url}api/predict" |
  grep -E '^(requests|latency|errors):'
wait "$sampler"
echo "rss at end: $(rss)"
