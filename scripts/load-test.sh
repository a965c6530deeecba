#!/usr/bin/env bash
# Issue 9's load acceptance: a 100,000-item index, 8 concurrent clients issuing text searches for
# 60 s on loopback against `kestrel serve`; zero errors, throughput, p50/p95/p99/max latency, the
# index type and its recall@10 against exact search on the same queries (docs/benchmarks.md, "Service").
#
#   scripts/load-test.sh [CACHE_DIR]        (default /tmp/kestrel-load)
#
# 1. builds kestrel and kestrel-bench (release);
# 2. makes the synthetic index once (`kestrel-bench synth-index`; kept in CACHE_DIR/index-ITEMS-TYPE
#    with its build report beside it, reused by later runs);
# 3. starts `kestrel serve --port 0` on it (the port is read from what serve prints on stderr) and
#    waits for /readyz;
# 4. `kestrel-bench load --recall`: recall@10 of the served index against an exact scan on 200 of
#    the texts, then WARMUP s of load, then SECONDS_ s measured with CLIENTS clients;
# 5. stops the server (SIGTERM) whatever happens.
# Settings by environment: ITEMS (100000) INDEX_TYPE (auto) CLIENTS (8) DURATION (60) WARMUP (5) K (10).
# Exit status: the load's (1 on any error), 2 when the server did not come up.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${1:-/tmp/kestrel-load}
ITEMS=${ITEMS:-100000}
INDEX_TYPE=${INDEX_TYPE:-auto}
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-60}
WARMUP=${WARMUP:-5}
K=${K:-10}
mkdir -p "$CACHE"

echo "==> building kestrel and kestrel-bench (release)"
swift build -c release --product kestrel 2>&1 | grep -E "error:|Compiling|Build complete" | grep -v Compiling || true
swift build -c release --product kestrel-bench 2>&1 | grep -E "error:|Build complete" || true
BIN=$(swift build -c release --show-bin-path)
[ -x "$BIN/kestrel" ] && [ -x "$BIN/kestrel-bench" ] || { echo "build failed" >&2; exit 2; }

INDEX="$CACHE/index-$ITEMS-${INDEX_TYPE//[^A-Za-z0-9]/_}"
REPORT="$INDEX.build.txt"
if [ ! -s "$REPORT" ]; then
    echo "==> making the synthetic index: $ITEMS items, index type $INDEX_TYPE -> $INDEX"
    rm -rf "$INDEX"
    "$BIN/kestrel-bench" synth-index --out "$INDEX" --items "$ITEMS" --index-type "$INDEX_TYPE" > "$REPORT.tmp"
    mv "$REPORT.tmp" "$REPORT"
else
    echo "==> reusing $INDEX"
fi
cat "$REPORT"

LOG="$CACHE/serve.log"
echo "==> kestrel serve --index $INDEX --port 0"
"$BIN/kestrel" serve --index "$INDEX" --port 0 2> "$LOG" > "$CACHE/serve.out" &
SERVER=$!
stop_server() {
    if kill -0 "$SERVER" 2>/dev/null; then
        kill -TERM "$SERVER" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$SERVER" 2>/dev/null && { echo "server did not stop on SIGTERM within 10 s: killing it" >&2; kill -KILL "$SERVER" 2>/dev/null || true; }
    fi
    wait "$SERVER" 2>/dev/null || true
}
trap stop_server EXIT

URL=""
for _ in $(seq 1 600); do
    URL=$(grep -hoE 'http://[^ /]+:[0-9]+' "$LOG" "$CACHE/serve.out" 2>/dev/null | head -1 || true)
    [ -n "$URL" ] && break
    kill -0 "$SERVER" 2>/dev/null || { echo "kestrel serve exited:" >&2; cat "$LOG" >&2; exit 2; }
    sleep 0.2
done
[ -n "$URL" ] || { echo "kestrel serve printed no address within 120 s:" >&2; cat "$LOG" >&2; exit 2; }
echo "    listening on $URL"
for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz" || true)" = 200 ] && break
    sleep 0.2
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz" || true)" = 200 ] || { echo "/readyz never answered 200" >&2; cat "$LOG" >&2; exit 2; }

echo "==> commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Package.swift || echo ' (with local changes)'); $(uptime)"
status=0
"$BIN/kestrel-bench" load --url "$URL" --clients "$CLIENTS" --seconds "$DURATION" --warmup "$WARMUP" --k "$K" \
    --recall --index "$INDEX" --json "$CACHE/load-result.json" || status=$?
echo "==> figures in $CACHE/load-result.json; server log $LOG"
exit $status
