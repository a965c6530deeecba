#!/usr/bin/env bash
# Issue 9's API acceptance: Schemathesis (PyPI) against the served OpenAPI document, at least
# 1,000 generated requests over every route (write routes included, with an API key): no 5xx, no
# response that breaks the schema.
#
#   scripts/schemathesis.sh [INDEX_DIR]
#
# The server runs on a temporary COPY of INDEX_DIR (uploads and removals change it), or, without
# one, on a fresh index of samples/images; the copy is deleted at the end. Steps: build kestrel;
# make the index; start `kestrel serve --port 0` with a random API key ($KESTREL_API_KEY); wait for
# /readyz; run `schemathesis run URL/openapi.json` with every check, MAX_EXAMPLES cases per
# operation (default 150; cases go on after a failure) and the key on every request; count the
# requests it sent (from its HAR report) and fail below MIN_REQUESTS (1000); stop the server
# (SIGTERM) whatever happens.
# Settings by environment: SCHEMATHESIS (default ~/refenv/bin/schemathesis; installed with
# `~/refenv/bin/pip install schemathesis`, or any venv outside the repo), CONFIG (release|debug,
# default release), MAX_EXAMPLES (150), MIN_REQUESTS (1000), CHECKS (all), SEED (1), WORKERS (2),
# OUT (report folder, default a temporary one, kept).
# Exit status: Schemathesis's (non-zero on any failed check), 3 when too few requests were sent,
# 2 when the server did not come up.
set -euo pipefail
cd "$(dirname "$0")/.."
SCHEMATHESIS=${SCHEMATHESIS:-$HOME/refenv/bin/schemathesis}
PYTHON=$(dirname "$SCHEMATHESIS")/python3
[ -x "$PYTHON" ] || PYTHON=python3
CONFIG=${CONFIG:-release}
MAX_EXAMPLES=${MAX_EXAMPLES:-150}
MIN_REQUESTS=${MIN_REQUESTS:-1000}
CHECKS=${CHECKS:-all}
# positive_data_acceptance expects every schema-valid request to succeed; what a schema cannot say
# is refused by design (bytes that are not a JPEG or PNG image: 400 bad_image; weighted terms that
# sum to the zero vector: 400 bad_request). negative_data_rejection expects every schema-violating
# request to be refused; the server is lenient where that is harmless (a null field counts as
# absent), and Schemathesis cannot send some of its mutations through multipart/form-data (a
# `metadata` field mutated into an array is sent as no field at all, a valid request). Every
# response check (not_a_server_error, status_code_conformance, content_type_conformance,
# response_headers_conformance, response_schema_conformance...) still runs.
EXCLUDE_CHECKS=${EXCLUDE_CHECKS:-positive_data_acceptance,negative_data_rejection}
SEED=${SEED:-1}
WORKERS=${WORKERS:-2}
[ -x "$SCHEMATHESIS" ] || { echo "no Schemathesis at $SCHEMATHESIS: ~/refenv/bin/pip install schemathesis (or set SCHEMATHESIS)" >&2; exit 2; }
"$SCHEMATHESIS" --version

WORK=$(mktemp -d /tmp/kestrel-schemathesis.XXXXXX)
OUT=${OUT:-$WORK/report}
mkdir -p "$OUT"
SERVER=""
cleanup() {
    if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then
        kill -TERM "$SERVER" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$WORK/index"
}
trap cleanup EXIT

echo "==> building kestrel ($CONFIG)"
swift build -c "$CONFIG" --product kestrel 2>&1 | grep -E "error:|Build complete" || true
BIN=$(swift build -c "$CONFIG" --show-bin-path)
[ -x "$BIN/kestrel" ] || { echo "build failed" >&2; exit 2; }

if [ $# -ge 1 ]; then
    echo "==> copying $1 to $WORK/index"
    cp -a "$1" "$WORK/index"
else
    echo "==> indexing samples/images into $WORK/index"
    "$BIN/kestrel" index add --index "$WORK/index" samples/images > /dev/null
fi

KEY=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
LOG="$WORK/serve.log"
echo "==> kestrel serve --index $WORK/index --port 0 (API key from KESTREL_API_KEY)"
KESTREL_API_KEY="$KEY" "$BIN/kestrel" serve --index "$WORK/index" --port 0 > "$WORK/serve.out" 2> "$LOG" &
SERVER=$!
URL=""
for _ in $(seq 1 600); do
    URL=$(grep -hoE 'http://[^ /]+:[0-9]+' "$LOG" "$WORK/serve.out" 2>/dev/null | head -1 || true)
    [ -n "$URL" ] && break
    kill -0 "$SERVER" 2>/dev/null || { echo "kestrel serve exited:" >&2; cat "$LOG" >&2; exit 2; }
    sleep 0.2
done
[ -n "$URL" ] || { echo "kestrel serve printed no address within 120 s" >&2; cat "$LOG" >&2; exit 2; }
for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz" || true)" = 200 ] && break
    sleep 0.2
done
echo "    $URL; /openapi.json: $(curl -s "$URL/openapi.json" | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("openapi"), "with", sum(len([m for m in v if m in ("get","post","put","delete","patch")]) for v in d.get("paths",{}).values()), "operations")')"

echo "==> schemathesis run $URL/openapi.json --checks $CHECKS --exclude-checks ${EXCLUDE_CHECKS:-none} --max-examples $MAX_EXAMPLES --seed $SEED"
status=0
"$SCHEMATHESIS" run "$URL/openapi.json" --url "$URL" \
    --checks "$CHECKS" ${EXCLUDE_CHECKS:+--exclude-checks "$EXCLUDE_CHECKS"} --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers "$WORKERS" \
    --header "Authorization: Bearer $KEY" \
    --request-timeout 30 --continue-on-failure \
    --report har,junit --report-dir "$OUT" --report-har-path "$OUT/requests.har" --report-junit-path "$OUT/junit.xml" \
    || status=$?

requests=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["log"]["entries"]))' "$OUT/requests.har" 2>/dev/null || echo 0)
fives=$("$PYTHON" -c 'import json,sys; print(sum(1 for e in json.load(open(sys.argv[1]))["log"]["entries"] if e["response"]["status"] >= 500))' "$OUT/requests.har" 2>/dev/null || echo "?")
echo "==> $requests requests sent, $fives answered 5xx; Schemathesis exit status $status; reports in $OUT"
if ! kill -0 "$SERVER" 2>/dev/null; then echo "the server died during the run:" >&2; tail -20 "$LOG" >&2; exit 2; fi
[ "$status" -ne 0 ] && exit "$status"
[ "$requests" -ge "$MIN_REQUESTS" ] || { echo "only $requests requests (< $MIN_REQUESTS): raise MAX_EXAMPLES" >&2; exit 3; }
echo "==> passed"
