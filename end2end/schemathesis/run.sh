#!/usr/bin/env bash
# Fuzzes the REST API with schemathesis (PyPI, installed into
# tools/schemathesis-venv by `scripts/setup.sh --schemathesis`) over the
# OpenAPI document the server itself serves at /api/openapi.json.
#
#   end2end/schemathesis/run.sh LULL_BIN [sqlite|postgres]
#
# Starts a fresh `lull serve` in token mode on a throwaway database (a temp
# SQLite file, or a new PostgreSQL database made from LULL_TEST_POSTGRES_URL,
# an admin URL) and runs schemathesis twice: every operation in token mode
# with an operator token (so the writes are exercised: pausing, resuming and
# fleet actions against a throwaway server are fine), then — the server
# restarted in local mode on the same database — the worker operations,
# which only local mode lets a fuzzer reach with any `workerId`. Fails on any 5xx answer or any
# answer that does not conform to the document (status code, content type,
# headers, body schema).
#
# Bounded: LULL_FUZZ_EXAMPLES test cases per operation and phase (default
# 25); both stores together stay well under 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BIN="${1:?usage: $0 LULL_BIN [sqlite|postgres]}"
STORE="${2:-sqlite}"
ST="${SCHEMATHESIS:-tools/schemathesis-venv/bin/schemathesis}"
EXAMPLES="${LULL_FUZZ_EXAMPLES:-25}"
[ -x "$BIN" ] || { echo "fuzz-api: no lull binary at $BIN" >&2; exit 2; }
[ -x "$ST" ] || { echo "fuzz-api: no schemathesis at $ST: run scripts/setup.sh --schemathesis" >&2; exit 2; }
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
ST="$(cd "$(dirname "$ST")" && pwd)/$(basename "$ST")"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/lull-fuzz.XXXXXX")"
PID=""
DROP=""
cleanup() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  if [ -n "$DROP" ]; then
    psql "$ADMIN" -qAtc "DROP DATABASE IF EXISTS \"$DROP\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

case "$STORE" in
  sqlite) export DATABASE_URL="sqlite://$TMP/lull.db" ;;
  postgres)
    ADMIN="${LULL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    DROP="lull_fuzz_$(date +%s)_$$"
    psql "$ADMIN" -qAtc "CREATE DATABASE \"$DROP\"" >/dev/null
    export DATABASE_URL="${ADMIN%/*}/$DROP"
    ;;
  *) echo "fuzz-api: store must be sqlite or postgres, not $STORE" >&2; exit 2 ;;
esac
export NO_COLOR=1

# Creating the token runs the migrations too.
OPERATOR="$("$BIN" token create --name fuzz-operator --role operator)"

# Starts `lull serve` with LULL_AUTH=$1 on the database; sets PID and BASE.
serve() {
  LULL_AUTH="$1" "$BIN" serve --listen 127.0.0.1:0 --static-dir /nonexistent >"$TMP/server-$1.log" 2>&1 &
  PID=$!
  BASE=""
  for _ in $(seq 1 600); do
    BASE="$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$TMP/server-$1.log" | head -n1)"
    [ -n "$BASE" ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/server-$1.log" >&2; echo "fuzz-api: lull serve exited" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$BASE" ] || { cat "$TMP/server-$1.log" >&2; echo "fuzz-api: lull serve did not start within 60 s" >&2; exit 1; }
  echo "fuzz-api: lull serve ($STORE, LULL_AUTH=$1) at $BASE"
}

stop() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
  if grep -q "panicked" "$TMP/server-$1.log"; then
    grep -n -A5 "panicked" "$TMP/server-$1.log" >&2
    echo "fuzz-api: the server panicked" >&2
    rc=1
  fi
}

# The worker-only operations (the Work access rule). A worker token acts
# only as its own worker, so a fuzzed `workerId` never gets past 403 in
# token mode: these are fuzzed again in local mode, where any worker id is
# accepted and the claim, heartbeat and result paths are reached.
WORK_PATHS='^/api/(queue/jobs/(claim|batch-complete|batch-fail|[^/]+/(heartbeat|complete|fail))|workers/(register|results|[^/]+/heartbeat))$'

fuzz() {
  # The event stream never ends by itself: it is not something a
  # request/response fuzzer can check (its headers are covered by
  # server/tests). One worker: with two, Hypothesis' shared lambda-source
  # cache races and schemathesis reports spurious runtime errors.
  # Run from the temp directory: schemathesis keeps a cache where it runs.
  (cd "$TMP" && "$ST" --no-color run "$BASE/api/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --exclude-path /api/system/worker-pause/stream \
    --phases examples,coverage,fuzzing \
    --max-examples "$EXAMPLES" \
    --seed "${LULL_FUZZ_SEED:-15}" \
    --workers 1 \
    --request-timeout 15 \
    --generation-database none \
    --generation-with-security-parameters false \
    "$@")
}

rc=0
serve token
echo "== schemathesis ($STORE): every operation, token mode, operator token"
fuzz --header "Authorization: Bearer $OPERATOR" || rc=1
stop token
serve disabled
echo "== schemathesis ($STORE): the worker operations, local mode"
fuzz --include-path-regex "$WORK_PATHS" || rc=1
stop disabled
exit "$rc"
