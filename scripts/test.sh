#!/usr/bin/env bash
# README command 2: run EVERY test.
#
#   bash scripts/test.sh
#
# Stages: setup (all tools, PostgreSQL, the Python MCP client) -> rustfmt ->
# clippy (host workspace and the wasm32 frontend) -> cargo test on SQLite and
# PostgreSQL (with the `lull tui` end-to-end test in tmux,
# server/tests/tui_tmux.rs) -> release builds (trunk + server; the release
# server embeds the dashboard, so trunk goes first) -> Playwright on the
# release binary alone in an empty directory -> docs -> the MCP end-to-end
# test (Python SDK) on both stores -> schemathesis over /api/openapi.json on
# both stores -> Playwright on SQLite -> Playwright on PostgreSQL.
#
# PostgreSQL: postgres://postgres@127.0.0.1:5432 with trust auth. Under CI=true
# it is mandatory; elsewhere, when it cannot be had, the PostgreSQL tests are
# skipped loudly. Override the Rust tests' server with LULL_TEST_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/setup.sh
source scripts/setup.sh

# Test-stage output is also kept here, to count the tests for the summary.
LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/lull-test.XXXXXX")"

STAGE_NAMES=()
STAGE_RESULTS=()
CURRENT_STAGE=""
CURRENT_STAGE_START=0
RUN_START=$SECONDS

stage() {
  CURRENT_STAGE="$1"
  CURRENT_STAGE_START=$SECONDS
  printf '\n==================================================================\n'
  printf '== %s\n' "$1"
  printf '==================================================================\n'
}

stage_done() {
  STAGE_NAMES+=("$CURRENT_STAGE")
  STAGE_RESULTS+=("${1:-ok} ($((SECONDS - CURRENT_STAGE_START))s)")
  CURRENT_STAGE=""
}

stage_skip() {
  STAGE_NAMES+=("$1")
  STAGE_RESULTS+=("SKIPPED: $2")
  printf '\n== %s: SKIPPED (%s)\n' "$1" "$2" >&2
}

# Adds up "test result: ok. N passed; N failed; N ignored" (cargo test) and
# "  N passed (…)" / "  N failed" / "  N skipped" / "  N flaky" (Playwright's
# list reporter) over the logs of the stages that ran.
count_tests() {
  local passed=0 failed=0 skipped=0 p f k f_
  if compgen -G "$LOG_DIR/cargo-*.log" >/dev/null; then
    read -r p f k < <(awk '/^test result: /{
        for (i = 1; i <= NF; i++) {
          if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i; if ($(i+1) ~ /^ignored;/) k += $i
        }
      } END { print p+0, f+0, k+0 }' "$LOG_DIR"/cargo-*.log)
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
  fi
  # pytest's closing line: "N passed, N failed, N skipped in 3.2s".
  for f_ in "$LOG_DIR"/pytest-*.log; do
    [ -f "$f_" ] || continue
    read -r p f k < <(awk '/ in [0-9.]+s/{
        for (i = 1; i <= NF; i++) {
          if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^skipped/) k += $i
        }
      } END { print p+0, f+0, k+0 }' "$f_")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
  done
  for f_ in "$LOG_DIR"/e2e-*.log; do
    [ -f "$f_" ] || continue
    read -r p f k < <(awk '/^ +[0-9]+ (passed|flaky)( |$)/{p += $1}
        /^ +[0-9]+ (failed|interrupted)( |$)/{f += $1}
        /^ +[0-9]+ (skipped|did not run)( |$)/{k += $1}
        END { print p+0, f+0, k+0 }' "$f_")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
  done
  echo "$passed $failed $skipped"
}

summary() {
  local rc=$?
  # A stage still open here did not finish: never report that as a pass,
  # whatever status the shell was left with.
  if [ -n "$CURRENT_STAGE" ] && [ "$rc" -eq 0 ]; then rc=1; fi
  if [ -n "$CURRENT_STAGE" ]; then
    STAGE_NAMES+=("$CURRENT_STAGE")
    STAGE_RESULTS+=("FAILED (exit $rc, after $((SECONDS - CURRENT_STAGE_START))s)")
  fi
  printf '\n==================================================================\n'
  printf '== summary\n'
  printf '==================================================================\n'
  local i
  for i in "${!STAGE_NAMES[@]}"; do
    printf '  %-58s %s\n' "${STAGE_NAMES[$i]}" "${STAGE_RESULTS[$i]}"
  done
  if [ "$rc" -eq 0 ]; then
    printf 'test.sh: all stages passed in %ss\n' "$((SECONDS - RUN_START))"
  else
    printf 'test.sh: FAILED (exit %s) after %ss\n' "$rc" "$((SECONDS - RUN_START))"
  fi
  local passed failed skipped
  read -r passed failed skipped < <(count_tests)
  rm -rf "$LOG_DIR"
  # Closing line: cargo test + Playwright, all stages that ran.
  printf 'tests: %s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
}
trap summary EXIT
# Stopped by a signal: exit with its status so the summary says FAILED (the
# EXIT trap alone saw status 0 and printed "all stages passed").
trap 'exit 143' TERM
trap 'exit 130' INT

# ------------------------------------------------------------------ setup
stage "setup"
lull_setup_all
stage_done

# ------------------------------------------------------------------ lint
stage "cargo fmt --all --check"
cargo fmt --all --check
stage_done

stage "cargo clippy --workspace --all-targets"
cargo clippy --workspace --all-targets -- -D warnings
stage_done

# On the host the frontend crate is an empty stub: lint the real (wasm32)
# dashboard code as well, with the features Trunk builds it with.
stage "cargo clippy -p frontend (wasm32)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
stage_done

# ------------------------------------------------------------------ Rust tests
if [ "${LULL_PG_AVAILABLE:-0}" = "1" ]; then
  export LULL_TEST_POSTGRES_URL="${LULL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  stage "cargo test --workspace (SQLite + PostgreSQL)"
else
  # setup.sh has already exited under CI=true when PostgreSQL is missing.
  unset LULL_TEST_POSTGRES_URL
  printf '\n!! PostgreSQL unavailable: LULL_TEST_POSTGRES_URL unset, the PostgreSQL Rust tests SKIP !!\n' >&2
  stage "cargo test --workspace (SQLite only; PostgreSQL SKIPPED)"
fi
cargo test --workspace 2>&1 | tee "$LOG_DIR/cargo-test.log"
stage_done

# ------------------------------------------------------------------ release builds
stage "trunk build --release"
trunk build --release
stage_done

stage "cargo build --release -p server -p worker"
cargo build --release -p server -p worker
stage_done

# The single binary: the release `lull` copied into an empty directory serves
# the dashboard embedded in it (no dist/ anywhere); Playwright smoke + headers.
stage "playwright: release lull alone in an empty dir (embedded dashboard)"
(cd end2end && npx --no-install playwright test -c playwright.embedded.config.ts) 2>&1 | tee "$LOG_DIR/e2e-embedded.log"
stage_done

# ------------------------------------------------------------------ docs
# Every bash block of the quickstart, the runbook, auth, fleet, queues and
# operations pages, against a fresh release server, on each store: the documented
# commands stay true.
stage "docs: quickstart + runbook snippets (SQLite)"
bash scripts/check-docs.sh docs/quickstart.md
bash scripts/check-docs.sh docs/runbook.md
bash scripts/check-docs.sh docs/auth.md
bash scripts/check-docs.sh docs/fleet.md
bash scripts/check-docs.sh docs/queues.md
bash scripts/check-docs.sh docs/operations.md
bash scripts/check-docs.sh docs/observability.md
bash scripts/check-docs.sh docs/mcp.md
stage_done
if [ "${LULL_PG_AVAILABLE:-0}" = "1" ]; then
  stage "docs: quickstart + runbook snippets (PostgreSQL)"
  bash scripts/check-docs.sh docs/quickstart.md "${LULL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  bash scripts/check-docs.sh docs/runbook.md "${LULL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  bash scripts/check-docs.sh docs/auth.md "${LULL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  bash scripts/check-docs.sh docs/fleet.md "${LULL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  bash scripts/check-docs.sh docs/queues.md "${LULL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  bash scripts/check-docs.sh docs/operations.md "${LULL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  bash scripts/check-docs.sh docs/observability.md "${LULL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  bash scripts/check-docs.sh docs/mcp.md "${LULL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  stage_done
else
  stage_skip "docs (PostgreSQL)" "PostgreSQL unavailable"
fi

# ------------------------------------------------------------------ MCP client
# A client we did not write: the official Python MCP SDK (tools/venv, from
# setup) against a real `lull serve` in token mode, on each store.
stage "MCP end-to-end, Python SDK (SQLite)"
LULL_BIN=./target/release/lull LULL_MCP_DB=sqlite tools/venv/bin/python -m pytest -q end2end/mcp 2>&1 | tee "$LOG_DIR/pytest-mcp-sqlite.log"
stage_done
if [ "${LULL_PG_AVAILABLE:-0}" = "1" ]; then
  stage "MCP end-to-end, Python SDK (PostgreSQL)"
  LULL_BIN=./target/release/lull LULL_MCP_DB=postgres tools/venv/bin/python -m pytest -q end2end/mcp 2>&1 | tee "$LOG_DIR/pytest-mcp-postgres.log"
  stage_done
else
  stage_skip "MCP end-to-end (PostgreSQL)" "PostgreSQL unavailable"
fi

# ------------------------------------------------------------------ API fuzzing
# schemathesis (tools/schemathesis-venv, from setup) over the server's own
# /api/openapi.json against a fresh release `lull serve` in token mode, on
# each store: 0 server errors, every answer conforming to the document.
stage "schemathesis over /api/openapi.json (SQLite)"
bash end2end/schemathesis/run.sh ./target/release/lull sqlite
stage_done
if [ "${LULL_PG_AVAILABLE:-0}" = "1" ]; then
  stage "schemathesis over /api/openapi.json (PostgreSQL)"
  bash end2end/schemathesis/run.sh ./target/release/lull postgres
  stage_done
else
  stage_skip "schemathesis (PostgreSQL)" "PostgreSQL unavailable"
fi

# ------------------------------------------------------------------ end-to-end
run_e2e() {
  local db="$1"
  stage "playwright (LULL_E2E_DB=$db)"
  (cd end2end && LULL_E2E_DB="$db" npx --no-install playwright test) 2>&1 | tee "$LOG_DIR/e2e-$db.log"
  stage_done
}

run_e2e sqlite
if [ "${LULL_PG_AVAILABLE:-0}" = "1" ]; then
  run_e2e postgres
else
  stage_skip "playwright (LULL_E2E_DB=postgres)" "PostgreSQL unavailable"
fi
